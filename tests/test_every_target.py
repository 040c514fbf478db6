"""Every target xcargo makes images for, built for real on Docker, and each artifact started
once (the smoke-run) before anyone downloads it: under qemu on its glibc floor's sysroot for
Linux, under qemu alone for static musl, under wine for Windows, validated and run by WASI for
WebAssembly.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from runtimes.glibc import DEFAULT_FLOOR, GlibcVersion, architecture_floor
from runtimes.placement import ZIG
from runtimes.smoke import FAILED, PASSED, sysroot_for
from runtimes.toolchains import GNU, RECIPES, STD_CRATES
from runtimes.vocabulary import SMOKE
from tests.support import AARCH64, build

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# aarch64 is built (hello-cross, with its dependencies) and smoke-run by the cold-cache test of
# test_cross_build_docker. The others build hello-tiny, which has none: what each target proves
# is its toolchain, linker, C library and runner, and a dozen dependencies compiled cold again
# for every target would only multiply the time.
OTHER_LINUX_TARGETS = [
    triple for triple, recipe in RECIPES.items() if recipe.family == GNU and triple != AARCH64
]
VERSION_LINE = "hello-tiny 0.1.0"


def _program_interpreter(path: Path) -> str | None:
    """The dynamic loader an ELF program asks for (None: a static program)."""
    with path.open("rb") as stream:
        for segment in ELFFile(stream).iter_segments():
            if segment["p_type"] == "PT_INTERP":
                return segment.get_interp_name()
    return None


def _default_floor(triple: str) -> GlibcVersion:
    """2.28, or the lowest glibc the target's architecture links at (powerpc64le: 2.32)."""
    lowest = architecture_floor(triple)
    return max(DEFAULT_FLOOR, lowest.version) if lowest else DEFAULT_FLOOR


@pytest.mark.parametrize("triple", OTHER_LINUX_TARGETS)
def test_each_linux_target_builds_a_binary_that_starts_on_its_floors_oldest_debian(
    docker_toolchains, copy_fixture, tmp_path, triple
):
    engine = docker_toolchains
    floor = _default_floor(triple)
    suite, glibc = sysroot_for(floor)
    project = copy_fixture("hello-tiny", engine)
    lines: list[str] = []

    result = build(engine, project, triple, tmp_path / "state", release=True, lines=lines)

    assert result.succeeded, lines[-30:]
    assert result.glibc_floor == str(floor)
    [artifact] = result.artifacts
    assert artifact.path == project.root / "target" / triple / "release" / "hello-tiny"
    assert artifact.glibc is not None and artifact.glibc.highest <= floor
    smoke = artifact.smoke
    assert smoke is not None and smoke.state == PASSED, smoke
    assert smoke.summary.endswith(f"on Debian {suite}'s glibc {glibc}")
    assert smoke.output == (VERSION_LINE,), "the binary's own answer to --version"
    assert smoke.exit_code == 0
    assert smoke.command.endswith("/release/hello-tiny --version")


def test_a_wasi_program_is_validated_and_run(docker_toolchains, copy_fixture, tmp_path):
    engine = docker_toolchains
    project = copy_fixture("hello-tiny", engine)

    result = build(engine, project, "wasm32-wasip1", tmp_path / "state", release=True)

    assert result.succeeded
    assert result.glibc_floor == "", "WebAssembly links no glibc"
    [artifact] = result.artifacts
    assert artifact.name == "hello-tiny.wasm"
    assert artifact.path.read_bytes()[:4] == b"\0asm"
    assert artifact.smoke.state == PASSED, artifact.smoke
    assert artifact.smoke.summary == "validated by wabt, run by Node.js's WASI"
    assert artifact.smoke.output == (VERSION_LINE,)


def test_a_browser_wasm_module_is_validated_and_says_it_has_no_runtime(
    docker_toolchains, copy_fixture, tmp_path
):
    engine = docker_toolchains
    project = copy_fixture("hello-tiny", engine)

    result = build(engine, project, "wasm32-unknown-unknown", tmp_path / "state", release=True)

    assert result.succeeded
    [artifact] = result.artifacts
    assert artifact.smoke.state == PASSED, artifact.smoke
    assert artifact.smoke.command.startswith("wasm-validate ")
    assert "has no runtime to start it in" in artifact.smoke.summary


def test_a_binary_that_crashes_at_start_shows_the_failure_and_the_build_still_succeeds(
    docker_toolchains, copy_fixture, tmp_path
):
    engine = docker_toolchains
    project = copy_fixture("crashes-at-start", engine)
    lines: list[str] = []

    result = build(engine, project, AARCH64, tmp_path / "state", lines=lines)

    assert result.succeeded, "smoke = report (the default) only reports"
    [artifact] = result.artifacts
    smoke = artifact.smoke
    assert smoke.state == FAILED
    assert smoke.exit_code == 101, "a Rust panic"
    assert any("crashes-at-start: no configuration" in line for line in smoke.output)
    assert smoke.command.endswith("crashes-at-start"), "--version failed too, so a bare start"
    assert any(line.startswith("xcargo: smoke-run crashes-at-start: failed:") for line in lines)


def test_with_smoke_require_a_crash_at_start_fails_the_build_and_keeps_the_artifact(
    docker_toolchains, copy_fixture, tmp_path
):
    engine = docker_toolchains
    config = f'[targets."{AARCH64}".container]\nsmoke = "require"\n'
    project = copy_fixture("crashes-at-start", engine, xcargo_toml=config)

    result = build(engine, project, AARCH64, tmp_path / "state")

    assert not result.succeeded
    assert result.failure_kind == SMOKE
    assert result.failure.startswith("the smoke-run of crashes-at-start failed")
    assert f'[targets."{AARCH64}".container] smoke requires it to pass' in result.failure
    [artifact] = result.artifacts
    assert artifact.path.is_file(), "kept for a look"
    assert artifact.smoke.state == FAILED


def test_with_smoke_off_nothing_is_started(docker_toolchains, copy_fixture, tmp_path):
    engine = docker_toolchains
    project = copy_fixture("crashes-at-start", engine, xcargo_toml='[container]\nsmoke = "off"\n')

    result = build(engine, project, AARCH64, tmp_path / "state")

    assert result.succeeded
    assert result.artifacts[0].smoke is None
    assert "smoke" not in result.phases


@pytest.mark.parametrize(
    ("triple", "qemu"),
    [("x86_64-unknown-linux-musl", "qemu-x86_64"), ("aarch64-unknown-linux-musl", "qemu-aarch64")],
)
def test_a_musl_target_compiles_std_and_links_a_static_binary_that_starts_anywhere(
    docker_toolchains, copy_fixture, tmp_path, triple, qemu
):
    engine = docker_toolchains
    project = copy_fixture("hello-tiny", engine)
    lines: list[str] = []

    result = build(engine, project, triple, tmp_path / "state", release=True, lines=lines)

    assert result.succeeded, lines[-30:]
    assert f"compiled from its source (-Zbuild-std={STD_CRATES})" in "\n".join(lines)
    assert result.strategy == ZIG
    assert "with its own musl C library, into a static binary" in result.strategy_reason
    assert result.glibc_floor == "", "musl links no glibc"
    [artifact] = result.artifacts
    assert artifact.path == project.root / "target" / triple / "release" / "hello-tiny"
    assert _program_interpreter(artifact.path) is None, "static: no loader to find"
    assert artifact.glibc is None
    smoke = artifact.smoke
    assert smoke.state == PASSED, smoke
    assert smoke.summary == f"under {qemu}, static: no C library needed"
    assert smoke.output == (VERSION_LINE,)


def test_windows_compiles_std_and_links_with_mingw_an_exe_that_starts_under_wine(
    docker_toolchains, copy_fixture, tmp_path
):
    engine = docker_toolchains
    triple = "x86_64-pc-windows-gnu"
    project = copy_fixture("hello-tiny", engine)
    lines: list[str] = []

    result = build(engine, project, triple, tmp_path / "state", release=True, lines=lines)

    assert result.succeeded, lines[-30:]
    assert result.glibc_floor == ""
    [artifact] = result.artifacts
    assert artifact.path == project.root / "target" / triple / "release" / "hello-tiny.exe"
    assert artifact.path.read_bytes()[:2] == b"MZ"
    smoke = artifact.smoke
    assert smoke.state == PASSED, smoke
    assert smoke.summary == "under wine"
    assert smoke.output == (VERSION_LINE,), "the program's own answer, nothing of wine's"
    assert smoke.command.endswith("/release/hello-tiny.exe --version")


def test_a_build_script_finds_make_and_cmake_as_sys_crates_need_them(
    docker_toolchains, copy_fixture, tmp_path
):
    engine = docker_toolchains
    project = copy_fixture("build-tools", engine)
    lines: list[str] = []

    result = build(engine, project, AARCH64, tmp_path / "state", lines=lines)

    assert result.succeeded, lines[-30:]
    [artifact] = result.artifacts
    assert artifact.smoke.state == PASSED, artifact.smoke
    [said] = artifact.smoke.output
    assert re.fullmatch(r"build-tools: make \d+(\.\d+)+, cmake \d+\.\d+\.\d+", said), said


def test_a_windows_build_fetches_what_its_build_scripts_need_on_the_linux_build_host(
    docker_toolchains, copy_fixture, tmp_path
):
    engine = docker_toolchains
    # An empty registry directory of its own, which only the fetch can have put itoa into.
    registry = tmp_path / "registry"
    own_registry = f'[container]\ncache.registry_path = "{registry}"\n'
    project = copy_fixture("host-build-dep", engine, xcargo_toml=own_registry)
    lines: list[str] = []

    # Release, as the Windows test before it: the same std, so the compiler cache has it.
    result = build(
        engine, project, "x86_64-pc-windows-gnu", tmp_path / "state", release=True, lines=lines
    )

    assert result.succeeded, lines[-30:]
    assert any("Downloaded itoa v1.0.19" in line for line in lines), "Unix-only, yet fetched"
    [artifact] = result.artifacts
    assert artifact.smoke.output == ("host-build-dep: 2026",)
