"""The design's "Volume Caching Benchmarks" table, measured on this machine.

Two copies of the fixture crate are built side by side, one with caching off
(`cache.enabled = false`: scratch volumes, removed after each build) and one with caching on,
alternating so that both see the same machine load. Rows: first build on cold caches, rebuild
with no change (median of --repeat runs), rebuild with one file changed. The CLI's own wall
time for the no-change rebuild (process start included) is measured too.

The run starts from a cold registry cache: it removes xcargo's CARGO_HOME volume of the
toolchain (any later build fills it again).

    .venv/bin/python bench/cache_bench.py [--target TRIPLE] [--repeat N] [--release]
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
from dataclasses import dataclass, field
from pathlib import Path

from runtimes import host, naming
from runtimes.bootstrap import bootstrap
from runtimes.build_values import BuildRequest, BuildResult
from runtimes.config import load_config
from runtimes.cross_build import run_build
from runtimes.engine import Engine, connect
from runtimes.project import CargoProject, locate_project

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "hello-cross"
XCARGO = Path(sys.executable).parent / "xcargo"


@dataclass
class Variant:
    """One copy of the crate and its measurements."""

    label: str
    project: CargoProject
    state_dir: Path
    seconds: dict[str, list[float]] = field(default_factory=dict)
    downloads: dict[str, int] = field(default_factory=dict)


def _copy(workdir: Path, label: str, caching: bool) -> Variant:
    destination = workdir / label / "hello-cross"
    shutil.copytree(FIXTURE, destination, ignore=shutil.ignore_patterns("target"))
    if not caching:
        (destination / "xcargo.toml").write_text("[container]\ncache.enabled = false\n")
    return Variant(label, locate_project(destination), workdir / label / "state")


def _timed_build(engine: Engine, variant: Variant, row: str, args: argparse.Namespace) -> None:
    request = BuildRequest(
        project=variant.project,
        triple=args.target,
        config=load_config(variant.project.root),
        release=args.release,
        state_dir=variant.state_dir,
        ca_bundle=host.ca_bundle(),
    )
    started = time.perf_counter()
    result: BuildResult = run_build(engine, request, lambda _line: None)
    elapsed = time.perf_counter() - started
    if not result.succeeded:
        raise SystemExit(f"{variant.label} build failed: {result.failure}")
    variant.seconds.setdefault(row, []).append(elapsed)
    variant.downloads[row] = result.crates_downloaded
    print(
        f"  {row:<28} {variant.label:<14} {elapsed:7.2f} s  "
        f"({result.crates_downloaded} crates downloaded)",
        flush=True,
    )


def _cli_rebuild(variant: Variant, args: argparse.Namespace) -> float:
    command = [str(XCARGO), "build", "--target", args.target] + (["--release"] * args.release)
    environment = {**os.environ, "XCARGO_STATE_DIR": str(variant.state_dir)}
    started = time.perf_counter()
    subprocess.run(
        command, cwd=variant.project.root, env=environment, check=True, capture_output=True
    )
    return time.perf_counter() - started


def _cold_registry(engine: Engine, target: str) -> None:
    image = engine.client.images.get(naming.toolchain_image(target))
    toolchain = naming.toolchain_key(image.labels.get(naming.LABEL_RUSTC), image.id)
    name = naming.cargo_home_volume(toolchain)
    for volume in engine.client.volumes.list(filters={"name": name}):
        if volume.name == name:
            volume.remove()


def _remove_volumes(engine: Engine, variants: list[Variant]) -> None:
    for variant in variants:
        label = f"{naming.LABEL_PROJECT}={variant.project.key}"
        for volume in engine.client.volumes.list(filters={"label": label}):
            volume.remove(force=True)


def _fmt(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 60 else f"{int(seconds // 60)}m {seconds % 60:04.1f}s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="aarch64-unknown-linux-gnu")
    parser.add_argument("--repeat", type=int, default=3, help="no-change rebuilds per variant")
    parser.add_argument("--release", action="store_true")
    args = parser.parse_args()

    engine = connect()
    bootstrap(engine, [args.target], on_line=lambda _line: None)
    print(
        f"engine: {engine.description}\ntarget: {args.target} "
        f"({'release' if args.release else 'debug'}), fixture: {FIXTURE.name}",
        flush=True,
    )
    _cold_registry(engine, args.target)
    with tempfile.TemporaryDirectory(prefix="xcargo-bench-") as work:
        off, on = _copy(Path(work), "cache off", False), _copy(Path(work), "cache on", True)
        variants = [off, on]
        try:
            for variant in variants:
                _timed_build(engine, variant, "first build", args)
            for _ in range(args.repeat):
                for variant in variants:
                    _timed_build(engine, variant, "rebuild (no change)", args)
            for variant in variants:
                with (variant.project.root / "src" / "greeting.rs").open("a") as source:
                    source.write("// touched by the benchmark\n")
                _timed_build(engine, variant, "rebuild (1 file changed)", args)
            cli = [_cli_rebuild(on, args) for _ in range(args.repeat)]
        finally:
            _remove_volumes(engine, variants)
    _print_table(off, on, cli)


def _print_table(off: Variant, on: Variant, cli: list[float]) -> None:
    print("\n| Scenario | Without cache | With cache | Improvement |")
    print("|---|---|---|---|")
    for row in off.seconds:
        without = statistics.median(off.seconds[row])
        with_cache = statistics.median(on.seconds[row])
        ratio = without / with_cache if with_cache else float("inf")
        print(f"| {row} | {_fmt(without)} | {_fmt(with_cache)} | {ratio:.1f}x |")
    nochange = statistics.median(on.seconds["rebuild (no change)"])
    cli_median = statistics.median(cli)
    print(
        f"\n`xcargo build` process, rebuild with no change (cache on), median of {len(cli)}: "
        f"{_fmt(cli_median)}"
    )
    ratio = statistics.median(off.seconds["rebuild (no change)"]) / nochange
    verdict = "meets" if nochange < 1 and ratio >= 10 else "MISSES"
    print(
        f"bar (no-change rebuild under 1 s and at least 10x faster): {verdict} "
        f"({_fmt(nochange)}, {ratio:.0f}x)"
    )


if __name__ == "__main__":
    main()
