"""A second project with the same dependencies, built cold, with and without the shared
compiler cache (issue: "cold builds that share compiled dependencies").

One copy of the fixture crate is built first so the compiler cache holds its dependencies.
Then, --repeat times, two new copies (each a project of its own, with a cold target cache)
are built one after the other: one with `compiler_cache = false`, one with the cache on, so
both see the same machine load. CARGO_HOME is warm for both (its downloads are not what is
compared). Medians of the whole build and of its build phase, and the ratio.

    .venv/bin/python bench/compiler_cache_bench.py [--target TRIPLE] [--repeat N] [--release]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from cache_bench import FIXTURE, _fmt

from runtimes import host, naming
from runtimes.bootstrap import bootstrap
from runtimes.build_values import BuildRequest, BuildResult
from runtimes.config import load_config
from runtimes.cross_build import run_build
from runtimes.engine import Engine, connect
from runtimes.project import CargoProject, locate_project
from runtimes.vocabulary import BUILDING

OFF = "[container.cache]\ncompiler_cache = false\n"


def _copy(workdir: Path, name: str, xcargo_toml: str = "") -> CargoProject:
    destination = workdir / name / "hello-cross"
    shutil.copytree(FIXTURE, destination, ignore=shutil.ignore_patterns("target"))
    if xcargo_toml:
        (destination / "xcargo.toml").write_text(xcargo_toml)
    return locate_project(destination)


def _build(
    engine: Engine, project: CargoProject, args: argparse.Namespace
) -> tuple[float, BuildResult]:
    request = BuildRequest(
        project=project,
        triple=args.target,
        config=load_config(project.root),
        release=args.release,
        state_dir=project.root.parent / "state",
        ca_bundle=host.ca_bundle(),
    )
    started = time.perf_counter()
    result = run_build(engine, request, lambda _line: None)
    elapsed = time.perf_counter() - started
    if not result.succeeded:
        raise SystemExit(f"{project.root} failed to build: {result.failure}")
    try:
        return elapsed, result
    finally:
        label = f"{naming.LABEL_PROJECT}={project.key}"
        for volume in engine.client.volumes.list(filters={"label": label}):
            volume.remove(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="aarch64-unknown-linux-gnu")
    parser.add_argument("--repeat", type=int, default=3, help="cold builds per variant")
    parser.add_argument("--release", action="store_true")
    args = parser.parse_args()

    engine = connect()
    bootstrap(engine, [args.target], on_line=lambda _line: None)
    mode = "release" if args.release else "debug"
    print(f"engine: {engine.description}\ntarget: {args.target} ({mode}), fixture: hello-cross")
    totals: dict[str, list[float]] = {"without": [], "with": []}
    phases: dict[str, list[float]] = {"without": [], "with": []}
    with tempfile.TemporaryDirectory(prefix="xcargo-bench-") as work:
        _, warm = _build(engine, _copy(Path(work), "warm-up"), args)
        print(f"  warm-up project: {warm.compiler_cache.summary() if warm.compiler_cache else '-'}")
        for round_ in range(args.repeat):
            for variant, config in (("without", OFF), ("with", "")):
                project = _copy(Path(work), f"{variant}-{round_}", config)
                elapsed, result = _build(engine, project, args)
                totals[variant].append(elapsed)
                phases[variant].append(result.phases[BUILDING.timing])
                use = result.compiler_cache
                counts = f", {use.hits} hits, {use.misses} misses" if use else ""
                print(
                    f"  cold build, {variant + ' compiler cache':<23} {elapsed:6.2f} s "
                    f"(build phase {result.phases[BUILDING.timing]:.2f} s{counts})",
                    flush=True,
                )
    _print_table(totals, phases)


def _print_table(totals: dict[str, list[float]], phases: dict[str, list[float]]) -> None:
    print(f"\n| a second project, cold, median of {len(totals['with'])} | without | with | ratio |")
    print("|---|---|---|---|")
    for row, figures in (("whole build", totals), ("build phase", phases)):
        without = statistics.median(figures["without"])
        with_cache = statistics.median(figures["with"])
        print(f"| {row} | {_fmt(without)} | {_fmt(with_cache)} | {without / with_cache:.1f}x |")
    ratio = statistics.median(totals["without"]) / statistics.median(totals["with"])
    print(f"bar (at least 3x faster): {'meets' if ratio >= 3 else 'MISSES'} ({ratio:.1f}x)")


if __name__ == "__main__":
    main()
