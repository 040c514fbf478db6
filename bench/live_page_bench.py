"""Bytes a build page downloads per second while a build with a long log runs: the live part
as it was polled before (its state and facts with the log's last 300 lines, every second)
against now (a small status part, and only the log lines after the last one the page has).

The build is made in a scratch database; the pages are real responses of the dashboard.

    .venv/bin/python bench/live_page_bench.py [--lines N] [--new-per-second N]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

from build_logs import add_log_lines

REPOSITORY = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=5000, help="lines already in the log")
    parser.add_argument("--new-per-second", type=int, default=20, help="lines cargo adds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xcargo-bench-") as var:
        os.environ.update(
            XCARGO_VAR_DIR=var, DJANGO_SETTINGS_MODULE="xcargo_web.settings",
            XCARGO_ALLOWED_HOSTS="testserver",
        )  # fmt: skip
        os.environ.pop("DATABASE_URL", None)
        sys.path.insert(0, str(REPOSITORY))
        measure(args.lines, args.new_per_second)


def measure(lines: int, new_per_second: int) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from builds.models import Build, EngineHost
    from builds.services.projects import create_project

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench", password="bench-password")
    host = EngineHost.objects.create(name="bench", queue="xcargo.builds.bench")
    project = create_project(
        name="hello-cross", local_path=str(REPOSITORY / "tests/fixtures/hello-cross"),
        triples=["aarch64-unknown-linux-gnu"],
    )  # fmt: skip
    target = project.targets.get()
    build = Build.objects.create(
        project=project, target=target, engine_host=host, state=Build.State.BUILDING
    )

    add_log_lines(build.pk, 0, lines)
    client = Client()
    client.force_login(user)
    htmx = {"HX-Request": "true"}
    page = client.get(build.get_absolute_url()).content.decode()
    tail = re.search(r'<pre id="log"[^>]*>.*?</pre>', page, re.S).group(0).encode()
    status = len(client.get(build.get_absolute_url(), headers=htmx).content)
    add_log_lines(build.pk, lines, new_per_second)
    log_url = f"{reverse('build-log-lines', args=[build.pk])}?after={lines}"
    appended = len(client.get(log_url, headers=htmx).content)
    idle_url = f"{reverse('build-log-lines', args=[build.pk])}?after={lines + new_per_second}"
    idle = len(client.get(idle_url, headers=htmx).content)

    before = status + len(tail)
    now = status + appended
    print(f"a running build with {lines} log lines, {new_per_second} new lines a second")
    print("\n| poll, every second | bytes | ratio |")
    print("|---|---|---|")
    print(f"| before: live part with the 300-line log tail | {before} | 1.00x |")
    print(f"| now: status part + {new_per_second} new log lines | {now} | {now / before:.2f}x |")
    print(f"| now, no new line: status part + empty log poll | {status + idle} "
          f"| {(status + idle) / before:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
