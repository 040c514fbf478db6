"""The glibc floor: how it is written (xcargo.toml, cargo-zigbuild's `<triple>.2.17`), which
targets take one, and what glibc a real ELF file needs, checked against `objdump -T`.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from runtimes.errors import UsageError, XcargoError
from runtimes.glibc import (
    DEFAULT_FLOOR,
    LOWEST_FLOOR,
    NEWEST_FLOOR,
    GlibcNeeds,
    GlibcVersion,
    UnreadableElf,
    needed_glibc,
    parse_floor,
    split_floor_suffix,
    takes_floor,
)
from tests.support import load_toml, toml_error

AARCH64 = "aarch64-unknown-linux-gnu"
AARCH64_LIBGCC = Path("/usr/aarch64-linux-gnu/lib/libgcc_s.so.1")
X86_64_HOST = platform.machine() == "x86_64"


def v(text: str) -> GlibcVersion:
    return GlibcVersion.parse(text)


# --- Versions: two or three parts, compared as numbers


def test_versions_compare_as_numbers_not_text() -> None:
    ordered = ["2.2.5", "2.3", "2.3.4", "2.17", "2.28", "2.39"]
    assert sorted(v(text) for text in reversed(ordered)) == [v(text) for text in ordered]


def test_a_version_prints_as_written() -> None:
    assert str(v("2.28")) == "2.28"
    assert str(v("2.2.5")) == "2.2.5"
    assert v("2.28") == GlibcVersion((2, 28))


@pytest.mark.parametrize("text", ["", "2", "2.", ".28", "2..28", "2.28.1.1", "v2.28", "02.28"])
def test_a_malformed_version_is_refused(text: str) -> None:
    with pytest.raises(UsageError):
        GlibcVersion.parse(text)


# --- The floor a user writes: "MAJOR.MINOR", from 2.17 to 2.41


def test_the_floors_the_product_names() -> None:
    assert (v("2.17"), v("2.28"), v("2.41")) == (LOWEST_FLOOR, DEFAULT_FLOOR, NEWEST_FLOOR)


@pytest.mark.parametrize("text", ["2.17", "2.28", "2.31", "2.36", "2.41"])
def test_a_floor_in_range_is_accepted(text: str) -> None:
    assert parse_floor(text) == v(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2",
        "2.28.1",  # point releases add no symbol versions
        "2.2.5",
        "two.28",
        " 2.28",
        "2.28 ",
        "2.28\n",
        "2,28",
        "-2.28",
        "+2.28",
        "2.28; rm -rf /",
        "$(reboot)",
        "\uff12.\uff12\uff18",  # fullwidth digits
        "٢.٢٨",  # Arabic-Indic digits
        "2.28\x00",
        "9" * 10_000 + ".28",
        "2." + "9" * 10_000,
    ],
)
def test_anything_but_major_minor_is_refused_with_the_form(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_floor(text)
    assert 'glibc = "2.28"' in (caught.value.hint or "")
    assert len(caught.value.message) < 100  # a long input is cut, not echoed


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1.0", "below 2.17"),
        ("2.16", "below 2.17"),
        ("2.42", "newer than 2.41"),
        ("3.0", "newer than 2.41"),
    ],
)
def test_a_floor_out_of_range_says_which_end(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_floor(text)
    assert says in caught.value.message
    assert "from 2.17 to 2.41" in (caught.value.hint or "")


# --- Which targets take a floor: Linux with glibc's env


@pytest.mark.parametrize(
    "triple",
    [
        "x86_64-unknown-linux-gnu",
        AARCH64,
        "armv7-unknown-linux-gnueabihf",
        "arm-unknown-linux-gnueabi",
        "x86_64-unknown-linux-gnux32",
        "powerpc64le-unknown-linux-gnu",
        "aarch64-linux-gnu",
    ],
)
def test_linux_gnu_targets_take_a_floor(triple: str) -> None:
    assert takes_floor(triple)


@pytest.mark.parametrize(
    "triple",
    [
        "x86_64-unknown-linux-musl",
        "armv7-unknown-linux-musleabihf",
        "x86_64-pc-windows-gnu",
        "aarch64-apple-darwin",
        "aarch64-linux-android",
        "wasm32-unknown-unknown",
        "thumbv8m.main-none-eabi",
        "aarch64-unknown-linux-gnu.2.17",  # already carries one
    ],
)
def test_other_targets_take_none(triple: str) -> None:
    assert not takes_floor(triple)


@pytest.mark.parametrize("text", ["", "x86_64 unknown linux gnu", "x86_64-unknown-linux-gnu;id"])
def test_takes_floor_refuses_what_is_no_triple(text: str) -> None:
    with pytest.raises(UsageError):
        takes_floor(text)


# --- cargo-zigbuild's `<triple>.MAJOR.MINOR`


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aarch64-unknown-linux-gnu.2.17", (AARCH64, v("2.17"))),
        ("armv7-unknown-linux-gnueabihf.2.28", ("armv7-unknown-linux-gnueabihf", v("2.28"))),
        ("x86_64-unknown-linux-gnu.2.41", ("x86_64-unknown-linux-gnu", v("2.41"))),
        (AARCH64, (AARCH64, None)),
        ("thumbv8m.main-none-eabi", ("thumbv8m.main-none-eabi", None)),
        ("thumbv8m.main-none-eabihf", ("thumbv8m.main-none-eabihf", None)),
        ("x86_64-pc-windows-gnu", ("x86_64-pc-windows-gnu", None)),
        ("", ("", None)),
        ("not a triple.2.17", ("not a triple.2.17", None)),  # left for the triple check
    ],
)
def test_split_floor_suffix(text: str, expected: tuple[str, GlibcVersion | None]) -> None:
    assert split_floor_suffix(text) == expected


@pytest.mark.parametrize(
    "suffix",
    [
        ".2",
        ".2.x",
        ".1.0",
        ".2.16",
        ".3.0",
        ".",
        "..2.17",
        ".2.17.1",
        ".2.28;id",
        ".\uff12.\uff11\uff17",
    ],
)
def test_a_malformed_suffix_names_the_right_form(suffix: str) -> None:
    with pytest.raises(UsageError) as caught:
        split_floor_suffix(AARCH64 + suffix)
    assert f"{AARCH64}.2.28" in (caught.value.hint or "")
    assert "from 2.17 to 2.41" in (caught.value.hint or "")


@pytest.mark.parametrize("triple", ["x86_64-unknown-linux-musl", "x86_64-pc-windows-gnu"])
def test_a_floor_on_a_target_without_glibc_is_refused(triple: str) -> None:
    with pytest.raises(UsageError) as caught:
        split_floor_suffix(f"{triple}.2.17")
    assert "does not link glibc" in caught.value.message
    assert caught.value.hint is not None and triple in caught.value.hint


def test_a_very_long_suffix_is_refused_and_cut() -> None:
    with pytest.raises(UsageError) as caught:
        split_floor_suffix(f"{AARCH64}.2.{'1' * 100_000}")
    assert len(str(caught.value)) < 500


# --- What an ELF file needs, against objdump's reading of the same file


def objdump_needs(path: Path) -> set[tuple[str, GlibcVersion]]:
    """(symbol, version) of every undefined dynamic symbol with a GLIBC_x.y version."""
    if shutil.which("objdump") is None:
        pytest.skip("objdump (binutils) is not installed")
    out = subprocess.run(
        ["objdump", "-T", str(path)], check=True, capture_output=True, text=True
    ).stdout
    found = set()
    for line in out.splitlines():
        match = re.search(r"\*UND\*\s+\S+\s+\(?GLIBC_([0-9.]+)\)?\s+(\S+)$", line)
        if match:
            found.add((match[2], v(match[1])))
    return found


def pairs(needs: GlibcNeeds) -> set[tuple[str, GlibcVersion]]:
    return {(name, version) for version, names in needs.symbols.items() for name in names}


def compile_c(tmp_path: Path, source: str, *flags: str, name: str = "program") -> Path:
    """Build a C program with the host's gcc; skip when it cannot (no gcc, no static libc)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp_path / f"{name}.c").write_text(textwrap.dedent(source))
    binary = tmp_path / name
    done = subprocess.run(
        ["gcc", *flags, "-o", str(binary), str(tmp_path / f"{name}.c")],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"gcc {' '.join(flags)} failed here: {done.stderr.strip()[:200]}")
    return binary


LIBC_VERSION_PROGRAM = """\
    #include <gnu/libc-version.h>
    #include <stdio.h>
    int main(void) { puts(gnu_get_libc_version()); return 0; }
"""

PIDFD_PROGRAM = """\
    #define _GNU_SOURCE
    #include <sys/pidfd.h>
    #include <unistd.h>
    int main(void) { return pidfd_open(getpid(), 0) < 0; }
"""


@pytest.mark.parametrize("binary", [Path("/bin/ls"), Path("/usr/bin/python3")])
def test_a_host_binary_needs_what_objdump_says(binary: Path) -> None:
    needs = needed_glibc(binary)
    assert needs is not None
    assert needs.highest >= v("2.2.5")
    assert pairs(needs) == objdump_needs(binary)
    assert needs.highest == max(version for _, version in objdump_needs(binary))
    assert "__libc_start_main" in {name for name, _ in pairs(needs)}


def test_a_compiled_program_needs_its_symbols_versions(tmp_path: Path) -> None:
    binary = compile_c(tmp_path, LIBC_VERSION_PROGRAM)
    needs = needed_glibc(binary)
    assert needs is not None
    assert pairs(needs) == objdump_needs(binary)
    assert needs.highest == max(version for _, version in objdump_needs(binary))
    if X86_64_HOST:  # the version x86_64's glibc started at; i386 says GLIBC_2.1
        assert "gnu_get_libc_version" in needs.symbols[v("2.2.5")]
    assert all(names == tuple(sorted(names)) for names in needs.symbols.values())


def test_a_symbol_above_the_floor_is_named(tmp_path: Path) -> None:
    binary = compile_c(tmp_path, PIDFD_PROGRAM, name="pidfd")  # pidfd_open: glibc 2.36
    needs = needed_glibc(binary)
    assert needs is not None and needs.highest == v("2.36")
    assert needs.above(v("2.28")) == [("pidfd_open", v("2.36")), ("__libc_start_main", v("2.34"))]
    assert needs.above(v("2.34")) == [("pidfd_open", v("2.36"))]
    assert needs.above(v("2.36")) == []
    assert needs.describe_above(v("2.28")) == (
        "needs GLIBC_2.36 (pidfd_open), GLIBC_2.34 (__libc_start_main), above its floor 2.28"
    )
    assert needs.describe_above(v("2.36")) is None


def test_the_message_names_five_symbols_at_most() -> None:
    needs = needed_glibc(Path("/usr/bin/python3"))
    assert needs is not None
    floor = v("2.17")
    above = needs.above(floor)
    assert len(above) > 5, "python3 should need more than five symbols newer than 2.17"
    assert [version for _, version in above] == sorted(
        (version for _, version in above), reverse=True
    )
    message = needs.describe_above(floor)
    assert message is not None
    assert message.startswith(f"needs GLIBC_{needs.highest} (")
    assert message.endswith(f"and {len(above) - 5} more symbols, above its floor 2.17")
    assert sum(name in message for name, _ in above) == 5


def test_a_loader_feature_counts_though_no_symbol_carries_it(tmp_path: Path) -> None:
    """`-z pack-relative-relocs` asks for GLIBC_ABI_DT_RELR: the binary needs glibc 2.36."""
    binary = compile_c(tmp_path, LIBC_VERSION_PROGRAM, "-Wl,-z,pack-relative-relocs", name="relr")
    out = subprocess.run(["objdump", "-p", str(binary)], capture_output=True, text=True).stdout
    if "GLIBC_ABI_DT_RELR" not in out:
        pytest.skip("this linker did not emit DT_RELR")
    needs = needed_glibc(binary)
    assert needs is not None and needs.highest == v("2.36")
    assert needs.symbols[v("2.36")] == ()
    assert "GLIBC_2.36 (a loader feature, not a symbol)" in (needs.describe_above(v("2.28")) or "")


def test_an_aarch64_library_needs_what_objdump_says() -> None:
    if not AARCH64_LIBGCC.is_file():
        pytest.skip(f"{AARCH64_LIBGCC} is missing: apt-get install libgcc-s1-arm64-cross")
    needs = needed_glibc(AARCH64_LIBGCC)
    assert needs is not None
    assert needs.highest >= v("2.17")  # aarch64's glibc starts at 2.17
    assert min(needs.symbols) == v("2.17")
    assert "malloc" in needs.symbols[v("2.17")]
    assert pairs(needs) == objdump_needs(AARCH64_LIBGCC)


def test_a_static_binary_needs_nothing(tmp_path: Path) -> None:
    binary = compile_c(tmp_path, LIBC_VERSION_PROGRAM, "-static", name="static")
    assert needed_glibc(binary) is None


def test_a_file_that_is_not_elf_needs_nothing(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("GLIBC_2.39 pidfd_spawnp\n")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hello\n")
    assert needed_glibc(text) is None
    assert needed_glibc(empty) is None
    assert needed_glibc(script) is None


@pytest.mark.parametrize("size", [4, 20, 100, 3000])
def test_a_truncated_elf_file_is_an_error_naming_it(tmp_path: Path, size: int) -> None:
    cut = tmp_path / f"ls-first-{size}-bytes"
    cut.write_bytes(Path("/bin/ls").read_bytes()[:size])
    with pytest.raises(UnreadableElf) as caught:
        needed_glibc(cut)
    assert str(cut) in caught.value.message
    assert "truncated or corrupt ELF file" in caught.value.message
    assert isinstance(caught.value, XcargoError) and caught.value.hint


def test_a_corrupt_section_table_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    data = bytearray(Path("/bin/ls").read_bytes())
    shoff = int.from_bytes(data[0x28:0x30], "little")  # ELF64 e_shoff
    data[shoff + 64 : shoff + 64 * 4] = b"\xff" * 64 * 3  # sections 1 to 3: garbage
    corrupt = tmp_path / "ls-corrupt"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(UnreadableElf):
        needed_glibc(corrupt)


def test_a_file_that_cannot_be_read_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(UnreadableElf) as caught:
        needed_glibc(tmp_path / "missing")
    assert str(tmp_path / "missing") in caught.value.message
    with pytest.raises(UnreadableElf):
        needed_glibc(tmp_path)  # a directory


# --- xcargo.toml: `[container] glibc` for the project, `[targets."<triple>".container] glibc`


def test_the_targets_floor_wins_over_the_projects(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path,
        f"""\
        [container]
        glibc = "2.28"

        [targets."{AARCH64}".container]
        glibc = "2.17"
        """,
    )
    assert config.container.glibc == v("2.28")
    assert config.for_target(AARCH64).glibc == v("2.17")
    assert config.setting_for(AARCH64, "glibc") == (
        v("2.17"),
        f'xcargo.toml: [targets."{AARCH64}".container] glibc',
    )
    assert config.setting_for("x86_64-unknown-linux-gnu", "glibc") == (
        v("2.28"),
        "xcargo.toml: [container] glibc",
    )
    assert not config.warnings


def test_a_project_floor_alone_applies_to_every_target(tmp_path: Path) -> None:
    config = load_toml(tmp_path, '[container]\nglibc = "2.17"\n')
    assert config.setting_for(AARCH64, "glibc") == (v("2.17"), "xcargo.toml: [container] glibc")


def test_no_floor_in_the_file_leaves_the_default_to_the_caller(tmp_path: Path) -> None:
    assert (
        load_toml(tmp_path, '[container]\nruntime = "auto"\n').setting_for(
            AARCH64,
            "glibc",
        )
        is None
    )


def test_an_unquoted_floor_is_refused_with_a_quoting_hint(tmp_path: Path) -> None:
    err = toml_error(tmp_path, '[container]\nruntime = "auto"\nglibc = 2.28\n')
    assert (err.file, err.line, err.key) == ("xcargo.toml", 3, "container.glibc")
    assert "expected a string, got 2.28" in err.message
    assert 'glibc = "2.28"' in (err.hint or "")


def test_a_floor_below_zigs_lowest_is_refused(tmp_path: Path) -> None:
    err = toml_error(tmp_path, f'[targets."{AARCH64}".container]\nglibc = "1.0"\n')
    assert (err.line, err.key) == (2, f"targets.{AARCH64}.container.glibc")
    assert "below 2.17" in err.message
    assert "from 2.17 to 2.41" in (err.hint or "")


@pytest.mark.parametrize("value", ['"2.28.1"', '"latest"', "true", "2", '["2.28"]'])
def test_other_floor_values_are_refused_where_they_are(tmp_path: Path, value: str) -> None:
    err = toml_error(tmp_path, f"[container]\nglibc = {value}\n")
    assert (err.line, err.key) == (2, "container.glibc")
