"""compose.yaml as a deployment: its images are built here on the bootstrapped Debian base (no
registry), web, worker, beat, Redis and PostgreSQL come up, a build goes through the API, and
a worker that crashes is started again by the engine.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow]

REPOSITORY = Path(__file__).resolve().parent.parent
BUILD_SECONDS = 600


class Deployment:
    """`docker-compose` with a project name, port and host directory of this test's own."""

    def __init__(self, host_dir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.environment = {
            **os.environ,
            "XCARGO_SECRET_KEY": secrets.token_urlsafe(32),
            "XCARGO_HOST_DIR": str(host_dir),
            "XCARGO_PORT": str(port),
        }
        self.project = f"xcargo-test-{os.getpid()}"

    def compose(self, *arguments: str, timeout: float = 900) -> str:
        completed = subprocess.run(
            ["docker-compose", "-p", self.project, *arguments],
            cwd=REPOSITORY, env=self.environment, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
        assert completed.returncode == 0, (
            arguments,
            completed.stdout[-3000:],
            completed.stderr[-3000:],
        )
        return completed.stdout

    def container(self, service: str) -> dict:
        [name] = self.compose("ps", "-q", service).split()
        inspected = subprocess.run(["docker", "inspect", name], capture_output=True, text=True)
        return json.loads(inspected.stdout)[0]

    def api(self, token: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            path if path.startswith("http") else f"{self.url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


def _until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _build(deployment: Deployment, token: str) -> dict:
    queued = deployment.api(
        token, "/api/builds", {"project": "hello-cross", "target": "aarch64-unknown-linux-gnu"}
    )
    deadline = time.monotonic() + BUILD_SECONDS
    while time.monotonic() < deadline:
        build = deployment.api(token, queued["url"])
        if build["state"] in ("finished", "failed", "cancelled"):
            return build
        time.sleep(2)
    raise AssertionError(f"build {queued['url']} did not end")


def test_compose_brings_the_server_up_builds_and_restarts_a_crashed_worker(tmp_path):
    subprocess.run([str(REPOSITORY / "deploy/compose/prepare.sh")], check=True)
    deployment = Deployment(tmp_path / "xcargo")
    (tmp_path / "xcargo").mkdir()
    try:
        deployment.compose("up", "-d", "--build")
        _until(lambda: _answers(f"{deployment.url}/login/"), 300, "the web never answered")
        _until(lambda: " ready." in deployment.compose("logs", "worker"), 300, "no worker")
        token = deployment.compose(
            "exec", "-T", "web", "python", "manage.py", "api_token", "--create", "ci"
        ).strip()

        first = _build(deployment, token)
        assert (first["state"], first["success"]) == ("finished", True), first
        assert len(first["artifacts"][0]["sha256"]) == 64

        worker = deployment.container("worker")
        subprocess.run(["kill", "-9", str(worker["State"]["Pid"])], check=True)
        _until(
            lambda: (
                deployment.container("worker")["RestartCount"] > worker["RestartCount"]
                and " ready." in deployment.compose("logs", "--tail", "50", "worker")
            ),
            300,
            "the crashed worker was not started again",
        )
        for service in ("web", "worker", "beat", "redis", "postgres"):
            policy = deployment.container(service)["HostConfig"]["RestartPolicy"]["Name"]
            assert policy == "unless-stopped", service

        second = _build(deployment, token)
        assert (second["state"], second["success"]) == ("finished", True), second
    finally:
        deployment.compose("down", "-v", "--remove-orphans", timeout=300)
