"""A warm no-change rebuild against the container floor, side by side in one run.

Rounds alternate, so both see the same machine load:
- floor: a bare container start of the toolchain image running `cargo --version`
  (`docker run --rm IMAGE cargo --version` through the engine's own CLI, as a user times it);
- `xcargo build --target T` of a copy of the example crate, no change since its last build
  (Python's start and imports, the build container, the artifact, the smoke-run: all of it);
- `xcargo --version`: Python's start and the CLI's imports alone, the part no container pays.

It prints the medians and the ratio of the rebuild to the floor (the aim: at most 2x).

    .venv/bin/python bench/warm_bench.py [--target TRIPLE] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runtimes import naming
from runtimes.bootstrap import bootstrap
from runtimes.engine import connect
from runtimes.project import locate_project
from runtimes.toolchains import NEWEST_CHANNEL

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "hello-cross"
XCARGO = Path(sys.executable).parent / "xcargo"


def _timed(command: list[str], **options: object) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **options)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="aarch64-unknown-linux-gnu")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    engine = connect()
    bootstrap(engine, [args.target], on_line=lambda _line: None)
    image = naming.toolchain_image(args.target, NEWEST_CHANNEL)
    engine_cli = "podman" if engine.kind == "podman" else "docker"
    floor_command = [engine_cli, "run", "--rm", image, "cargo", "--version"]
    print(f"engine: {engine.description}\ntarget: {args.target} (debug), fixture: {FIXTURE.name}")
    with tempfile.TemporaryDirectory(prefix="xcargo-bench-") as work:
        project = Path(work) / "hello-cross"
        shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("target"))
        environment = {**os.environ, "XCARGO_STATE_DIR": str(Path(work) / "state")}
        build = [str(XCARGO), "build", "--target", args.target]
        try:
            for _ in range(2):  # cold, then the first warm one (its stamps written)
                _timed(build, cwd=project, env=environment)
            rows: dict[str, list[float]] = {"floor": [], "rebuild": [], "python": []}
            for _ in range(args.repeat):
                rows["floor"].append(_timed(floor_command))
                rows["rebuild"].append(_timed(build, cwd=project, env=environment))
                rows["python"].append(_timed([str(XCARGO), "--version"]))
        finally:
            key = locate_project(project).key
            for volume in engine.client.volumes.list(
                filters={"label": f"{naming.LABEL_PROJECT}={key}"}
            ):
                volume.remove(force=True)
    floor, rebuild, python = (statistics.median(rows[name]) for name in rows)
    ratio = rebuild / floor
    print(f"\n| warm no-change rebuild, median of {args.repeat} | seconds | ratio to the floor |")
    print("|---|---|---|")
    print(f"| floor: `{engine_cli} run --rm IMAGE cargo --version` | {floor:.2f} s | 1.00x |")
    print(f"| `xcargo build --target {args.target}`, no change | {rebuild:.2f} s | {ratio:.2f}x |")
    print(f"| of which Python's start and imports (`xcargo --version`) | {python:.2f} s | |")
    verdict = "meets" if ratio <= 2 else "MISSES"
    print(f"\nbar (a no-change rebuild at most 2x the floor): {verdict} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
