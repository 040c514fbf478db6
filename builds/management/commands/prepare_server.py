"""`manage.py prepare_server`: what `make run` needs before the server starts, idempotently:
an admin account (its password made at random and kept in a 0600 file, never printed) and the
example project, the fixture crate with an aarch64 target.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from builds.models import Project
from builds.services.projects import create_project

EXAMPLE_CRATE = settings.BASE_DIR / "tests" / "fixtures" / "hello-cross"
EXAMPLE_TARGET = "aarch64-unknown-linux-gnu"


class Command(BaseCommand):
    help = "Make the admin account and the example project, unless they exist."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--admin", default="admin", help="the admin's user name")
        parser.add_argument(
            "--password-file",
            type=Path,
            default=settings.VAR_DIR / "admin-password",
            help="where the admin's generated password is kept",
        )
        parser.add_argument("--no-example", action="store_true", help="skip the example project")

    def handle(
        self, *args: object, admin: str, password_file: Path, no_example: bool, **options: object
    ) -> None:
        users = get_user_model().objects
        if not users.filter(username=admin).exists():
            password = secrets.token_urlsafe(18)
            descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(descriptor, 0o600)  # a file left from before may be readable by others
            with os.fdopen(descriptor, "w") as handle:
                handle.write(password + "\n")
            users.create_superuser(admin, password=password)
            self.stderr.write(
                f"made the admin account {admin!r}; its password is in {password_file}"
            )
        if not no_example and not Project.objects.filter(slug="hello-cross").exists():
            create_project(
                name="hello-cross", local_path=str(EXAMPLE_CRATE), triples=[EXAMPLE_TARGET]
            )
            self.stderr.write(f"registered the example project hello-cross ({EXAMPLE_TARGET})")
