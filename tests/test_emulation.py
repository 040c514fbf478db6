"""How `xcargo test` finds cargo's test programs and reads what libtest printed, and how a
program of the target is started under its emulator.
"""

from __future__ import annotations

import pytest

from runtimes.emulation import LibtestProgram, _LibtestReader, libtest_programs, runner_for
from runtimes.errors import UsageError
from runtimes.glibc import GlibcVersion

AARCH64 = "aarch64-unknown-linux-gnu"


def artifact(kind: str, src: str, *, test: bool, executable: str | None) -> dict[str, object]:
    name = src.rsplit("/", 1)[-1].removesuffix(".rs")
    return {
        "reason": "compiler-artifact",
        "package_id": "path+file:///xcargo/src/greeter#0.1.0",
        "manifest_path": "/xcargo/src/greeter/Cargo.toml",
        "target": {"kind": [kind], "name": name, "src_path": f"/xcargo/src/greeter/{src}"},
        "profile": {"test": test},
        "executable": executable,
    }


def test_the_test_programs_are_the_test_profiles_executables():
    messages = [
        artifact("lib", "src/lib.rs", test=False, executable=None),
        artifact("lib", "src/lib.rs", test=True, executable="/xcargo/target/a/debug/deps/g-1"),
        artifact("test", "tests/api.rs", test=True, executable="/xcargo/target/a/debug/deps/api-2"),
        artifact("bin", "src/main.rs", test=False, executable="/xcargo/target/a/debug/greeter"),
        {"reason": "build-finished", "success": True},
    ]

    assert libtest_programs(messages) == [
        LibtestProgram(
            "/xcargo/target/a/debug/deps/g-1",
            "/xcargo/src/greeter",
            "greeter",
            "unittests src/lib.rs",
        ),
        LibtestProgram(
            "/xcargo/target/a/debug/deps/api-2", "/xcargo/src/greeter", "greeter", "tests/api.rs"
        ),
    ]


def test_test_programs_run_in_cargos_order_not_in_build_order():
    messages = [
        artifact("test", "tests/zeta.rs", test=True, executable="/t/zeta-1"),
        artifact("bin", "src/main.rs", test=True, executable="/t/main-2"),
        artifact("test", "tests/alpha.rs", test=True, executable="/t/alpha-3"),
        artifact("lib", "src/lib.rs", test=True, executable="/t/lib-4"),
    ]

    assert [program.label for program in libtest_programs(messages)] == [
        "unittests src/lib.rs",
        "unittests src/main.rs",
        "tests/alpha.rs",
        "tests/zeta.rs",
    ]


def test_libtests_result_lines_and_failing_tests_are_read_and_every_line_passed_on():
    shown: list[str] = []
    reader = _LibtestReader(
        LibtestProgram("p", "/d", "greeter", "unittests src/lib.rs"), shown.append
    )
    lines = [
        "running 3 tests",
        "test tests::a ... ok",
        "test tests::b ... FAILED",
        "test tests::c ... ignored, slow",
        "test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out",
    ]
    for line in lines:
        reader.read(line)

    assert shown == lines
    assert reader.results == [(1, 1, 1)]
    assert reader.failures == ["greeter: tests::b"]


def test_a_program_runs_under_qemu_on_the_floors_c_library():
    assert runner_for(AARCH64, "/t/p", GlibcVersion((2, 28))) == (
        "qemu-aarch64",
        "-L",
        "/sysroots/bullseye/usr/aarch64-linux-gnu",
        "/t/p",
    )


def test_a_target_with_no_runtime_here_says_so():
    with pytest.raises(UsageError, match="wasm32-unknown-unknown programs cannot be run here"):
        runner_for("wasm32-unknown-unknown", "/t/p.wasm", None)
