"""`make run` as a team gets it: supervised processes that come back when they die, a web that
answers throughout, nothing left behind on SIGTERM, and the README's CI recipe working as
written against it. The server runs on a database, Redis database and port of its own.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.server.conftest import REPOSITORY_ROOT

pytestmark = [pytest.mark.engine, pytest.mark.slow]

STARTUP_SECONDS = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def _ci_recipe() -> str:
    readme = (REPOSITORY_ROOT / "README.md").read_text()
    after = readme[readme.index("A CI job") :]
    return re.search(r"```sh\n(.*?)```", after, re.S).group(1)


class Served:
    """`make run` in a process group of its own, with what it prints in a file."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.var = tmp_path / "var"
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("DATABASE_")
        }
        environment.update(
            XCARGO_VAR_DIR=str(self.var),
            XCARGO_BIND=f"127.0.0.1:{self.port}",
            CELERY_BROKER_URL="redis://127.0.0.1:6379/13",
            XCARGO_ENGINE_HOST=f"serve-{os.getpid()}",
            PATH=f"{REPOSITORY_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        )
        self.environment = environment
        self.output = tmp_path / "make-run.log"
        with self.output.open("wb") as log:
            self.process = subprocess.Popen(
                ["make", "run"],
                cwd=REPOSITORY_ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self, name: str) -> str:
        path = self.var / "log" / name
        return path.read_text(errors="replace") if path.exists() else ""

    def supervised(self, program: str) -> str:
        completed = subprocess.run(
            [str(REPOSITORY_ROOT / ".venv/bin/supervisorctl"), "-c", "deploy/supervisord.conf",
             "status", program],
            cwd=REPOSITORY_ROOT, env=self.environment | {"XCARGO_LOG_DIR": str(self.var / "log")},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return completed.stdout + completed.stderr

    def wait_for(self, condition, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{what}; make run said:\n{self.output.read_text()[-3000:]}")
            time.sleep(0.5)


def test_make_run_survives_a_killed_worker_runs_the_ci_recipe_and_stops_whole(tmp_path):
    served = Served(tmp_path)
    try:
        served.wait_for(lambda: _status(f"{served.url}/login/") == 200, STARTUP_SECONDS, "no web")
        served.wait_for(lambda: " ready." in served.log("worker.log"), 120, "no worker")
        served.wait_for(lambda: "RUNNING" in served.supervised("worker"), 30, "not running")
        status = served.supervised("worker")
        running = re.search(r"RUNNING\s+pid (\d+)", status)
        assert running, status
        worker_pid = int(running.group(1))

        # A crash of the whole worker (its main process and pool children).
        os.killpg(worker_pid, signal.SIGKILL)
        answers = []
        ci = subprocess.Popen(
            ["bash", "-c", "set -euo pipefail\n" + _ci_recipe()],
            cwd=REPOSITORY_ROOT,
            env=served.environment | {"XCARGO_URL": served.url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 600
        while ci.poll() is None and time.monotonic() < deadline:
            answers.append(_status(f"{served.url}/login/"))
            time.sleep(0.5)
        out, err = ci.communicate(timeout=5)

        assert ci.returncode == 0, (out, err, served.log("worker.log")[-3000:])
        sha256, name, url = out.split()
        assert len(sha256) == 64 and name == "hello-cross" and url.startswith(served.url)
        assert set(answers) == {200}, "the web answered throughout"
        supervisor_log = served.log("supervisord.log")
        assert "exited: worker (terminated by SIGKILL; not expected)" in supervisor_log
        assert supervisor_log.count("spawned: 'worker'") >= 2
        assert "RUNNING" in served.supervised("worker")
        started = {served.process.pid} | _descendants(served.process.pid)
    finally:
        served.process.send_signal(signal.SIGTERM)
        try:
            served.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(served.process.pid, signal.SIGKILL)
            raise

    time.sleep(1)
    left = {pid for pid in started if _alive(pid)}
    assert left == set(), f"processes left after SIGTERM: {left}"
