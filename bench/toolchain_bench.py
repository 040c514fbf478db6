"""Toolchains and linkers, side by side in one run: a cold and a warm build of the example
crate on each toolchain (each on a target cache of its own), then warm rebuilds after a
one-file edit linked by zig against the default glibc floor against the same linked by the
image's GNU cross linker (floor = the image's own glibc), alternating so that both see the
same machine load.

    .venv/bin/python bench/toolchain_bench.py [--target TRIPLE] [--toolchain V ...] [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from runtimes import caches, host
from runtimes.bootstrap import bootstrap
from runtimes.build_values import BuildRequest, BuildResult
from runtimes.config import XcargoConfig, load_config
from runtimes.cross_build import run_build
from runtimes.engine import Engine, connect
from runtimes.glibc import DEFAULT_FLOOR, NEWEST_FLOOR, GlibcVersion
from runtimes.project import CargoProject, locate_project
from runtimes.toolchains import NEWEST_CHANNEL, TOOLCHAINS

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "hello-cross"
EDITED = Path("src", "greeting.rs")


def _build(
    engine: Engine, project: CargoProject, config: XcargoConfig, args, **choices
) -> tuple[float, BuildResult]:
    request = BuildRequest(
        project=project,
        triple=args.target,
        config=config,
        release=True,
        state_dir=Path(args.state),
        ca_bundle=host.ca_bundle(),
        **choices,
    )
    started = time.perf_counter()
    result = run_build(engine, request, lambda _line: None)
    if not result.succeeded:
        raise SystemExit(f"build failed: {result.failure}")
    return time.perf_counter() - started, result


def _copy(work: Path, name: str) -> tuple[CargoProject, XcargoConfig]:
    root = work / name
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("target"))
    return locate_project(root), load_config(root)


def _edit(project: CargoProject, round_: int) -> None:
    path = project.root / EDITED
    path.write_text(path.read_text() + f"\n// bench edit {round_}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="aarch64-unknown-linux-gnu")
    parser.add_argument("--toolchain", action="append", dest="toolchains")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    toolchains = args.toolchains or list(TOOLCHAINS)

    engine = connect()
    print(f"making the images of {', '.join(toolchains)} for {args.target} (once)")
    bootstrap(engine, [args.target], toolchains=toolchains, on_line=lambda _line: None)
    made: list[BuildResult] = []
    with tempfile.TemporaryDirectory(prefix="xcargo-bench-") as work:
        args.state = str(Path(work, "state"))
        print(f"\ncold and warm release builds of hello-cross for {args.target}, per toolchain")
        print(f"{'toolchain':>10} {'rustc':>8} {'cold s':>8} {'warm s':>8} {'crates':>7}")
        for channel in toolchains:
            project, config = _copy(Path(work), f"hello-cross-{channel}")
            cold, first = _build(engine, project, config, args, toolchain=channel)
            _edit(project, 0)
            warm, _ = _build(engine, project, config, args, toolchain=channel)
            made.append(first)
            print(
                f"{channel:>10} {first.rustc_version:>8} {cold:8.1f} {warm:8.1f} "
                f"{first.crates_downloaded:>7}"
            )

        print(
            f"\nwarm release rebuilds after a one-file edit, toolchain {NEWEST_CHANNEL}: "
            f"zig (glibc floor {DEFAULT_FLOOR}) against the GNU cross linker "
            f"(floor {NEWEST_FLOOR}, the image's own), {args.repeat} rounds alternating"
        )
        linkers: dict[str, tuple[GlibcVersion, list[float], list[float]]] = {
            "zig": (DEFAULT_FLOOR, [], []),
            "gnu": (NEWEST_FLOOR, [], []),
        }
        projects = {name: _copy(Path(work), f"hello-cross-{name}") for name in linkers}
        for name, (floor, _, _) in linkers.items():
            project, config = projects[name]
            _build(engine, project, config, args, toolchain=NEWEST_CHANNEL, glibc_floor=floor)
        for round_ in range(1, args.repeat + 1):
            for name, (floor, whole, phase) in linkers.items():
                project, config = projects[name]
                _edit(project, round_)
                seconds, result = _build(
                    engine, project, config, args, toolchain=NEWEST_CHANNEL, glibc_floor=floor
                )
                whole.append(seconds)
                phase.append(result.phases["build"])
                made.append(result)
        for name, (floor, whole, phase) in linkers.items():
            print(
                f"  {name:>4} (floor {floor}): build phase median "
                f"{statistics.median(phase):.2f} s, whole build median "
                f"{statistics.median(whole):.2f} s"
            )
        zig, gnu = (statistics.median(linkers[name][2]) for name in ("zig", "gnu"))
        print(f"  zig / gnu build phase: {zig / gnu:.2f}x")
    for result in made:
        if result.volumes is not None:
            caches.remove_target(engine, result.volumes)


if __name__ == "__main__":
    main()
