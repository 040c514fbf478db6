"""What isolating builds costs on a warm rebuild: the build phase as xcargo runs it now (the
shared CARGO_HOME read-only, a private CARGO_HOME, the disk limit watched) against the same
phase laid out as before (the shared CARGO_HOME mounted read-write, nothing watched), on the
same warm volumes, alternating so that both see the same machine load.

    .venv/bin/python bench/isolation_bench.py [--target TRIPLE] [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from docker.types import Mount

from runtimes import host, naming
from runtimes.bootstrap import bootstrap
from runtimes.build_values import BuildRequest, BuildResult
from runtimes.config import load_config
from runtimes.cross_build import run_build
from runtimes.engine import Engine, connect
from runtimes.project import locate_project
from runtimes.sandbox import CARGO_HOME_DIR, SOURCE_DIR, TARGET_DIR, ContainerSpec, PhaseContainer

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "hello-cross"


def _now(engine: Engine, request: BuildRequest) -> tuple[float, float, BuildResult]:
    """(build phase seconds, whole build seconds, result) of a build as xcargo runs it."""
    started = time.perf_counter()
    result = run_build(engine, request, lambda _line: None)
    if not result.succeeded:
        raise SystemExit(f"build failed: {result.failure}")
    return result.phases["build"], time.perf_counter() - started, result


def _before(engine: Engine, request: BuildRequest, result: BuildResult) -> float:
    """Build phase seconds with the former layout: the shared CARGO_HOME read-write."""
    command = [
        "cargo", "build", "--offline", "--locked", "--target", request.triple,
        "--message-format=json-render-diagnostics",
    ]  # fmt: skip
    mounts = [
        Mount(target=SOURCE_DIR, source=str(request.project.root), type="bind", read_only=True),
        Mount(target=CARGO_HOME_DIR, source=result.volumes.cargo_home, type="volume"),
        Mount(target=TARGET_DIR, source=result.volumes.target, type="volume"),
    ]
    environment = {
        "CARGO_HOME": CARGO_HOME_DIR,
        "CARGO_TARGET_DIR": TARGET_DIR,
        "CARGO_TERM_COLOR": "never",
        "HOME": "/tmp",
    }
    spec = ContainerSpec(
        name="xcargo-bench-former-layout",
        image=result.image_id,
        command=command,
        mounts=mounts,
        environment=environment,
    )
    with PhaseContainer(engine, spec) as phase:
        outcome = phase.run(lambda _line: None, timeout=600)
    if outcome.exit_code != 0:
        raise SystemExit("the former layout's build failed")
    return outcome.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="aarch64-unknown-linux-gnu")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    engine = connect()
    bootstrap(engine, [args.target], on_line=lambda _line: None)
    with tempfile.TemporaryDirectory(prefix="xcargo-bench-") as work:
        root = Path(work) / "hello-cross"
        shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("target"))
        project = locate_project(root)
        request = BuildRequest(
            project=project,
            triple=args.target,
            config=load_config(root),
            state_dir=Path(work) / "state",
            ca_bundle=host.ca_bundle(),
        )
        _, _, result = _now(engine, request)  # warm both caches
        _before(engine, request, result)
        now_phase, now_total, before_phase = [], [], []
        try:
            for _ in range(args.repeat):
                phase, total, result = _now(engine, request)
                now_phase.append(phase)
                now_total.append(total)
                before_phase.append(_before(engine, request, result))
        finally:
            label = f"{naming.LABEL_PROJECT}={project.key}"
            for volume in engine.client.volumes.list(filters={"label": label}):
                volume.remove(force=True)
    before, now = statistics.median(before_phase), statistics.median(now_phase)
    print(f"engine: {engine.description}\ntarget: {args.target} (debug), fixture: hello-cross")
    print(f"\n| warm no-change rebuild, median of {args.repeat} | seconds | ratio |")
    print("|---|---|---|")
    print(f"| build phase, shared CARGO_HOME read-write (before) | {before:.2f} s | 1.00x |")
    print(
        f"| build phase, read-only CARGO_HOME + private one + disk watch (now) | {now:.2f} s "
        f"| {now / before:.2f}x |"
    )
    print(f"| whole build now (prepare, fetch skipped, build, collect) | "
          f"{statistics.median(now_total):.2f} s | |")  # fmt: skip


if __name__ == "__main__":
    main()
