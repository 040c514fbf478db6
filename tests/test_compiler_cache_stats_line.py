"""The compiler cache's stats line: the build's counts after cargo, cargo's exit status kept,
and no sccache server started only to say that nothing was compiled.
"""

from __future__ import annotations

import json
import subprocess

from runtimes.compiler_cache import STATS_PREFIX, parse_stats, with_stats

VOLUME = "xcargo-compiler-cache-rustc-1.98.1-aarch64-unknown-linux-gnu"


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(with_stats(command), capture_output=True, text=True, check=False)


def test_with_no_sccache_server_running_the_line_says_nothing_was_compiled_and_keeps_the_status():
    finished = run(["sh", "-c", "echo cargo-output; exit 3"])

    assert finished.returncode == 3
    *output, last = finished.stdout.splitlines()
    assert output == ["cargo-output"]
    assert last.startswith(STATS_PREFIX)
    use = parse_stats(last, volume=VOLUME, writable=True)
    assert use is not None and (use.hits, use.misses) == (0, 0)
    assert use.summary() == f"compiler cache {VOLUME}: 0 of 0 compiles from it"


def test_sccaches_counts_are_read_from_its_json():
    stats = {
        "stats": {
            "cache_hits": {"counts": {"Rust": 40, "C/C++": 2}},
            "cache_misses": {"counts": {"Rust": 3}},
        }
    }

    use = parse_stats(STATS_PREFIX + json.dumps(stats), volume=VOLUME, writable=False)

    assert use is not None and (use.hits, use.misses) == (42, 3)
    assert use.summary().endswith("42 of 45 compiles from it; read-only for this ref")


def test_a_line_sccache_did_not_finish_is_no_counts():
    assert parse_stats(STATS_PREFIX, volume=VOLUME, writable=True) is None
    assert parse_stats(STATS_PREFIX + '{"stats": {}}', volume=VOLUME, writable=True) is None
