"""The `xcargo` command as a user runs it: a real process, real exit codes, real output."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runtimes import naming
from runtimes.toolchains import NEWEST_CHANNEL
from tests.support import AARCH64, X86_64, containers_of, run_binary, wait_until_running

# The console script pip installed next to this interpreter: the command users run.
XCARGO = [str(Path(sys.executable).parent / "xcargo")]


def xcargo(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "XCARGO_ENGINE_URL": "unix:///var/run/docker.sock", **(env or {})}
    return subprocess.run(
        [*XCARGO, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=900
    )


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["build"],
        ["images", "bootstrap"],
        ["container", "images"],
        ["container", "doctor"],
        ["cache", "stats"],
        ["cache", "clean"],
    ],
)
def test_every_command_has_help(tmp_path, command):
    result = xcargo(*command, "--help", cwd=tmp_path)

    assert result.returncode == 0
    assert "Usage:" in result.stdout


def test_an_unknown_triple_is_refused_with_a_suggestion(tmp_path):
    result = xcargo("build", "--target", "aarch64-unknown-linux-gnux", cwd=tmp_path)

    assert result.returncode == 2
    assert "unknown target" in result.stderr
    assert "did you mean aarch64-unknown-linux-gnu?" in result.stderr


def test_a_hostile_triple_is_refused_before_anything_runs(tmp_path):
    result = xcargo("build", "--target", "x86_64-unknown-linux-gnu;rm -rf /", cwd=tmp_path)

    assert result.returncode == 2
    assert "error:" in result.stderr


def test_a_broken_xcargo_toml_names_file_line_and_key(copy_fixture, docker_engine, tmp_path):
    project = copy_fixture(
        "hello-cross",
        docker_engine,
        xcargo_toml='[container]\nruntime = "auto"\ncache.enabled = "yes"\n',
    )

    result = xcargo("build", "--target", AARCH64, cwd=project.root)

    assert result.returncode == 2
    assert "xcargo.toml:3" in result.stderr
    assert "container.cache.enabled" in result.stderr


def test_a_missing_engine_says_how_to_start_one(copy_fixture, docker_engine):
    project = copy_fixture("hello-cross", docker_engine)

    result = xcargo(
        "build",
        "--target",
        AARCH64,
        cwd=project.root,
        env={"XCARGO_ENGINE_URL": "unix:///nonexistent/engine.sock"},
    )

    assert result.returncode == 3
    assert "unix:///nonexistent/engine.sock" in result.stderr
    assert "podman system service" in result.stderr


def test_doctor_without_an_engine_fails_with_exit_code_3(tmp_path):
    result = xcargo(
        "container", "doctor", cwd=tmp_path, env={"XCARGO_ENGINE_URL": "unix:///nonexistent.sock"}
    )

    assert result.returncode == 3
    assert "✗ engine:" in result.stdout


def test_a_runtime_asked_for_in_xcargo_toml_is_not_silently_replaced(copy_fixture, docker_engine):
    project = copy_fixture(
        "hello-cross", docker_engine, xcargo_toml='[container]\nruntime = "podman"\n'
    )

    result = xcargo("build", "--target", AARCH64, cwd=project.root)

    assert result.returncode == 3
    assert (
        "xcargo.toml asks for podman, but the engine at unix:///var/run/docker.sock is docker"
        in (result.stderr)
    )


def test_a_project_without_cargo_lock_is_refused_with_what_to_do(copy_fixture, docker_engine):
    project = copy_fixture("hello-cross", docker_engine)
    (project.root / "Cargo.lock").unlink()

    result = xcargo("build", "--target", AARCH64, cwd=project.root)

    assert result.returncode == 2
    assert "cargo generate-lockfile" in result.stderr


def test_outside_a_cargo_project_the_build_says_so(tmp_path):
    result = xcargo("build", "--target", AARCH64, cwd=tmp_path)

    assert result.returncode == 2
    assert "no Cargo.toml" in result.stderr


def _cross_project(root: Path, cross_toml: str) -> Path:
    """A Cargo project with a Cross.toml, as a cross user has it (no engine is reached)."""
    root.mkdir()
    (root / "Cargo.toml").write_text('[package]\nname = "hello"\nversion = "0.1.0"\n')
    (root / "Cargo.lock").write_text("version = 3\n")
    (root / "Cross.toml").write_text(cross_toml)
    return root


NO_ENGINE = {"XCARGO_ENGINE_URL": "unix:///nonexistent/engine.sock"}


@pytest.mark.parametrize("command", ["build", "check", "test", "bench", "run"])
def test_without_target_the_default_target_of_cross_toml_is_used_and_said(tmp_path, command):
    project = _cross_project(tmp_path / "p", f'[build]\ndefault-target = "{AARCH64}"\n')

    result = xcargo(command, cwd=project, env=NO_ENGINE)

    assert result.returncode == 3  # it went on to the engine, which is not there
    assert (
        f"no --target: {AARCH64}, the default target of Cross.toml: [build] default-target"
        in result.stderr
    )


def test_cross_build_target_wins_over_cross_toml(tmp_path):
    project = _cross_project(tmp_path / "p", f'[build]\ndefault-target = "{AARCH64}"\n')

    result = xcargo("build", cwd=project, env={**NO_ENGINE, "CROSS_BUILD_TARGET": X86_64})

    assert f"no --target: {X86_64}, the default target of environment: CROSS_BUILD_TARGET" in (
        result.stderr
    )


def test_without_target_or_default_target_the_target_is_missing(tmp_path):
    project = _cross_project(tmp_path / "p", "[build]\n")

    result = xcargo("build", cwd=project, env=NO_ENGINE)

    assert result.returncode == 2
    assert "Missing option '--target'" in result.stderr


def test_a_cross_toml_notice_is_printed_with_its_file_and_line(tmp_path):
    project = _cross_project(tmp_path / "p", "[build]\nxargo = true\n")

    result = xcargo("build", "--target", AARCH64, cwd=project, env=NO_ENGINE)

    assert "not supported: Cross.toml:2: build.xargo: xargo is deprecated" in result.stderr


def test_a_hostile_container_image_is_refused(copy_fixture, docker_engine):
    project = copy_fixture("hello-cross", docker_engine)

    result = xcargo(
        "build", "--target", AARCH64, "--container-image", "debian;curl x|sh", cwd=project.root
    )

    assert result.returncode == 2
    assert "image reference" in result.stderr


@pytest.mark.parametrize("limit", ["0", "20gb", "-1g", "lots"])
def test_a_malformed_disk_limit_is_refused_as_bad_input(tmp_path, limit):
    result = xcargo("build", "--target", AARCH64, "--disk-limit", limit, cwd=tmp_path)

    assert result.returncode == 2
    assert "is not a size like 512m or 20g" in result.stderr


def test_a_malformed_memory_limit_is_refused_as_bad_input(tmp_path):
    result = xcargo("build", "--target", AARCH64, "--memory", "lots", cwd=tmp_path)

    assert result.returncode == 2
    assert "'lots' is not a size like 512m or 20g" in result.stderr


def test_cache_clean_needs_the_containers_flag(tmp_path):
    result = xcargo("cache", "clean", cwd=tmp_path)

    assert result.returncode == 2
    assert "--containers" in result.stderr


def _state(tmp_path: Path) -> dict[str, str]:
    return {"XCARGO_STATE_DIR": str(tmp_path / "state")}


@pytest.mark.engine
@pytest.mark.slow
def test_build_prints_artifacts_as_sha256sum_lines_and_writes_them_where_cargo_would(
    docker_toolchains, copy_fixture, tmp_path
):
    project = copy_fixture("hello-cross", docker_toolchains)
    state = _state(tmp_path)

    first = xcargo("build", "--target", AARCH64, cwd=project.root / "src", env=state)
    second = xcargo("build", "--target", AARCH64, cwd=project.root, env=state)

    assert first.returncode == 0, first.stderr[-2000:]
    digest, path = first.stdout.strip().split("  ")
    binary = Path(path)
    assert binary == project.root / "target" / AARCH64 / "debug" / "hello-cross"
    assert hashlib.sha256(binary.read_bytes()).hexdigest() == digest
    assert run_binary(AARCH64, binary).startswith("hello-cross ok")
    assert "Compiling hello-cross" in first.stderr, "cargo's log streams to stderr"
    assert second.returncode == 0
    assert second.stdout == first.stdout
    assert "fetch skipped" in second.stderr
    assert "registry warm (0 crates downloaded)" in second.stderr
    assert f"the toolchain image for {AARCH64} and rustc {NEWEST_CHANNEL}" in second.stderr
    assert f"toolchain: rustc {NEWEST_CHANNEL}" in second.stderr
    assert "strategy: zig" in second.stderr
    assert "hello-cross: needs GLIBC_2." in second.stderr
    assert (
        "hello-cross: smoke-run passed: under qemu-aarch64 on Debian bullseye's glibc 2.31: "
        "hello-cross 0.3.1"
    ) in second.stderr


@pytest.mark.engine
@pytest.mark.slow
def test_a_required_smoke_run_that_fails_exits_6_and_leaves_the_binary(
    docker_toolchains, copy_fixture, tmp_path
):
    project = copy_fixture(
        "crashes-at-start",
        docker_toolchains,
        xcargo_toml=f'[targets."{AARCH64}".container]\nsmoke = "require"\n',
    )

    run = xcargo("build", "--target", AARCH64, cwd=project.root, env=_state(tmp_path))

    assert run.returncode == 6, run.stderr[-2000:]
    assert "error: the smoke-run of crashes-at-start failed" in run.stderr
    assert "crashes-at-start: smoke-run failed: under qemu-aarch64" in run.stderr
    assert "crashes-at-start: no configuration" in run.stderr
    assert (project.root / "target" / AARCH64 / "debug" / "crashes-at-start").is_file()
    assert run.stdout == "", "no sha256 lines for a failed build"


@pytest.mark.engine
def test_bootstrap_again_builds_nothing(docker_toolchains, tmp_path):
    result = xcargo("images", "bootstrap", "--target", AARCH64, cwd=tmp_path)

    assert result.returncode == 0, result.stderr[-2000:]
    assert "built" not in result.stdout.replace("up to date", "")
    assert f"{naming.toolchain_image(AARCH64, NEWEST_CHANNEL)}  up to date" in result.stdout


@pytest.mark.engine
def test_doctor_and_listings_describe_the_engine_images_and_caches(docker_toolchains, tmp_path):
    doctor = xcargo("container", "doctor", cwd=tmp_path)
    images = xcargo("container", "images", cwd=tmp_path)
    stats = xcargo("cache", "stats", "--containers", cwd=tmp_path)

    assert doctor.returncode == 0, doctor.stdout
    assert "✓ engine: docker" in doctor.stdout
    assert "memory and pids limits" in doctor.stdout
    assert "✓ API version 1." in doctor.stdout and "✓ rootful docker" in doctor.stdout
    assert "✓ test container ran in" in doctor.stdout
    assert naming.toolchain_image(AARCH64, NEWEST_CHANNEL) in images.stdout
    assert naming.toolchain_image(AARCH64, "1.85") in images.stdout
    assert "not made yet" in images.stdout
    assert f"{X86_64} · 1.85: xcargo images bootstrap --toolchain 1.85 --target {X86_64}" in (
        images.stdout
    )
    assert "cannot be had here:" in images.stdout
    assert "arm-unknown-linux-gnueabi: Debian's armel standard library is built for armv5te" in (
        images.stdout
    )
    assert stats.returncode == 0
    assert "last use" in stats.stdout and "toolchain" in stats.stdout
    assert "total on docker" in stats.stdout


@pytest.mark.engine
@pytest.mark.slow
def test_a_killed_build_removes_its_container(docker_toolchains, copy_fixture, tmp_path):
    """SIGTERM, as a CI runner sends on cancel, ends the build like Ctrl-C: nothing left."""
    engine = docker_toolchains
    project = copy_fixture("slow-build", engine)
    name = naming.build_container(project.key, X86_64, "build")
    environment = {
        **os.environ,
        "XCARGO_ENGINE_URL": "unix:///var/run/docker.sock",
        "XCARGO_STATE_DIR": str(tmp_path / "state"),
    }
    process = subprocess.Popen(
        [*XCARGO, "build", "--target", X86_64],
        cwd=project.root,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_running(engine, name)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()

    assert process.returncode == 130
    assert "interrupted" in stderr
    assert containers_of(engine, project) == []
