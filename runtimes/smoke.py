"""Each executable a build made is started once before anyone downloads it: the smoke-run.

It runs in a throwaway hardened container of the smoke image (no network, read-only, a short
time limit) that sees the build's target cache read-only. A Linux binary runs under qemu-user
for its architecture on the C library of the oldest Debian release its glibc floor allows, so
"it starts" means it starts on the systems it was promised to (a static musl binary needs no C
library); a Windows program runs under wine; a WebAssembly module is validated, and a WASI
program run. Before anything runs, the file's own header says whether it is of the target's
architecture at all. A target with no way to run says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from docker.types import Mount

from runtimes import naming
from runtimes.engine import Engine
from runtimes.glibc import GlibcVersion
from runtimes.sandbox import TARGET_DIR, BuildTimedOut, ContainerSpec, Limits, PhaseContainer
from runtimes.targets import Triple
from runtimes.toolchains import GNU, RECIPES

if TYPE_CHECKING:
    from runtimes.config import XcargoConfig

# What a failing smoke-run does to its build: fails it (the artifact is kept for a look),
# is only reported, or no smoke-run at all.
SmokePolicy = Literal["require", "report", "off"]
REQUIRE, REPORT, OFF = get_args(SmokePolicy)
DEFAULT_POLICY: SmokePolicy = "report"

PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"
STATES = (PASSED, FAILED, NOT_RUN)
SECONDS = 10
_SHOWN_LINES = 8
_SHOWN_WIDTH = 200
_WASM_MAGIC = b"\0asm"
_WASI_RUNNER = "/usr/local/lib/xcargo/wasi-run.mjs"
_WINE = "/usr/lib/wine/wine64"

# The Debian releases whose C library the smoke image holds, oldest first.
SYSROOTS: tuple[tuple[str, GlibcVersion], ...] = (
    ("bullseye", GlibcVersion((2, 31))),
    ("bookworm", GlibcVersion((2, 36))),
    ("trixie", GlibcVersion((2, 41))),
)


@dataclass(frozen=True)
class Machine:
    """An architecture as qemu-user and an ELF header name it."""

    qemu: str
    elf_machine: str
    elf_class: int
    label: str


_MACHINES = {
    "x86_64": Machine("qemu-x86_64", "EM_X86_64", 64, "x86-64"),
    "aarch64": Machine("qemu-aarch64", "EM_AARCH64", 64, "AArch64"),
    "armv7": Machine("qemu-arm", "EM_ARM", 32, "32-bit ARM"),
    "armv5te": Machine("qemu-arm", "EM_ARM", 32, "32-bit ARM"),
    "i686": Machine("qemu-i386", "EM_386", 32, "32-bit x86"),
    "riscv64gc": Machine("qemu-riscv64", "EM_RISCV", 64, "64-bit RISC-V"),
    "powerpc64le": Machine("qemu-ppc64le", "EM_PPC64", 64, "64-bit PowerPC"),
    "s390x": Machine("qemu-s390x", "EM_S390", 64, "s390x"),
}
_ELF_NAMES = {machine.elf_machine: machine.label for machine in _MACHINES.values()}
# The Windows architectures wine runs here, as a PE header names them, and the ones it may name.
_PE_MACHINES = {"x86_64": "IMAGE_FILE_MACHINE_AMD64"}
_PE_NAMES = {
    "IMAGE_FILE_MACHINE_AMD64": "x86-64",
    "IMAGE_FILE_MACHINE_I386": "32-bit x86",
    "IMAGE_FILE_MACHINE_ARM64": "AArch64",
}


@dataclass(frozen=True)
class SmokeRun:
    """What starting one artifact showed: its state, one sentence on how it ran (or why it
    could not), and, when it ran, the command, exit status, first lines and seconds.
    """

    state: str
    summary: str
    command: str = ""
    exit_code: int | None = None
    output: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.state == FAILED

    def describe(self) -> str:
        """One line for a log or a terminal: the first output line, with the next one when it
        ends in a colon (a Rust panic's first line is only where it happened: `thread 'main'
        panicked at src/main.rs:6:5:`, the message follows).
        """
        if not self.output:
            return f"{self.state}: {self.summary}"
        shown = self.output[0]
        if shown.endswith(":") and len(self.output) > 1:
            shown = f"{shown} {self.output[1]}"
        return f"{self.state}: {self.summary}: {shown}"


@dataclass(frozen=True)
class _Plan:
    """The commands that smoke-run one artifact, each a try after the one before failed, and
    the sentence that says how.
    """

    tries: tuple[tuple[str, ...], ...]
    summary: str
    # Ran first; when it fails the artifact failed (wasm-validate).
    check: tuple[str, ...] = ()


def smoke_policy(config: XcargoConfig, triple: str) -> tuple[str, str]:
    """The target's smoke policy and where it was set (xcargo.toml's key, or the default)."""
    if (found := config.setting_for(triple, "smoke")) is not None:
        return found
    return DEFAULT_POLICY, "the default"


def sysroot_for(floor: GlibcVersion | None) -> tuple[str, GlibcVersion]:
    """The oldest Debian release whose glibc is at or above the floor (the newest when none)."""
    if floor is not None:
        for suite, glibc in SYSROOTS:
            if glibc >= floor:
                return suite, glibc
    return SYSROOTS[-1]


def sysroot_arches() -> tuple[str, ...]:
    """The Debian architectures whose C library the smoke image unpacks: every gnu target's."""
    return tuple(dict.fromkeys(r.debian_arch for r in RECIPES.values() if r.family == GNU))


def wrong_architecture(triple: str, path: Path) -> str | None:
    """Why the file is not a program of the target's architecture (None: it is, or the target
    is one whose headers xcargo does not check).
    """
    parsed = Triple.parse(triple)
    arch = parsed.arch
    if parsed.os == "windows":
        return _wrong_windows_architecture(triple, arch, path)
    with path.open("rb") as stream:
        head = stream.read(4)
        if arch == "wasm32":
            return None if head == _WASM_MAGIC else "it is not a WebAssembly module"
        machine = _MACHINES.get(arch)
        if machine is None:
            return None
        if head != b"\x7fELF":
            return f"it is not an ELF program, which a {triple} binary is"
        stream.seek(0)
        # Imported when a file is read (a remembered smoke-run reads none); see glibc.py.
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile

        try:
            header = ELFFile(stream).header
        except ELFError as error:
            return f"its ELF header is unreadable ({error})"
    found, bits = header["e_machine"], 64 if header["e_ident"]["EI_CLASS"] == "ELFCLASS64" else 32
    if found != machine.elf_machine or bits != machine.elf_class:
        label = _ELF_NAMES.get(found, str(found).removeprefix("EM_"))
        return (
            f"wrong architecture: it is a {bits}-bit {label} program, "
            f"and {triple} runs {machine.label}"
        )
    return None


def _wrong_windows_architecture(triple: str, arch: str, path: Path) -> str | None:
    expected = _PE_MACHINES.get(arch)
    if expected is None:
        return None
    import pefile  # when a file is read, as pyelftools is (glibc.py)

    try:
        header = pefile.PE(str(path), fast_load=True).FILE_HEADER
    except pefile.PEFormatError as error:
        return f"it is not a Windows program, which a {triple} binary is ({error.value})"
    found = pefile.MACHINE_TYPE.get(header.Machine, hex(header.Machine))
    if found != expected:
        label = _PE_NAMES.get(found, str(found).removeprefix("IMAGE_FILE_MACHINE_"))
        return (
            f"wrong architecture: it is a {label} Windows program, "
            f"and {triple} runs {_PE_NAMES[expected]}"
        )
    return None


def plan_for(triple: str, container_path: str, floor: GlibcVersion | None) -> _Plan | str:
    """How to start the artifact, or why it cannot be started here."""
    parsed = Triple.parse(triple)
    if parsed.arch == "wasm32":
        return _wasm_plan(parsed, container_path)
    if parsed.os == "windows" and parsed.arch in _PE_MACHINES:
        return _tries((_WINE, container_path), "under wine")
    machine = _MACHINES.get(parsed.arch)
    if machine is None or parsed.os != "linux":
        return f"xcargo has no way to start a {triple} program here"
    if parsed.env.startswith("musl"):
        return _tries(
            (machine.qemu, container_path), f"under {machine.qemu}, static: no C library needed"
        )
    recipe = RECIPES.get(triple)
    if recipe is None or recipe.family != GNU:
        return f"xcargo has no C library of {triple} to start its programs on"
    suite, glibc = sysroot_for(floor)
    return _tries(
        (machine.qemu, "-L", f"/sysroots/{suite}/usr/{recipe.gnu_triple}", container_path),
        f"under {machine.qemu} on Debian {suite}'s glibc {glibc}",
    )


def _wasm_plan(parsed: Triple, container_path: str) -> _Plan:
    """Validated by wabt; run too when it is a WASI preview 1 program, which Node.js runs."""
    check = ("wasm-validate", container_path)
    if parsed.os == "wasip1":
        runner = ("node", "--no-warnings", _WASI_RUNNER, container_path)
        plan = _tries(runner, "validated by wabt, run by Node.js's WASI")
        return dataclasses.replace(plan, check=check)
    return _Plan(
        tries=(),
        summary=f"validated by wabt (a {parsed} module has no runtime to start it in)",
        check=check,
    )


def _tries(runner: tuple[str, ...], summary: str) -> _Plan:
    """`--version` first, else with no arguments."""
    return _Plan(tries=((*runner, "--version"), runner), summary=summary)


@dataclass(frozen=True)
class SmokeSetting:
    """Where a build's smoke-runs happen: the image, the target cache that holds the artifacts
    (mounted read-only), the containers' name, labels and limits.
    """

    image: str
    target_volume: str
    name: str
    labels: dict[str, str]
    limits: Limits
    # The image's id: what a remembered smoke-run is keyed on (smoke_memo).
    image_id: str = ""


def smoke_run(
    engine: Engine,
    setting: SmokeSetting | None,
    *,
    triple: str,
    host_path: Path,
    container_path: str,
    floor: GlibcVersion | None,
) -> SmokeRun:
    """Check the file's architecture, then start it. `setting` is None when the engine has no
    smoke image.
    """
    if problem := wrong_architecture(triple, host_path):
        return SmokeRun(FAILED, problem)
    plan = plan_for(triple, container_path, floor)
    if isinstance(plan, str):
        return SmokeRun(NOT_RUN, plan)
    if setting is None:
        return SmokeRun(
            NOT_RUN,
            f"the engine has no smoke image ({naming.SMOKE_IMAGE}); `xcargo images bootstrap` "
            "makes it",
        )
    if plan.check:
        exit_code, lines, seconds = _run(engine, setting, plan.check)
        if exit_code != 0:
            return _ran(FAILED, "wabt found it invalid", plan.check, exit_code, lines, seconds)
        if not plan.tries:
            return _ran(PASSED, plan.summary, plan.check, exit_code, lines, seconds)
    outcome = SmokeRun(NOT_RUN, plan.summary)
    for command in plan.tries:
        try:
            exit_code, lines, seconds = _run(engine, setting, command)
        except BuildTimedOut:
            return SmokeRun(
                PASSED,
                f"{plan.summary}: started, and still ran after {SECONDS} s (stopped)",
                command=" ".join(command),
                seconds=SECONDS,
            )
        outcome = _ran(
            PASSED if exit_code == 0 else FAILED, plan.summary, command, exit_code, lines, seconds
        )
        if not outcome.failed:
            break
    return outcome


def _run(
    engine: Engine, setting: SmokeSetting, command: Sequence[str]
) -> tuple[int, list[str], float]:
    """One smoke container: no network, read-only, the target cache read-only, SECONDS long."""
    target = Mount(target=TARGET_DIR, source=setting.target_volume, type="volume", read_only=True)
    spec = ContainerSpec(
        name=setting.name,
        image=setting.image,
        command=list(command),
        mounts=[target],
        labels=setting.labels,
        limits=setting.limits,
        working_dir="/tmp",
    )
    lines: list[str] = []
    with PhaseContainer(engine, spec) as phase:
        outcome = phase.run(lines.append, timeout=SECONDS)
    return outcome.exit_code, lines, outcome.seconds


def _ran(
    state: str,
    summary: str,
    command: Sequence[str],
    exit_code: int,
    lines: list[str],
    seconds: float,
) -> SmokeRun:
    shown = tuple(line[:_SHOWN_WIDTH] for line in lines if line.strip())[:_SHOWN_LINES]
    return SmokeRun(state, summary, " ".join(command), exit_code, shown, round(seconds, 3))
