"""The same builds through Podman's Docker-compatible socket: FR1 holds on both engines."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from runtimes import naming
from runtimes.errors import EngineUnavailable
from runtimes.sandbox import BuildStopped, Limits
from runtimes.smoke import PASSED
from runtimes.toolchains import NEWEST_CHANNEL
from tests.support import AARCH64, X86_64, build, containers_of, run_binary, wait_until_running

pytestmark = [pytest.mark.engine, pytest.mark.podman, pytest.mark.slow]

# The aarch64 image builds for the engine's own architecture too: one image is enough here.
HOST_CAPABLE = naming.toolchain_image(AARCH64, NEWEST_CHANNEL)
PODMAN_SERVICE = Path(__file__).resolve().parent.parent / "scripts" / "podman-service.sh"


def test_podman_is_recognised(podman_engine):
    assert podman_engine.kind == "podman"
    assert podman_engine.debian_arch == "amd64"


def test_bootstrap_on_podman_makes_a_labelled_toolchain_image(podman_toolchains):
    image = podman_toolchains.client.images.get(naming.toolchain_image(AARCH64, NEWEST_CHANNEL))

    assert image.labels[naming.LABEL_TARGETS] == AARCH64
    assert image.labels[naming.LABEL_RUSTC].startswith(NEWEST_CHANNEL)
    assert image.labels[naming.LABEL_TOOLCHAIN] == NEWEST_CHANNEL
    assert image.labels[naming.LABEL_KIND] == naming.KIND_TOOLCHAIN


def test_aarch64_build_on_podman_runs_under_qemu_and_rebuilds_warm(
    podman_toolchains, copy_fixture, tmp_path
):
    engine = podman_toolchains
    project = copy_fixture("hello-cross", engine)

    first = build(engine, project, AARCH64, tmp_path / "state")
    lines: list[str] = []
    second = build(engine, project, AARCH64, tmp_path / "state", lines=lines)

    assert first.succeeded and second.succeeded
    assert run_binary(AARCH64, first.artifacts[0].path).splitlines()[:2] == [
        "hello-cross ok",
        "arch: aarch64",
    ]
    smoke = first.artifacts[0].smoke
    assert (smoke.state, smoke.output) == (PASSED, ("hello-cross 0.3.1",)), "smoke-run on Podman"
    assert second.fetch_skipped and second.crates_downloaded == 0
    assert not second.volumes.target_created
    assert not any("Compiling" in line for line in lines)
    assert containers_of(engine, project) == []


def test_a_build_past_its_timeout_on_podman_is_killed_and_leaves_no_container(
    podman_toolchains, copy_fixture, tmp_path
):
    engine = podman_toolchains
    project = copy_fixture("slow-build", engine)
    with pytest.raises(BuildStopped, match="reached its time limit"):
        build(engine, project, X86_64, tmp_path / "state", timeout=20, image=HOST_CAPABLE)

    assert containers_of(engine, project) == []


def test_a_compiler_killed_at_the_memory_limit_on_podman_is_explained(
    podman_toolchains, copy_fixture, tmp_path
):
    """Podman never reports OOMKilled; cargo survives its killed rustc and says SIGKILL. Without
    the compiler cache: under it, the rustc killed is sccache's child, and cargo says only
    that the compile failed (README, Not done yet).
    """
    engine = podman_toolchains
    project = copy_fixture(
        "hello-cross", engine, xcargo_toml="[container.cache]\ncompiler_cache = false\n"
    )

    try:
        result = build(engine, project, AARCH64, tmp_path / "state", limits=Limits(memory="60m"))
    except BuildStopped as stopped:  # cargo itself was the one killed
        assert "ran out of memory" in stopped.message
    else:
        assert not result.succeeded
        assert "memory limit of 60m" in (result.failure or "")


def test_an_engine_that_dies_mid_build_is_a_clear_error(podman_toolchains, copy_fixture, tmp_path):
    """The Podman service is stopped while a build runs, then started again for what follows."""
    engine = podman_toolchains
    project = copy_fixture("slow-build", engine)
    name = naming.build_container(project.key, X86_64, "build")
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            build(engine, project, X86_64, tmp_path / "state", timeout=300, image=HOST_CAPABLE)
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
