"""The server path, measured beside the CLI on this machine.

1. A no-change rebuild of the example crate for aarch64 through the server: `POST /api/builds`
   to gunicorn, the build queued on Redis, run by the Celery worker, polled through the API
   until it ends, the artifact downloaded. Beside it, alternating, the same no-change rebuild
   by the `xcargo build` process. Printed: medians and the ratio server / CLI, and where the
   server's time goes (queue wait, the worker's build, the rest).
2. The build list page's latency with 10 000 builds in the database: the dashboard's /builds/
   (first page, a deep page, a filter) and GET /api/builds, median of repeated requests.

Everything runs against its own server on a scratch SQLite database and Redis database 14;
gunicorn, the worker and Redis are real.

    .venv/bin/python bench/server_bench.py [--repeat N] [--builds N] [--target TRIPLE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests
import serving
from serving import PYTHON, ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "hello-cross"
XCARGO = str(Path(PYTHON).parent / "xcargo")
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
POLL_SECONDS = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rebuilds per side")
    parser.add_argument("--builds", type=int, default=10_000, help="builds in the database")
    parser.add_argument("--requests", type=int, default=20, help="requests per page measured")
    parser.add_argument("--target", default="aarch64-unknown-linux-gnu")
    args = parser.parse_args()
    with running_server() as server:
        rebuilds(args, server.token, server.scratch)
        list_latency(args, server.environment)


@dataclass(frozen=True)
class Server:
    """A bench's own server: the admin's API token, its scratch directory, its environment."""

    token: str
    scratch: Path
    environment: dict[str, str]


@contextmanager
def running_server() -> Iterator[Server]:
    """Start a server of its own (scratch SQLite database, Redis database 14, gunicorn and
    the worker) for the time of the block, then stop it and remove its scratch directory.
    """
    scratch = Path(tempfile.mkdtemp(prefix="xcargo-server-bench-"))
    environment = {
        **os.environ,
        "XCARGO_VAR_DIR": str(scratch / "var"),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
        "DJANGO_SETTINGS_MODULE": "xcargo_web.settings",
    }
    environment.pop("DATABASE_URL", None)
    os.environ.update(environment)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        token = _prepare(environment)
        processes = _start_server(environment, scratch)
        yield Server(token, scratch, environment)
    finally:
        serving.stop(processes)
        shutil.rmtree(scratch, ignore_errors=True)


def _manage(environment: dict[str, str], *arguments: str) -> str:
    completed = subprocess.run(
        [PYTHON, "manage.py", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


def _prepare(environment: dict[str, str]) -> str:
    _manage(environment, "migrate", "--noinput")
    _manage(environment, "prepare_server")
    return _manage(environment, "api_token", "admin")


def _start_server(environment: dict[str, str], scratch: Path) -> list[subprocess.Popen[bytes]]:
    logs = scratch / "logs"
    commands = {
        "worker": [PYTHON, "manage.py", "worker", "--host", "bench"],
        "web": serving.gunicorn_command(PORT),
    }
    processes = serving.start(commands, environment, logs)
    serving.wait_until(
        lambda: b" ready." in (logs / "worker.log").read_bytes() and serving.answers(BASE),
        f"the server did not start; see {logs}",
    )
    return processes


def _server_build(session: requests.Session, target: str) -> tuple[float, dict]:
    """API trigger → finished → artifact downloaded; seconds and the build's final JSON."""
    started = time.perf_counter()
    created = session.post(
        f"{BASE}/api/builds", json={"project": "hello-cross", "target": target}, timeout=30
    )
    created.raise_for_status()
    url = created.json()["url"]
    while True:
        build = session.get(url, timeout=30).json()
        if build["state"] in ("finished", "failed", "cancelled"):
            break
        time.sleep(POLL_SECONDS)
    if not build["success"]:
        raise SystemExit(f"server build failed: {build['error_message']}")
    for artifact in build["artifacts"]:
        session.get(artifact["url"], timeout=60).raise_for_status()
    return time.perf_counter() - started, build


def _cli_build(project: Path, target: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [XCARGO, "build", "--target", target],
        cwd=project,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _seconds_between(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def rebuilds(args: argparse.Namespace, token: str, scratch: Path) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    project = scratch / "cli" / "hello-cross"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("target"))
    print(f"warming both caches ({args.target}, first builds)", flush=True)
    _server_build(session, args.target)
    _cli_build(project, args.target)
    server, cli, queued, worker = [], [], [], []
    print(f"no-change rebuilds, alternating, {args.repeat} each:", flush=True)
    for round_number in range(1, args.repeat + 1):
        seconds, build = _server_build(session, args.target)
        server.append(seconds)
        queued.append(_seconds_between(build["created_at"], build["started_at"]))
        worker.append(_seconds_between(build["started_at"], build["finished_at"]))
        cli.append(_cli_build(project, args.target))
        print(
            f"  round {round_number}: server {server[-1]:.2f} s   CLI {cli[-1]:.2f} s", flush=True
        )
    median = statistics.median
    print()
    print("| path (no-change rebuild, artifact in hand) | median | ratio |")
    print("|---|---|---|")
    print(f"| CLI: `xcargo build` process | {median(cli):.2f} s | 1.0x |")
    print(
        f"| server: API trigger → worker → artifact downloaded | {median(server):.2f} s | "
        f"{median(server) / median(cli):.1f}x |"
    )
    print(
        f"\nserver time, medians: queued {median(queued):.2f} s · on the worker "
        f"{median(worker):.2f} s · API, polling and download "
        f"{median(server) - median(queued) - median(worker):.2f} s"
    )


def list_latency(args: argparse.Namespace, environment: dict[str, str]) -> None:
    _add_builds(args.builds)
    password = (Path(environment["XCARGO_VAR_DIR"]) / "admin-password").read_text().strip()
    session = serving.sign_in(BASE, "admin", password)
    pages = {
        "/builds/ (first page)": "/builds/",
        "/builds/?page=100 (deep page)": "/builds/?page=100",
        "/builds/?state=failed (filter)": "/builds/?state=failed",
        "/ (dashboard)": "/",
        "/api/builds?limit=50": "/api/builds?limit=50",
    }
    print(f"\nlist latency with {args.builds} builds in the database ({args.requests} requests):")
    print("| page | median | p90 |")
    print("|---|---|---|")
    for label, path in pages.items():
        timing = serving.time_get(session, f"{BASE}{path}", args.requests)
        print(f"| {label} | {timing.median_ms:.0f} ms | {timing.p90_ms:.0f} ms |")


def _add_builds(count: int) -> None:
    """Fill the database with `count` finished and failed builds of the example target."""
    import django

    django.setup()
    from builds.models import Build, EngineHost, Target

    target = Target.objects.select_related("project").get(project__slug="hello-cross")
    host = EngineHost.objects.get(name="bench")
    states = [Build.State.FINISHED] * 9 + [Build.State.FAILED]
    Build.objects.bulk_create(
        (
            Build(
                project=target.project,
                target=target,
                engine_host=host,
                state=states[number % 10],
                success=states[number % 10] == Build.State.FINISHED,
                log_lines=40,
            )
            for number in range(count)
        ),
        batch_size=1000,
    )


if __name__ == "__main__":
    main()
