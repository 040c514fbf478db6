"""What the benches that go over HTTP share: the real web server (gunicorn) started on a
scratch database and stopped, a signed-in session, and request timings with their median and
90th percentile, so that each bench measures pages the way a browser gets them.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
START_SECONDS = 60


def gunicorn_command(port: int) -> list[str]:
    """The web process as `make run` starts it (deploy/supervisord.conf), on `port`."""
    return [
        PYTHON, "-m", "gunicorn", "xcargo_web.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
    ]  # fmt: skip


def start(
    commands: dict[str, list[str]], environment: dict[str, str], logs: Path
) -> list[subprocess.Popen[bytes]]:
    """Start each command from the repository, its output in `logs/NAME.log`."""
    logs.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=(logs / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for name, command in commands.items()
    ]


def wait_until(ready: Callable[[], bool], failure: str) -> None:
    """Poll `ready` until it holds; give up with `failure` after START_SECONDS."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    raise SystemExit(failure)


def answers(base: str) -> bool:
    """Whether the web server at `base` serves its sign-in page."""
    try:
        return requests.get(f"{base}/login/", timeout=1).ok
    except requests.RequestException:
        return False


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def sign_in(base: str, username: str, password: str) -> requests.Session:
    """A session signed in through the login form, as a person signs in."""
    session = requests.Session()
    session.get(f"{base}/login/", timeout=10).raise_for_status()
    signed_in = session.post(
        f"{base}/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/login/"},
        timeout=10,
    )
    signed_in.raise_for_status()
    if "sessionid" not in session.cookies:
        raise SystemExit(f"signing in as {username} failed")
    return session


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p90_ms: float


def time_get(
    session: requests.Session, url: str, count: int, headers: dict[str, str] | None = None
) -> Timing:
    """`count` GETs of `url` one after another, each a success; wall time as the client saw
    it, connection and transfer included.
    """
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        response = session.get(url, headers=headers, timeout=60)
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
    seconds.sort()
    p90 = seconds[max(int(len(seconds) * 0.9) - 1, 0)]
    return Timing(statistics.median(seconds) * 1000, p90 * 1000)
