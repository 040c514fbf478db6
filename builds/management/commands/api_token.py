"""`manage.py api_token USER [--create] [--revoke]`: make (or revoke) a user's API token."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds.services.tokens import api_user, issue_token, revoke_token


class Command(BaseCommand):
    help = "Make a new API token for USER (replacing the old one) and print it, or revoke it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--revoke", action="store_true", help="remove the user's token")
        parser.add_argument(
            "--create",
            action="store_true",
            help="make the user first when missing (an account for scripts: no password)",
        )

    def handle(
        self, *args: object, username: str, revoke: bool, create: bool, **options: object
    ) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None and create and not revoke:
            user = api_user(username=username)
            self.stderr.write(f"made the user {username!r} (no password: it signs in by token)")
        if user is None:
            raise CommandError(
                f"no user named {username!r}: add --create to make one for scripts, or "
                "create a person's account with createsuperuser"
            )
        if revoke:
            removed = revoke_token(user=user)
            self.stderr.write("token revoked" if removed else "the user had no token")
            return
        self.stdout.write(issue_token(user=user))
