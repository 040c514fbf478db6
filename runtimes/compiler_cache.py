"""The compiler cache: sccache as rustc's wrapper, on a volume that every project built with one
toolchain for one target shares, so a project's first build finds the dependencies another
project compiled already (the same crate, version, features and flags give the same entry).

Entries are named by a hash of everything that goes into a compile (the sources, the flags, the
compiler itself), so a hit is the object rustc would make. What a build writes there, though,
later builds of other projects link: only builds trusted to write the protected target cache
(the CLI's, the server's default branch, tags and protected refs) write it; any other ref's
build reads it, mounted read-only, and sccache is told so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from runtimes.sandbox import COMPILER_CACHE_DIR

# Far above any quota. sccache evicts by itself past its size, keeping its bookkeeping in
# the memory of each server; two builds' servers on one directory would then race. xcargo's
# quotas remove the whole volume instead (cache_quotas, `cache clean`).
_UNBOUNDED = "1T"
ZIG_CACHE_DIR = f"{COMPILER_CACHE_DIR}/zig"


def environment(*, writable: bool) -> dict[str, str]:
    """The build phase's variables that put sccache between cargo and rustc and, for a build
    that may write the cache, zig's own cache there too: the C library stubs and runtime zig
    compiles for a glibc floor take half a minute, once per cache instead of once per project.
    zig locks its cache's entries, so concurrent builds share it safely; a build that may not
    write keeps zig's cache in its target cache (runtimes.cross_build).
    """
    variables = {
        "RUSTC_WRAPPER": "sccache",
        "SCCACHE_DIR": COMPILER_CACHE_DIR,
        "SCCACHE_CACHE_SIZE": _UNBOUNDED,
    }
    if writable:
        variables["ZIG_GLOBAL_CACHE_DIR"] = variables["ZIG_LOCAL_CACHE_DIR"] = ZIG_CACHE_DIR
    else:
        variables["SCCACHE_LOCAL_RW_MODE"] = "READ_ONLY"
    return variables


# The line the build container prints last: sccache's counts, as JSON, after this prefix.
STATS_PREFIX = "xcargo-compiler-cache-stats: "
# What follows the prefix when no sccache server ran in the build (nothing was compiled).
_NO_COMPILES = "no-compiles"


@dataclass(frozen=True)
class CompilerCacheUse:
    """What one build took from the compiler cache: compiles answered from it, and compiles
    it could have answered but did not have (non-cacheable ones, such as the project's own
    incremental crates and build-script runs, are neither).
    """

    volume: str
    hits: int
    misses: int
    writable: bool

    def summary(self) -> str:
        asked = self.hits + self.misses
        access = "" if self.writable else "; read-only for this ref"
        return f"compiler cache {self.volume}: {self.hits} of {asked} compiles from it{access}"


@dataclass(frozen=True)
class CompilerCacheTotals:
    """What one compiler cache volume has served over the builds that went through it, summed
    from each build's CompilerCacheUse: sccache's own counts end with each build's server.
    """

    hits: int = 0
    misses: int = 0
    builds: int = 0

    def plus(self, use: CompilerCacheUse) -> CompilerCacheTotals:
        return CompilerCacheTotals(self.hits + use.hits, self.misses + use.misses, self.builds + 1)

    def summary(self) -> str:
        """The caches page's and `xcargo cache stats`' words. The share is rounded down, so
        100 % means every compile came from the cache.
        """
        asked = self.hits + self.misses
        share = f" ({self.hits * 100 // asked} %)" if asked else ""
        builds = f"{self.builds} build{'' if self.builds == 1 else 's'}"
        return f"{self.hits} of {asked} compiles from it{share} over {builds}"


def with_stats(command: list[str]) -> list[str]:
    """`command`, then sccache's counts on one line, keeping the command's exit status. The
    build container's sccache server served this build alone, so its counts are the build's.
    When no compile went through sccache (a no-change rebuild), no server runs, and asking for
    its counts would start one only to say nothing: two seconds on a full cache, which a new
    server walks to learn its size. The line then says so instead.
    """
    script = (
        f'"$@"; status=$?; printf "{STATS_PREFIX}"; '
        "if grep -qsx sccache /proc/[0-9]*/comm; then "
        "sccache --show-stats --stats-format=json 2>/dev/null || echo; "
        f"else echo {_NO_COMPILES}; fi; exit $status"
    )
    return ["sh", "-c", script, "xcargo-compiler-cache", *command]


def parse_stats(line: str, *, volume: str, writable: bool) -> CompilerCacheUse | None:
    """The counts of a STATS_PREFIX line; None when sccache printed none (it did not start)."""
    counts = line.removeprefix(STATS_PREFIX)
    if counts.strip() == _NO_COMPILES:
        return CompilerCacheUse(volume=volume, hits=0, misses=0, writable=writable)
    try:
        stats = json.loads(counts)["stats"]
        hits = sum(stats["cache_hits"]["counts"].values())
        misses = sum(stats["cache_misses"]["counts"].values())
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return CompilerCacheUse(volume=volume, hits=hits, misses=misses, writable=writable)
