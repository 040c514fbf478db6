"""Fixtures of the server tests: a real Redis broker, a real Celery worker process on the test
database, an engine host served by that worker, users with API tokens, and projects.

The worker is a separate process (`celery worker`), so the tests that use it run with
`transactional_db`: what they write is committed and the worker sees it. Redis must answer at
CELERY_BROKER_URL (`make test` starts it); without it these tests fail instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from builds.models import EngineHost, Project
from builds.services.engines import register_host
from builds.services.projects import create_project
from builds.services.tokens import issue_token
from runtimes import naming
from runtimes.engine import connect
from runtimes.project import locate_project
from tests.conftest import DOCKER_URL, FIXTURES
from xcargo_web.celery import app as celery_app

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
AARCH64 = "aarch64-unknown-linux-gnu"
# One queue per test session: a stray worker of another session never takes these builds.
HOST_NAME = f"test-{os.getpid()}"
BROKER_URL = os.environ.get("XCARGO_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
WORKER_READY_SECONDS = 60


@dataclass
class WorkerProcess:
    """The test session's Celery worker, which a test may kill and start again."""

    environment: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    queue: str = ""
    node: str = HOST_NAME

    def start(self) -> None:
        # Open before the worker starts, so "ready" below is this start's and not the last's.
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [
            sys.executable, "-m", "celery", "-A", "xcargo_web", "worker",
            "--queues", f"{self.queue or celery_queue()},xcargo.maintenance",
            "--concurrency", "2", "--hostname", f"{self.node}@%h", "--loglevel", "INFO",
            "--without-mingle",
            "--without-gossip",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPOSITORY_ROOT,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + WORKER_READY_SECONDS
        while time.monotonic() < deadline:
            if b" ready." in self.log_path.read_bytes()[offset:]:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the Celery worker did not start; its log:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait_until_idle(self, seconds: float = 120) -> None:
        """Return once the worker runs nothing and nothing waits for it, twice in a row.

        A build's task goes on after the API says the build ended (it queues the cache
        measurement, which then writes its rows): a test that ends then would have its
        tables flushed under those writes, and the flush deadlocks with them.
        """
        if self.process is None or self.process.poll() is not None:
            return
        inspector = celery_app.control.inspect(
            destination=[f"{self.node}@{socket.gethostname()}"], timeout=2
        )
        queues = redis.Redis.from_url(celery_app.conf.broker_url)
        names = (self.queue or celery_queue(), "xcargo.maintenance")
        idle_in_a_row = 0
        deadline = time.monotonic() + seconds
        while idle_in_a_row < 2 and time.monotonic() < deadline:
            busy = [*_tasks_of(inspector.active()), *_tasks_of(inspector.reserved())]
            waiting = sum(queues.llen(name) for name in names)
            idle_in_a_row = idle_in_a_row + 1 if not busy and not waiting else 0
            time.sleep(0.3)
        if idle_in_a_row < 2:
            raise RuntimeError(f"the Celery worker is still busy; its log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _tasks_of(reply: dict[str, list[Any]] | None) -> list[Any]:
    """The tasks an inspect reply lists; no reply counts as none (the worker is stopping)."""
    return [task for tasks in (reply or {}).values() for task in tasks]


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Publish to `url` for a while: Celery keeps a connection pool per broker URL, so the
    pools are dropped on the way in and out, and the URL restored."""
    previous = celery_app.conf.broker_url

    def reset() -> None:
        celery_app._pool = None
        if "amqp" in celery_app.__dict__:
            celery_app.amqp._producer_pool = None

    celery_app.conf.broker_url = url
    reset()
    try:
        yield
    finally:
        celery_app.conf.broker_url = previous
        reset()


def celery_queue() -> str:
    return f"xcargo.builds.{HOST_NAME}"


def database_url_of_test_db() -> str:
    """The test database as a URL, for the worker process to open the same one."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = quote(settings["USER"] or "", safe="")
    password = quote(settings["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if user else ""
    host = settings["HOST"] or "localhost"
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    return f"postgres://{credentials}{host}{port}/{settings['NAME']}"


@pytest.fixture(scope="session")
def broker() -> str:
    """The Redis the queue runs on (each session has queues of its own)."""
    client = redis.Redis.from_url(BROKER_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis does not answer at {BROKER_URL} ({error}); `make test` starts it")
    celery_app.conf.broker_url = BROKER_URL
    return BROKER_URL


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """Users are made in most tests here; a slow password hash is not what is tested."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    """Artifacts stored under the test's own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(scope="session")
def source_roots(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Where server-local projects may live in these tests: the fixtures and a scratch dir."""
    return [FIXTURES, tmp_path_factory.mktemp("sources")]


@pytest.fixture(autouse=True)
def _allowed_sources(settings: Any, source_roots: list[Path]) -> None:
    settings.XCARGO_SOURCE_ROOTS = source_roots


@pytest.fixture
def source_root(source_roots: list[Path], tmp_path: Path) -> Path:
    """A fresh directory inside the allowed source roots, for a test's own project."""
    directory = source_roots[1] / tmp_path.name
    directory.mkdir()
    return directory


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: None,
    django_db_blocker: Any,
    broker: str,
    source_roots: list[Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WorkerProcess]:
    """A real `celery worker` process serving the test engine host's queue."""
    with django_db_blocker.unblock():
        database_url = database_url_of_test_db()
    work_dir = tmp_path_factory.mktemp("worker")
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "xcargo_web.settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "XCARGO_WORK_DIR": str(work_dir),
        "XCARGO_SOURCE_ROOTS": ":".join(str(root) for root in source_roots),
        "PYTHONUNBUFFERED": "1",
    }
    worker = WorkerProcess(environment=environment, log_path=work_dir / "worker.log")
    worker.start()
    yield worker
    worker.stop()
    _remove_checkout_volumes(work_dir)


def _remove_checkout_volumes(work_dir: Path) -> None:
    """Remove the target volumes of this session's checkouts (new paths, so new volumes each
    session): a test run must not fill the engine's disk run after run.
    """
    engine = connect("docker", environ={"XCARGO_ENGINE_URL": DOCKER_URL})
    for manifest in work_dir.glob("*/checkouts/*/*/Cargo.toml"):
        label = f"{naming.LABEL_PROJECT}={locate_project(manifest.parent).key}"
        for volume in engine.client.volumes.list(filters={"label": label}):
            volume.remove(force=True)


@pytest.fixture(autouse=True)
def _worker_idle_before_the_flush(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test with the worker, wait for its tasks to end before the database is flushed.

    Asking for `transactional_db` here sets it up first, so it is torn down after this.
    """
    uses_worker = {"celery_worker", "transactional_db"} <= set(request.fixturenames)
    if uses_worker:
        request.getfixturevalue("transactional_db")
        worker: WorkerProcess = request.getfixturevalue("celery_worker")
    yield
    if uses_worker:
        worker.wait_until_idle()


@pytest.fixture
def engine_host(transactional_db: None) -> EngineHost:
    """The host the session's worker serves: the local Docker engine."""
    return register_host(name=HOST_NAME, engine_url="unix:///var/run/docker.sock", runtime="docker")


@pytest.fixture
def user(db: None) -> User:
    return User.objects.create_user("ada", password="correct horse battery")


@pytest.fixture
def api_client(user: User) -> Client:
    """A client that authenticates as `user` with an API token, as a CI job does."""
    return Client(headers={"Authorization": f"Bearer {issue_token(user=user)}"})


@pytest.fixture
def hello_project(db: None, user: User) -> Project:
    """The fixture crate as a server-local project with an aarch64 target."""
    return create_project(
        name="hello-cross",
        local_path=str(FIXTURES / "hello-cross"),
        triples=[AARCH64],
        created_by=user,
    )


@pytest.fixture
def git_repository(tmp_path: Path) -> str:
    """A bare git repository holding the fixture crate, as a file:// URL (a real git URL)."""
    work = tmp_path / "hello-src"
    subprocess.run(
        ["cp", "-r", str(FIXTURES / "hello-cross"), str(work)], check=True, capture_output=True
    )
    subprocess.run(["rm", "-rf", str(work / "target")], check=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for step in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "hello"]):
        subprocess.run([*git, *step], cwd=work, check=True, capture_output=True)
    bare = tmp_path / "hello.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True
    )
    return f"file://{bare}"


@pytest.fixture
def untrusted_dockerfile_project(
    db: None, user: User, source_root: Path, untrusted_image: str
) -> Project:
    """The custom-image crate as a server-local project whose xcargo.dockerfile starts from an
    image of a registry nobody trusted (and names it by tag, not digest).
    """
    directory = source_root / "custom-image"
    shutil.copytree(FIXTURES / "custom-image", directory, ignore=shutil.ignore_patterns("target"))
    (directory / "xcargo.dockerfile").write_text(
        f"FROM {untrusted_image}\nCOPY tools/greeting /usr/local/bin/custom-greeting\n"
    )
    return create_project(
        name="custom-image", local_path=str(directory), triples=[AARCH64], created_by=user
    )
