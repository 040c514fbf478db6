"""No accepted build is lost: the database is the truth about builds, the queue only carries
them. A Redis of the test's own is restarted without saving while one build runs and two
more are queued; every build accepted before the restart ends, none stays queued.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.test import Client

from builds.models import Build
from builds.services.builds import resend_stalled_builds
from builds.services.engines import register_host
from builds.services.projects import create_project
from tests.conftest import DOCKER_URL
from tests.server.conftest import AARCH64, WorkerProcess, broker_at, database_url_of_test_db
from tests.server.test_build_queue import trigger

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# A crate whose build takes a while (its build script sleeps), so that builds queue behind it.
_SLOW_CRATE = {
    "Cargo.toml": '[package]\nname = "pause"\nversion = "0.1.0"\nedition = "2021"\n',
    "Cargo.lock": 'version = 4\n\n[[package]]\nname = "pause"\nversion = "0.1.0"\n',
    "build.rs": "fn main() { std::thread::sleep(std::time::Duration::from_secs(12)); }\n",
    "src/main.rs": 'fn main() { println!("pause ok"); }\n',
}


class PrivateRedis:
    """A redis-server on a free loopback port, keeping nothing on disk."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port",
             str(self.port), "--save", "", "--appendonly", "no", "--dir", str(self.directory),
             "--logfile", str(self.directory / "redis.log")],
            check=True,
        )  # fmt: skip
        for _ in range(50):
            if self._cli("ping").stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("the test's redis-server did not start")

    def stop_without_saving(self) -> None:
        self._cli("shutdown", "nosave")

    def _cli(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        command = ["redis-cli", "-p", str(self.port), *arguments]
        return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.fixture
def private_redis(tmp_path: Path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop_without_saving()


def test_builds_accepted_before_redis_restarts_without_saving_all_end(
    api_client: Client, user, transactional_db, private_redis, source_root, settings, tmp_path
):
    settings.XCARGO_QUEUE_RESEND_AFTER = 5
    for name, text in _SLOW_CRATE.items():
        (source_root / name).parent.mkdir(parents=True, exist_ok=True)
        (source_root / name).write_text(text)
    host = register_host(name=f"restart-{os.getpid()}", engine_url=DOCKER_URL, runtime="docker")
    project = create_project(name="pause", local_path=str(source_root), triples=[AARCH64])
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "xcargo_web.settings",
        "DATABASE_URL": database_url_of_test_db(),
        "CELERY_BROKER_URL": private_redis.url,
        "XCARGO_WORK_DIR": str(tmp_path / "work"),
        "XCARGO_SOURCE_ROOTS": str(source_root.parent),
        "PYTHONUNBUFFERED": "1",
    }
    worker = WorkerProcess(
        environment=environment, log_path=tmp_path / "worker.log", queue=host.queue,
        node=host.name,
    )  # fmt: skip
    with broker_at(private_redis.url):
        worker.start()
        try:
            # Three builds that differ (cargo's job count), so that none joins another.
            ids = [
                trigger(api_client, project.slug, cargo_args=["--jobs", str(jobs)])["id"]
                for jobs in (1, 2, 3)
            ]
            _until(lambda: Build.objects.filter(pk__in=ids, state="building").exists(), 120)
            queued = Build.objects.filter(pk__in=ids, state="queued").count()
            assert queued == 2, worker.log_tail()

            private_redis.stop_without_saving()
            time.sleep(2)
            private_redis.start()

            def all_ended() -> bool:
                resend_stalled_builds()  # what beat does every 30 s
                return not Build.objects.filter(pk__in=ids, state__in=Build.ACTIVE_STATES)

            _until(all_ended, 300)
            assert worker.process is not None and worker.process.poll() is None, (
                "the worker survived the restart:\n" + worker.log_tail()
            )
        finally:
            worker.stop()
    ended = list(Build.objects.filter(pk__in=ids).values_list("state", "success", "error_kind"))
    assert ended == [("finished", True, "")] * 3, (ended, worker.log_tail())


def _until(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.5)
