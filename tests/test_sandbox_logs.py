"""A phase container's log reaches the caller whole: every line, in order, never cut by the
other stream, on Docker and on Podman, however fast the container writes.
"""

from __future__ import annotations

import pytest

from runtimes import naming
from runtimes.engine import Engine
from runtimes.sandbox import ContainerSpec, PhaseContainer
from runtimes.toolchains import NEWEST_CHANNEL
from tests.support import AARCH64

pytestmark = pytest.mark.engine

LINES = 20_000
# Each stderr line is written in two pieces with a whole stdout line between them, as cargo's
# log (stderr) and its JSON messages (stdout) may interleave.
INTERLEAVED = (
    f'i=0; while [ $i -lt {LINES} ]; do printf "err $i " >&2; echo "out $i"; '
    'echo "end" >&2; i=$((i+1)); done'
)


def run_lines(engine: Engine, script: str, name: str) -> list[str]:
    spec = ContainerSpec(
        name=name,
        image=naming.toolchain_image(AARCH64, NEWEST_CHANNEL),
        command=["sh", "-c", script],
        mounts=[],
        working_dir="/",
    )
    lines: list[str] = []
    with PhaseContainer(engine, spec) as phase:
        outcome = phase.run(lines.append, timeout=300)
    assert outcome.exit_code == 0
    return lines


def test_interleaved_stdout_and_stderr_lines_arrive_whole_and_in_order(toolchain_engine):
    lines = run_lines(
        toolchain_engine, INTERLEAVED, f"xcargo-test-interleaved-{toolchain_engine.kind}"
    )

    assert [line for line in lines if line.startswith("out ")] == [f"out {n}" for n in range(LINES)]
    assert [line for line in lines if line.startswith("err ")] == [
        f"err {n} end" for n in range(LINES)
    ]
    assert len(lines) == 2 * LINES


def test_a_log_far_past_the_engines_log_rotation_size_loses_nothing(toolchain_engine):
    """30 MB of log: Docker here rotates container logs at 10 MB, which used to end the
    stream; Podman 4's follow stream used to skip lines when the reader fell behind.
    """
    count = 300_000
    script = (
        f'seq -f "line %06g of a long log, padded to about a hundred bytes ......" 0 {count - 1}'
    )
    lines = run_lines(toolchain_engine, script, f"xcargo-test-long-log-{toolchain_engine.kind}")

    assert len(lines) == count
    assert [line[5:11] for line in lines] == [f"{n:06}" for n in range(count)]
