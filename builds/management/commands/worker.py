"""`manage.py worker`: register an engine host and become the Celery worker that serves it.

One worker serves one engine host: it consumes that host's build queue (and the shared
maintenance queue), and runs at most `--concurrency` builds at once, which is the host's
limit on concurrent builds.
"""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from builds.models import EngineHost
from builds.services.engines import (
    connect_host,
    refresh_host,
    register_host,
    remove_ended_build_containers,
)
from runtimes.engine import ENGINE_HOST_RUNTIMES
from runtimes.errors import XcargoError


class Command(BaseCommand):
    help = "Register this machine's engine as an engine host and run its Celery worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=settings.XCARGO_DEFAULT_ENGINE_HOST)
        parser.add_argument("--engine-url", default="", help="empty: the local engine")
        parser.add_argument("--runtime", choices=ENGINE_HOST_RUNTIMES, default="auto")
        parser.add_argument("--concurrency", type=int, default=2, help="builds at once")

    def handle(
        self,
        *args: object,
        host: str,
        engine_url: str,
        runtime: str,
        concurrency: int,
        **options: object,
    ) -> None:
        if not 1 <= concurrency <= 64:
            raise CommandError("--concurrency must be between 1 and 64")
        try:
            # The engine must answer before the host is registered: a host no worker serves
            # would collect builds that never start.
            engine = connect_host(EngineHost(engine_url=engine_url, runtime=runtime))
            engine_host = refresh_host(
                register_host(
                    name=host,
                    engine_url=engine_url,
                    runtime=runtime,
                    max_concurrent_builds=concurrency,
                ),
                engine,
            )
            removed = remove_ended_build_containers(engine)
        except XcargoError as error:
            raise CommandError(str(error)) from error
        if removed:
            builds = ", ".join(f"#{build_id}" for build_id in removed)
            self.stderr.write(f"removed the containers that ended builds left behind: {builds}")
        self.stderr.write(
            f"worker for engine host {host!r}: {engine_host.kind} {engine_host.version}, "
            f"queue {engine_host.queue}, {concurrency} build(s) at once"
        )
        queues = f"{engine_host.queue},{settings.CELERY_TASK_DEFAULT_QUEUE}"
        command = [
            sys.executable, "-m", "celery", "-A", "xcargo_web", "worker",
            "--queues", queues, "--concurrency", str(concurrency),
            "--hostname", f"{host}@%h", "--loglevel", "INFO",
        ]  # fmt: skip
        os.execv(sys.executable, command)
