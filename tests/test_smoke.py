"""The smoke-run's decisions, before any container: how each target's program is started, on
which glibc, and whether a file is of its target's architecture at all.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from runtimes.glibc import GlibcVersion
from runtimes.smoke import (
    DEFAULT_POLICY,
    FAILED,
    NOT_RUN,
    OFF,
    PASSED,
    REQUIRE,
    SmokeRun,
    plan_for,
    smoke_policy,
    sysroot_arches,
    sysroot_for,
    wrong_architecture,
)
from runtimes.toolchains import GNU, RECIPES
from tests.support import AARCH64, ARMV7, X86_64, load_toml

HOST_PROGRAM = Path("/bin/true")  # this x86_64 machine's own
AARCH64_LIBRARY = Path("/usr/aarch64-linux-gnu/lib/libc.so.6")  # from libc6-arm64-cross
ARMHF_LIBRARY = Path("/usr/arm-linux-gnueabihf/lib/libc.so.6")
PROGRAM = "/xcargo/target/t/release/app"
WINDOWS = "x86_64-pc-windows-gnu"


# --- sysroot_for: the oldest Debian release whose glibc meets the floor


@pytest.mark.parametrize(
    ("floor", "suite"),
    [
        ((2, 17), "bullseye"),
        ((2, 28), "bullseye"),
        ((2, 31), "bullseye"),
        ((2, 32), "bookworm"),
        ((2, 36), "bookworm"),
        ((2, 41), "trixie"),
    ],
)
def test_a_binary_runs_on_the_oldest_glibc_its_floor_allows(floor, suite):
    assert sysroot_for(GlibcVersion(floor))[0] == suite


def test_a_binary_with_no_floor_runs_on_the_newest_glibc():
    assert sysroot_for(None) == ("trixie", GlibcVersion((2, 41)))


def test_the_smoke_image_holds_a_c_library_for_every_gnu_target():
    gnu = {recipe.debian_arch for recipe in RECIPES.values() if recipe.family == GNU}
    assert set(sysroot_arches()) == gnu
    assert {"amd64", "arm64", "armhf", "armel", "i386", "riscv64", "ppc64el", "s390x"} <= gnu


# --- plan_for: the commands that start a program


def test_a_linux_binary_starts_under_qemu_on_its_floors_sysroot_with_version_first():
    plan = plan_for(AARCH64, PROGRAM, GlibcVersion((2, 28)))
    runner = ("qemu-aarch64", "-L", "/sysroots/bullseye/usr/aarch64-linux-gnu", PROGRAM)
    assert plan.tries == ((*runner, "--version"), runner)
    assert plan.summary == "under qemu-aarch64 on Debian bullseye's glibc 2.31"


@pytest.mark.parametrize(
    ("triple", "qemu", "sysroot"),
    [
        (X86_64, "qemu-x86_64", "x86_64-linux-gnu"),
        (ARMV7, "qemu-arm", "arm-linux-gnueabihf"),
        ("armv5te-unknown-linux-gnueabi", "qemu-arm", "arm-linux-gnueabi"),
        ("i686-unknown-linux-gnu", "qemu-i386", "i686-linux-gnu"),
        ("riscv64gc-unknown-linux-gnu", "qemu-riscv64", "riscv64-linux-gnu"),
        ("powerpc64le-unknown-linux-gnu", "qemu-ppc64le", "powerpc64le-linux-gnu"),
        ("s390x-unknown-linux-gnu", "qemu-s390x", "s390x-linux-gnu"),
    ],
)
def test_every_gnu_target_has_its_emulator_and_sysroot(triple, qemu, sysroot):
    [first, _] = plan_for(triple, PROGRAM, GlibcVersion((2, 36))).tries
    assert first == (qemu, "-L", f"/sysroots/bookworm/usr/{sysroot}", PROGRAM, "--version")


def test_a_wasi_program_is_validated_then_run_by_nodes_wasi():
    plan = plan_for("wasm32-wasip1", "/x/app.wasm", None)
    assert plan.check == ("wasm-validate", "/x/app.wasm")
    assert plan.tries[0][-2:] == ("/x/app.wasm", "--version")
    assert plan.tries[0][0] == "node"


def test_a_browser_wasm_module_is_only_validated_and_says_why():
    plan = plan_for("wasm32-unknown-unknown", "/x/app.wasm", None)
    assert plan.check == ("wasm-validate", "/x/app.wasm")
    assert plan.tries == ()
    assert "no runtime to start it in" in plan.summary


@pytest.mark.parametrize(
    ("triple", "qemu"),
    [("x86_64-unknown-linux-musl", "qemu-x86_64"), ("aarch64-unknown-linux-musl", "qemu-aarch64")],
)
def test_a_static_musl_binary_starts_under_qemu_with_no_sysroot(triple, qemu):
    plan = plan_for(triple, PROGRAM, None)
    assert plan.tries == ((qemu, PROGRAM, "--version"), (qemu, PROGRAM))
    assert plan.summary == f"under {qemu}, static: no C library needed"


def test_a_windows_program_starts_under_wine():
    plan = plan_for(WINDOWS, "/x/app.exe", None)
    assert plan.tries[0] == ("/usr/lib/wine/wine64", "/x/app.exe", "--version")
    assert plan.summary == "under wine"


@pytest.mark.parametrize(
    "triple", ["i686-pc-windows-gnu", "aarch64-apple-darwin", "x86_64-unknown-freebsd"]
)
def test_a_target_with_no_way_to_run_says_so(triple):
    assert plan_for(triple, PROGRAM, None) == f"xcargo has no way to start a {triple} program here"


def test_a_linux_target_xcargo_has_no_c_library_of_says_so():
    assert plan_for("x86_64-unknown-linux-gnux32", PROGRAM, None) == (
        "xcargo has no C library of x86_64-unknown-linux-gnux32 to start its programs on"
    )


# --- wrong_architecture: the file's own header against the target


def test_a_program_of_the_targets_architecture_passes_the_check():
    assert wrong_architecture(X86_64, HOST_PROGRAM) is None
    assert wrong_architecture(AARCH64, AARCH64_LIBRARY) is None
    assert wrong_architecture(ARMV7, ARMHF_LIBRARY) is None


def test_an_x86_64_program_named_as_aarch64_is_named_the_wrong_architecture():
    assert wrong_architecture(AARCH64, HOST_PROGRAM) == (
        f"wrong architecture: it is a 64-bit x86-64 program, and {AARCH64} runs AArch64"
    )


def test_a_32_bit_arm_file_is_not_an_aarch64_program():
    problem = wrong_architecture(AARCH64, ARMHF_LIBRARY)
    assert problem and problem.startswith("wrong architecture: it is a 32-bit 32-bit ARM program")


def test_a_file_that_is_not_elf_is_no_linux_program(tmp_path):
    script = tmp_path / "app"
    script.write_text("#!/bin/sh\necho hi\n")
    assert wrong_architecture(AARCH64, script) == (
        f"it is not an ELF program, which a {AARCH64} binary is"
    )


def test_a_truncated_elf_header_is_reported_not_raised(tmp_path):
    broken = tmp_path / "app"
    broken.write_bytes(HOST_PROGRAM.read_bytes()[:20])
    assert "ELF header is unreadable" in (wrong_architecture(X86_64, broken) or "")


def _pe_header(machine: int) -> bytes:
    """The headers of a PE32+ file for `machine`: a DOS stub pointing at the PE signature, the
    file header and an empty optional header (what the architecture check reads).
    """
    dos = b"MZ" + bytes(58) + struct.pack("<I", 0x40)
    file_header = struct.pack("<HHIIIHH", machine, 0, 0, 0, 0, 0xF0, 0x22)
    return dos + b"PE\0\0" + file_header + struct.pack("<H", 0x20B) + bytes(0xF0 - 2)


def test_an_x86_64_windows_program_passes_the_check(tmp_path):
    program = tmp_path / "app.exe"
    program.write_bytes(_pe_header(0x8664))
    assert wrong_architecture(WINDOWS, program) is None


def test_an_arm64_windows_program_is_the_wrong_architecture_for_x86_64_windows(tmp_path):
    program = tmp_path / "app.exe"
    program.write_bytes(_pe_header(0xAA64))
    assert wrong_architecture(WINDOWS, program) == (
        f"wrong architecture: it is a AArch64 Windows program, and {WINDOWS} runs x86-64"
    )


def test_a_linux_program_is_no_windows_program():
    problem = wrong_architecture(WINDOWS, HOST_PROGRAM) or ""
    assert problem.startswith(f"it is not a Windows program, which a {WINDOWS} binary is (")


def test_a_wasm_target_needs_a_webassembly_module(tmp_path):
    module = tmp_path / "app.wasm"
    module.write_bytes(b"\0asm\x01\0\0\0")
    assert wrong_architecture("wasm32-wasip1", module) is None
    assert wrong_architecture("wasm32-wasip1", HOST_PROGRAM) == "it is not a WebAssembly module"


# --- smoke_policy: xcargo.toml's `smoke`


def test_without_a_setting_a_smoke_run_is_reported(tmp_path):
    assert smoke_policy(load_toml(tmp_path, ""), AARCH64) == (DEFAULT_POLICY, "the default")
    assert DEFAULT_POLICY == "report"


def test_a_targets_own_smoke_setting_wins_over_the_projects(tmp_path):
    config = load_toml(
        tmp_path,
        f"""
        [container]
        smoke = "off"
        [targets."{AARCH64}".container]
        smoke = "require"
        """,
    )
    assert smoke_policy(config, AARCH64) == (
        REQUIRE,
        f'xcargo.toml: [targets."{AARCH64}".container] smoke',
    )
    assert smoke_policy(config, ARMV7) == (OFF, "xcargo.toml: [container] smoke")


def test_a_run_is_described_by_its_first_line_and_a_panic_by_its_message_too():
    panic = SmokeRun(
        FAILED,
        "under qemu-aarch64 on Debian bullseye's glibc 2.31",
        output=("thread 'main' (1) panicked at src/main.rs:6:5:", "no configuration", "note: …"),
    )
    version = SmokeRun(PASSED, "under qemu-s390x", output=("tool 1.0", "more"))

    assert panic.describe() == (
        "failed: under qemu-aarch64 on Debian bullseye's glibc 2.31: "
        "thread 'main' (1) panicked at src/main.rs:6:5: no configuration"
    )
    assert version.describe() == "passed: under qemu-s390x: tool 1.0"
    assert SmokeRun(NOT_RUN, "no runtime").describe() == "not run: no runtime"
