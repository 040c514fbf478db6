"""A program of the target run under its emulator, as `cargo test` and `cargo run` run theirs:
in a hardened container of the smoke image (qemu-user on the C library the glibc floor allows,
wine, Node.js's WASI), with no network, the build's target cache and the project read-only,
in the package's directory, for as long as the build has left.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from docker.types import Mount

from runtimes.engine import Engine
from runtimes.errors import UsageError
from runtimes.glibc import GlibcVersion
from runtimes.sandbox import TARGET_DIR, ContainerSpec, PhaseContainer
from runtimes.smoke import SmokeSetting, plan_for

LineCallback = Callable[[str], None]

# What libtest prints at the end of a test binary's run, and for a failing test.
_RESULT = re.compile(
    r"^test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored; (\d+) measured"
)
_FAILED_TEST = re.compile(r"^test (\S+) \.\.\. FAILED$")


@dataclass(frozen=True)
class LibtestProgram:
    """A test binary cargo built, and where its package is in the container."""

    container_path: str
    package_dir: str
    package: str
    # "unittests src/lib.rs", "tests/api.rs": what `cargo test` says it is running.
    label: str


@dataclass
class LibtestReport:
    """The sum of the test binaries' results, as libtest printed them."""

    passed: int = 0
    failed: int = 0
    ignored: int = 0
    programs: int = 0
    failures: list[str] = field(default_factory=list)
    # A program that ended without a result line (crashed, or could not start).
    broken: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return not self.failed and not self.broken

    def as_record(self) -> dict[str, object]:
        """What the server stores and shows of a test run."""
        return {
            "passed": self.passed,
            "failed": self.failed,
            "ignored": self.ignored,
            "programs": self.programs,
            "failures": self.failures,
            "broken": self.broken,
        }

    def summary(self) -> str:
        broken = f", {len(self.broken)} programs ended without a result" if self.broken else ""
        return (
            f"{self.passed} passed, {self.failed} failed, {self.ignored} ignored in "
            f"{self.programs} test programs{broken}"
        )


# cargo runs a package's test programs in the order of its target kinds, then by name.
_KIND_ORDER = ("lib", "rlib", "dylib", "cdylib", "staticlib", "proc-macro", "bin", "test", "bench")


def libtest_programs(messages: Iterable[dict[str, object]]) -> list[LibtestProgram]:
    """The test binaries among cargo's compiler-artifact messages, in the order `cargo test`
    runs them: by package, then unit tests of the library, of the binaries, the integration
    tests and the benchmarks, each by name (cargo's messages come in build order instead).
    """
    found = []
    for message in messages:
        profile = message.get("profile") or {}
        executable = message.get("executable")
        if message.get("reason") != "compiler-artifact" or not executable:
            continue
        if not (isinstance(profile, dict) and profile.get("test")):
            continue
        target = message.get("target") or {}
        target = target if isinstance(target, dict) else {}
        package_dir = str(PurePosixPath(str(message.get("manifest_path", ""))).parent)
        program = LibtestProgram(
            container_path=str(executable),
            package_dir=package_dir,
            package=str(message.get("package_id", "")).split("#")[0].rsplit("/", 1)[-1],
            label=_label(target, package_dir),
        )
        found.append((_order(message.get("package_id"), target), program))
    return [program for _order_key, program in sorted(found, key=lambda pair: pair[0])]


def _order(package_id: object, target: dict[str, object]) -> tuple[str, int, str]:
    kinds = target.get("kind") or []
    kind = str(kinds[0]) if isinstance(kinds, list) and kinds else ""
    rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
    return str(package_id), rank, str(target.get("name", ""))


def _label(target: dict[str, object], package_dir: str) -> str:
    kinds = target.get("kind") or []
    source = str(target.get("src_path", "")).removeprefix(package_dir + "/")
    return f"unittests {source}" if "test" not in kinds else source


def runner_for(triple: str, container_path: str, floor: GlibcVersion | None) -> tuple[str, ...]:
    """The command that starts the program under the target's emulator, without arguments."""
    plan = plan_for(triple, container_path, floor)
    if isinstance(plan, str) or not plan.tries:
        reason = plan if isinstance(plan, str) else plan.summary
        raise UsageError(
            f"{triple} programs cannot be run here: {reason}",
            hint="use xcargo build, and run the program on a machine of the target",
        )
    return plan.tries[-1]


def run_emulated(
    engine: Engine,
    setting: SmokeSetting,
    command: Sequence[str],
    *,
    source_volume: Mount,
    working_dir: str,
    environment: dict[str, str],
    on_line: LineCallback,
    timeout: float,
) -> int:
    """Run one program to its end (or the timeout) with its output streamed; its exit status."""
    target = Mount(target=TARGET_DIR, source=setting.target_volume, type="volume", read_only=True)
    spec = ContainerSpec(
        name=setting.name,
        image=setting.image,
        command=list(command),
        mounts=[target, source_volume],
        environment=environment,
        labels=setting.labels,
        limits=setting.limits,
        working_dir=working_dir,
    )
    with PhaseContainer(engine, spec) as phase:
        return phase.run(on_line, timeout=timeout).exit_code


def run_tests(
    engine: Engine,
    setting: SmokeSetting,
    programs: Sequence[LibtestProgram],
    *,
    triple: str,
    floor: GlibcVersion | None,
    arguments: Sequence[str],
    source_volume: Mount,
    environment: Mapping[str, str],
    on_line: LineCallback,
    remaining: Callable[[], float],
) -> LibtestReport:
    """Each test program under emulation, as `cargo test` runs them (all of them, so one
    failing program does not hide the others); libtest's output goes to `on_line`.
    """
    report = LibtestReport()
    for program in programs:
        on_line(f"     Running {program.label} ({_shown(program.container_path)})")
        reader = _LibtestReader(program, on_line)
        exit_code = run_emulated(
            engine,
            setting,
            [*runner_for(triple, program.container_path, floor), *arguments],
            source_volume=source_volume,
            working_dir=program.package_dir,
            environment={
                **environment,
                "CARGO_MANIFEST_DIR": program.package_dir,
                "CARGO_PKG_NAME": program.package,
            },
            on_line=reader.read,
            timeout=remaining(),
        )
        report.programs += 1
        report.failures += reader.failures
        for passed, failed, ignored in reader.results:
            report.passed += passed
            report.failed += failed
            report.ignored += ignored
        if not reader.results and exit_code != 0:
            report.broken.append(f"{program.label}: exit status {exit_code}")
    return report


@dataclass
class _LibtestReader:
    """Passes one test program's lines on, noting its result lines and failing tests."""

    program: LibtestProgram
    on_line: LineCallback
    results: list[tuple[int, int, int]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def read(self, line: str) -> None:
        if matched := _RESULT.match(line):
            passed, failed, ignored, _measured = (int(group) for group in matched.groups())
            self.results.append((passed, failed, ignored))
        elif failed_test := _FAILED_TEST.match(line):
            self.failures.append(f"{self.program.package}: {failed_test.group(1)}")
        self.on_line(line)


def _shown(container_path: str) -> str:
    """A test binary's path as cargo shows it: relative to the target directory's parent."""
    return f"target/{container_path.removeprefix(TARGET_DIR + '/')}"
