"""What only Podman has: recognised through its Docker-compatible socket, and a service that
can be stopped mid-build (the engine tests of both engines are in test_cross_build.py and
the files beside it).
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from runtimes import naming
from runtimes.errors import EngineUnavailable
from tests.support import X86_64, build, wait_until_running

pytestmark = [pytest.mark.engine, pytest.mark.podman, pytest.mark.slow]

PODMAN_SERVICE = Path(__file__).resolve().parent.parent / "scripts" / "podman-service.sh"


def test_podman_is_recognised(podman_engine):
    assert podman_engine.kind == "podman"
    assert podman_engine.debian_arch == "amd64"


def test_an_engine_that_dies_mid_build_is_a_clear_error(podman_toolchains, copy_fixture, tmp_path):
    """The Podman service is stopped while a build runs, then started again for what follows."""
    engine = podman_toolchains
    project = copy_fixture("slow-build", engine)
    name = naming.build_container(project.key, X86_64, "build")
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            build(engine, project, X86_64, tmp_path / "state", timeout=300)
        except EngineUnavailable as error:
            outcome.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        wait_until_running(engine, name)
        subprocess.run(["pkill", "-f", "podman system service"], check=True)
        worker.join(timeout=60)
    finally:
        subprocess.run([str(PODMAN_SERVICE)], check=True, capture_output=True)
        for leftover in engine.client.containers.list(all=True, filters={"name": name}):
            leftover.remove(force=True)

    assert not worker.is_alive()
    [error] = outcome
    assert "lost the engine" in error.message
    assert error.exit_code == 3
