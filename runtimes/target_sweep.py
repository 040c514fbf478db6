"""Shedding, inside a target cache, what no build has used for a while.

A target cache lives as long as its volume: switching features, profiles or flags back and
forth is fast because each set's compiled units stay (runtimes.caches), but the sets nobody
builds any more stay too, until a quota removes the whole volume and every build after it
starts cold. So after each successful build, the build's own container removes the units
unused for longer than `[container.cache] target_unused_days`, keeping the rest warm.

A unit is what cargo names `<name>-<16 hex digits>` in a profile's `.fingerprint`, `deps` and
`build` directories. Cargo reads a unit's fingerprint each time a build checks it, fresh or not,
so the fingerprint files' access times tell when a build last used the unit (the way
cargo-sweep's `--time` decides). Engines keep volumes on filesystems mounted `relatime`, where
a read updates an access time at least once a day; on one mounted `noatime`, units would look
unused from the day they were compiled, and be compiled again after that many days.

The sweep is a POSIX shell script of findutils, sed, grep and coreutils, which every Debian
image has; where one of them is missing or fails, it stops, and the build is unaffected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtimes.sizes import human_size

# The line the build container prints after a sweep: units removed, then KiB freed.
SWEEP_PREFIX = "xcargo-target-sweep: "
_REPORT = re.compile(r"(\d+) (\d+)")

# Run after cargo succeeded, in the build container. $1: the minutes a unit may go unused.
# A unit's hash comes from the last dash-separated 16 hex digits of an entry's name, before
# any extension (libserde-0123456789abcdef.rlib, serde-0123456789abcdef.d, build/serde-…).
# A `find` that cannot tell access times stops it before anything is removed. The units in use
# are filtered out by one `grep -F` against their hashes (a shell loop over each entry took a
# second and a half for 2000 units: bench/sweep_bench.py).
_SWEEP = r"""
minutes=$1; units=0; kib=0; used=$(mktemp) || exit 1
trap 'rm -f "$used" "$used.read"' EXIT
profiles=$(find "$CARGO_TARGET_DIR" -mindepth 2 -maxdepth 3 -type d -name .fingerprint)
for fingerprints in $profiles; do
    profile=${fingerprints%/.fingerprint}
    find "$fingerprints" -mindepth 2 -maxdepth 2 -amin "-$minutes" > "$used.read" || exit 1
    sed -n 's|.*-\([0-9a-f]\{16\}\)/[^/]*$|\1|p' "$used.read" | sort -u > "$used"
    stale=$(find "$fingerprints" "$profile/deps" "$profile/build" -mindepth 1 -maxdepth 1 \
        2>/dev/null | sed -n 's|^\(.*-\([0-9a-f]\{16\}\)\(\.[^/]*\)\{0,1\}\)$|\2 \1|p' \
        | grep -v -F -f "$used")
    [ -n "$stale" ] || continue
    units=$((units + $(echo "$stale" | cut -d' ' -f1 | sort -u | wc -l)))
    kib=$((kib + $(echo "$stale" | cut -d' ' -f2 | xargs du -sck | tail -n 1 | cut -f 1)))
    echo "$stale" | cut -d' ' -f2 | xargs rm -rf
done
echo "xcargo-target-sweep: $units $kib"
"""


@dataclass(frozen=True)
class TargetSweep:
    """What one build's sweep removed from its target cache."""

    units: int
    freed: int
    unused_days: int

    def summary(self) -> str:
        units = f"{self.units} compiled unit{'' if self.units == 1 else 's'}"
        days = f"{self.unused_days} day{'' if self.unused_days == 1 else 's'}"
        return f"target cache: removed {units} no build used in {days} ({human_size(self.freed)})"


def with_sweep(command: list[str], *, unused_days: int) -> list[str]:
    """`command`, then, when it succeeded, the sweep, keeping the command's exit status. A
    failing build is left alone: cargo may have stopped before checking every unit it uses.
    """
    script = (
        'sweep=$1 minutes=$2; shift 2; "$@"; status=$?; if [ $status -eq 0 ]; then '
        'sh -c "$sweep" xcargo-sweep "$minutes" 2>/dev/null; fi; exit $status'
    )
    minutes = str(unused_days * 24 * 60)
    return ["sh", "-c", script, "xcargo-target-sweep", _SWEEP, minutes, *command]


def parse_sweep(line: str, *, unused_days: int) -> TargetSweep | None:
    """The report of a SWEEP_PREFIX line; None when the sweep could not say (it failed)."""
    report = _REPORT.fullmatch(line.removeprefix(SWEEP_PREFIX).strip())
    if report is None:
        return None
    units, kib = (int(number) for number in report.groups())
    return TargetSweep(units=units, freed=kib * 1024, unused_days=unused_days)
