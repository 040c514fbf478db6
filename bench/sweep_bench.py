"""What the target cache's sweep (runtimes/target_sweep.py) adds to a build: a container that
runs `true` against one that runs `true` and then the sweep, on a target cache of UNITS compiled
units laid out as cargo lays them out (a fingerprint directory, a library, its metadata, its
dep-info, a build directory each), every unit recently used, so the sweep reads everything and
removes nothing, as after most builds. The two alternate, so both see the same machine load.

    .venv/bin/python bench/sweep_bench.py [--units N] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from docker.types import Mount

from runtimes import naming
from runtimes.engine import Engine, connect
from runtimes.sandbox import TARGET_DIR, ContainerSpec, PhaseContainer
from runtimes.target_sweep import SWEEP_PREFIX, with_sweep

# One unit per iteration: what cargo leaves of a compiled library in a profile.
_FILL = r"""
profile=$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/debug
mkdir -p "$profile/.fingerprint" "$profile/deps" "$profile/build"
i=0
while [ $i -lt $1 ]; do
    hash=$(printf '%016x' $((i + 4096)))
    mkdir -p "$profile/.fingerprint/crate$i-$hash" "$profile/build/crate$i-$hash/out"
    echo fingerprint > "$profile/.fingerprint/crate$i-$hash/lib-crate$i"
    head -c 20000 /dev/zero > "$profile/deps/libcrate$i-$hash.rlib"
    head -c 4000 /dev/zero > "$profile/deps/libcrate$i-$hash.rmeta"
    echo dep-info > "$profile/deps/crate$i-$hash.d"
    i=$((i + 1))
done
"""


def _run(engine: Engine, volume: str, command: list[str]) -> tuple[float, list[str]]:
    spec = ContainerSpec(
        name=f"xcargo-sweep-bench-{uuid.uuid4().hex[:8]}",
        image=naming.BASE_IMAGE,
        command=command,
        mounts=[Mount(target=TARGET_DIR, source=volume, type="volume")],
        environment={"CARGO_TARGET_DIR": TARGET_DIR},
        working_dir="/",
    )
    lines: list[str] = []
    started = time.perf_counter()
    with PhaseContainer(engine, spec) as phase:
        outcome = phase.run(lines.append, timeout=600)
    if outcome.exit_code != 0:
        raise SystemExit(f"{command[:3]} failed: {lines[-5:]}")
    return time.perf_counter() - started, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    engine = connect("auto")
    volume = engine.client.volumes.create(f"xcargo-sweep-bench-{uuid.uuid4().hex[:8]}").name
    try:
        _run(engine, volume, ["sh", "-c", _FILL, "fill", str(options.units)])
        plain, swept = [], []
        for _ in range(options.repeat):
            plain.append(_run(engine, volume, ["true"])[0])
            seconds, lines = _run(engine, volume, with_sweep(["true"], unused_days=14))
            swept.append(seconds)
            if f"{SWEEP_PREFIX}0 0" not in lines:
                raise SystemExit(f"the sweep removed something it should have kept: {lines}")
        print(f"engine: {engine.description}")
        print(f"target cache: {options.units} units ({options.units * 5} entries), all in use")
        for name, times in (("container", plain), ("container + sweep", swept)):
            print(f"  {name:<18} median {statistics.median(times):.3f} s over {len(times)} runs")
        with_it, without = statistics.median(swept), statistics.median(plain)
        print(f"  the sweep adds {with_it - without:.3f} s ({with_it / without:.2f}x)")
    finally:
        engine.client.volumes.get(volume).remove(force=True)


if __name__ == "__main__":
    main()
