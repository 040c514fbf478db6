"""Cargo's own arguments reach cargo in the container: on the `workspace-features` fixture the
binaries built, and what they print, show `-p`, `--bin`, `--features` and `--profile` taken;
arguments that would break the sandbox are refused before any engine is asked.
"""

from __future__ import annotations

import pytest

from runtimes.build_env import BuildEnvironment
from runtimes.cargo_args import check_cargo_args
from tests.support import AARCH64, build, run_binary, run_xcargo

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def test_packages_binaries_features_and_profiles_reach_cargo(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("workspace-features", engine)
    lines: list[str] = []

    loud = build(
        engine,
        project,
        AARCH64,
        tmp_path,
        lines=lines,
        cargo_args=("-p", "app", "--bin", "bye", "--features", "loud"),
    )

    assert loud.succeeded, lines[-30:]
    [artifact] = loud.artifacts
    assert artifact.path == project.root / "target" / AARCH64 / "debug" / "bye"
    assert run_binary(AARCH64, artifact.path) == "bye: BYE FROM THE WORKSPACE\n"

    fast = build(
        engine,
        project,
        AARCH64,
        tmp_path,
        lines=lines,
        # As the CLI passes them: --locked is implied, and dropped.
        cargo_args=check_cargo_args(
            ["-p", "app", "--profile", "fast", "--features=extra", "--locked"]
        ),
    )

    assert fast.succeeded, lines[-30:]
    built = {artifact.path.name: artifact.path for artifact in fast.artifacts}
    assert set(built) == {"hello", "bye"}
    assert built["hello"].parent == project.root / "target" / AARCH64 / "fast"
    assert run_binary(AARCH64, built["hello"]) == (
        "hello: hello from the workspace\nhello: with the extra feature\n"
    )


def test_the_cli_passes_cargos_arguments_and_refuses_a_target_dir(toolchain_engine, copy_fixture):
    project = copy_fixture("workspace-features", toolchain_engine)
    command = (toolchain_engine, project.root, "build", "--target", AARCH64)

    refused = run_xcargo(*command, "--target-dir", "/tmp/elsewhere")
    built = run_xcargo(
        *command, "--release", "-p", "app", "--bin", "hello", "--no-default-features"
    )

    assert refused.returncode == 2
    assert "cargo's --target-dir is not passed through" in refused.stderr
    assert "building" not in refused.stderr, "refused before any engine is asked"
    assert built.returncode == 0, built.stderr[-3000:]
    [line] = built.stdout.splitlines()
    assert line.endswith(f"target/{AARCH64}/release/hello")
    binary = project.root / "target" / AARCH64 / "release" / "hello"
    assert run_binary(AARCH64, binary) == "hello: hello from the workspace\n"


def test_xcargo_test_runs_the_tests_under_the_targets_emulator(toolchain_engine, copy_fixture):
    project = copy_fixture("workspace-features", toolchain_engine)
    command = (toolchain_engine, project.root, "test", "--target", AARCH64)

    passed = run_xcargo(*command)
    nocapture = run_xcargo(*command, "-p", "greeter", "--", "--nocapture", "--include-ignored")
    failing = run_xcargo(*command, "-p", "greeter", "--features", "failing")

    assert passed.returncode == 0, passed.stderr[-3000:]
    assert (
        "     Running unittests src/lib.rs (target/aarch64-unknown-linux-gnu/debug/deps/greeter-"
        in passed.stderr
    )
    assert "test tests::greets_from_the_workspace ... ok" in passed.stderr
    assert "tests: 2 passed, 0 failed, 1 ignored in 3 test programs" in passed.stderr
    assert passed.stdout == "", "no artifacts: test programs are not copied out"
    assert nocapture.returncode == 0, nocapture.stderr[-3000:]
    assert "running on aarch64" in nocapture.stderr, "the test ran as aarch64 code"
    assert "tests: 3 passed, 0 failed, 0 ignored in 1 test programs" in nocapture.stderr
    assert failing.returncode == 101, failing.stderr[-3000:]
    assert "test tests::fails_on_purpose ... FAILED" in failing.stderr
    assert "this test fails on purpose" in failing.stderr
    assert (
        "tests failed: 2 passed, 1 failed, 1 ignored in 1 test programs: greeter: "
        "tests::fails_on_purpose" in failing.stderr
    )


def test_xcargo_check_checks_without_artifacts(toolchain_engine, copy_fixture):
    project = copy_fixture("workspace-features", toolchain_engine)

    checked = run_xcargo(
        toolchain_engine, project.root, "check", "--target", AARCH64, "--workspace"
    )

    assert checked.returncode == 0, checked.stderr[-3000:]
    assert f"checked {AARCH64} (debug)" in checked.stderr
    assert checked.stdout == ""
    assert not (project.root / "target").exists()


def test_xcargo_run_runs_the_one_program_under_emulation(toolchain_engine, copy_fixture):
    project = copy_fixture("workspace-features", toolchain_engine)
    command = (toolchain_engine, project.root, "run", "--target", AARCH64, "-p", "app")

    ran = run_xcargo(*command, "--bin", "bye", "--features", "extra")
    ambiguous = run_xcargo(*command)

    assert ran.returncode == 0, ran.stderr[-3000:]
    # The program's output is xcargo's stdout, and only it, as with cargo run.
    assert ran.stdout == "bye: bye from the workspace\nbye: with the extra feature\n"
    assert ambiguous.returncode == 2
    assert "xcargo run needs exactly one program to run, and the build made bye, hello" in (
        ambiguous.stderr
    )


def test_switching_features_profiles_and_rustflags_back_and_forth_rebuilds_nothing_twice(
    toolchain_engine, copy_fixture, tmp_path
):
    project = copy_fixture("workspace-features", toolchain_engine)
    variants = {
        "loud": {"cargo_args": ("-p", "app", "--features", "loud")},
        "extra": {"cargo_args": ("-p", "app", "--features", "extra")},
        "fast profile": {"cargo_args": ("-p", "app", "--profile", "fast")},
        "rustflags": {
            "cargo_args": ("-p", "app", "--features", "loud"),
            "environment": BuildEnvironment({"RUSTFLAGS": "-C debug-assertions=off"}),
        },
    }
    compiled: dict[str, list[str]] = {}

    for round_ in ("first", "again"):
        for name, options in variants.items():
            lines: list[str] = []
            result = build(toolchain_engine, project, AARCH64, tmp_path, lines=lines, **options)
            assert result.succeeded, lines[-30:]
            compiled[f"{name} {round_}"] = [line for line in lines if "Compiling" in line]

    assert all(compiled[f"{name} first"] for name in variants), compiled
    assert {name: compiled[f"{name} again"] for name in variants} == {name: [] for name in variants}
