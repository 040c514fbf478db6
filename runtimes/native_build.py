"""The design's Native strategy: the CLI builds the host's own target with the host's own
cargo, no container, when `use_when` says so (e.g. `target.os != host.os` for a Linux target
on Linux). The server never builds natively: its builds run crate code it did not write, which
only a hardened container may run.

A native build is the user's own cargo in their own checkout: it fetches as cargo always does,
writes target/ in place and has none of the container's limits. Its artifacts are checked
against a glibc floor like any other, but the default floor is the host's own glibc: a native
binary is for the machine it is built on.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from runtimes import vocabulary
from runtimes.artifacts import (
    artifact_paths,
    describe_file,
    floor_failure,
    parse_message,
    with_glibc,
)
from runtimes.build_values import BuildRequest, BuildResult
from runtimes.errors import UsageError, XcargoError
from runtimes.glibc import GlibcVersion
from runtimes.linking import choose_floor
from runtimes.placement import StrategyChoice
from runtimes.project import rust_requirements
from runtimes.rust_versions import RustVersion
from runtimes.toolchain_choice import check_requirements
from runtimes.vocabulary import BUILDING, COLLECTING, Phase

LineCallback = Callable[[str], None]
PhaseCallback = Callable[[Phase], None]


class NativeTimeout(XcargoError):
    """The host's cargo ran past the build's time limit."""

    kind = vocabulary.TIMEOUT


def run_native(
    request: BuildRequest,
    placement: StrategyChoice,
    on_line: LineCallback,
    on_phase: PhaseCallback,
) -> BuildResult:
    """Build the host's own target with the host's cargo, in the project's own directory."""
    cargo, rustc = _tool("cargo"), _tool("rustc")
    version = _version(rustc)
    check_requirements(version, rust_requirements(request.project), f"the host's rustc {version}")
    floor = choose_floor(
        request.triple,
        request.config,
        named=request.glibc_floor,
        default=_host_glibc(),
        default_by="the host's own glibc: a native binary is for the machine it is built on",
    )
    on_line(f"xcargo: strategy native: {placement.reason}; the host's cargo ({cargo})")
    result = BuildResult(
        triple=request.triple,
        image="",
        image_source="",
        image_reason="native: no image",
        image_id="",
        image_digest="",
        rustc_version=version,
        toolchain=RustVersion.parse(version).channel,
        toolchain_reason="the host's own rustc (native)",
        strategy=placement.strategy,
        strategy_reason=placement.reason,
        volumes=None,
        glibc_floor=str(floor.version) if floor else "",
    )
    command = [cargo, "build", "--locked", "--target", request.triple]
    command += ["--message-format=json-render-diagnostics"]
    if request.release:
        command.append("--release")
    on_phase(BUILDING)
    started = time.monotonic()
    messages = _run(command, request, on_line)
    result.phases[BUILDING.timing] = time.monotonic() - started
    result.exit_code = messages.exit_code
    if messages.exit_code != 0:
        result.failure = "cargo build failed (see the log above)"
        return result
    on_phase(COLLECTING)
    started = time.monotonic()
    found = artifact_paths(messages.all)
    result.artifacts = [with_glibc(describe_file(Path(path))) for path in found]
    result.phases[COLLECTING.timing] = time.monotonic() - started
    result.failure = floor_failure(result.artifacts, result.glibc_floor)
    return result


class _Messages:
    def __init__(self) -> None:
        self.all: list[dict[str, object]] = []
        self.exit_code = -1


def _run(command: list[str], request: BuildRequest, on_line: LineCallback) -> _Messages:
    """Run cargo, its diagnostics to the log and its JSON messages kept for the artifacts."""
    messages = _Messages()
    deadline = time.monotonic() + request.timeout
    with subprocess.Popen(
        command,
        cwd=request.project.root,
        env={**os.environ, **request.environment.values},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            message = parse_message(line.rstrip("\n"))
            if message is not None:
                messages.all.append(message)
            else:
                on_line(line.rstrip("\n"))
            if time.monotonic() > deadline:
                process.kill()
                raise NativeTimeout(f"the native build ran past {request.timeout:.0f} s")
    messages.exit_code = process.returncode
    return messages


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise UsageError(
            f"use_when chose a native build, but there is no {name} on PATH",
            hint="install Rust on this machine, or let use_when choose a container",
        )
    return found


def _version(rustc: str) -> str:
    """`1.95.0` from `rustc 1.95.0 (59807616e 2026-04-14)`."""
    output = subprocess.run([rustc, "--version"], capture_output=True, text=True, check=False)
    words = output.stdout.split()
    return words[1] if len(words) > 1 and words[0] == "rustc" else output.stdout.strip()


def _host_glibc() -> GlibcVersion:
    library, version = platform.libc_ver()
    return GlibcVersion.parse(version) if library == "glibc" and version else GlibcVersion((2, 41))
