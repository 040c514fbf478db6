"""What the compiler cache served the CLI's builds: each build's counts add up per volume
under xcargo's state directory, a damaged record starts again from nothing, a cleaned volume
is forgotten, and `xcargo cache stats` says them for the volumes still there.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from runtimes import caches, cli, naming
from runtimes.compiler_cache import CompilerCacheTotals, CompilerCacheUse
from runtimes.compiler_cache_counts import counted, forget, record
from tests.support import AARCH64, X86_64

VOLUME = naming.compiler_cache_volume("rustc-1.98.1", AARCH64)
OTHER = naming.compiler_cache_volume("rustc-1.98.1", X86_64)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def served(hits: int, misses: int, volume: str = VOLUME) -> CompilerCacheUse:
    return CompilerCacheUse(volume=volume, hits=hits, misses=misses, writable=True)


def test_a_volumes_counts_add_up_over_its_builds(state_dir):
    record(state_dir, served(hits=0, misses=31))
    record(state_dir, served(hits=31, misses=0))
    record(state_dir, served(hits=26, misses=3))
    record(state_dir, served(hits=5, misses=5, volume=OTHER))

    assert counted(state_dir) == {
        VOLUME: CompilerCacheTotals(hits=57, misses=34, builds=3),
        OTHER: CompilerCacheTotals(hits=5, misses=5, builds=1),
    }


def test_nothing_counted_yet_is_no_counts(state_dir):
    assert counted(state_dir) == {}


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b'{"hits": 5, "misses"',
        b'{"hits": 5}',
        b'{"hits": -5, "misses": 1, "builds": 1}',
        b"\xff",
    ],
)
def test_a_damaged_record_starts_again_from_nothing(state_dir, damage):
    record(state_dir, served(hits=40, misses=2))
    [path] = (state_dir / "compiler-cache-counts").iterdir()
    path.write_bytes(damage)

    assert counted(state_dir) == {}, "a damaged record counts nothing"
    record(state_dir, served(hits=9, misses=1))
    assert counted(state_dir) == {VOLUME: CompilerCacheTotals(hits=9, misses=1, builds=1)}


def test_a_cleaned_volume_is_forgotten(state_dir):
    record(state_dir, served(hits=40, misses=2))
    record(state_dir, served(hits=5, misses=5, volume=OTHER))

    forget(state_dir, VOLUME)

    assert list(counted(state_dir)) == [OTHER]


def test_recording_leaves_no_temporary_file_behind(state_dir):
    record(state_dir, served(hits=1, misses=1))
    record(state_dir, served(hits=1, misses=1))

    assert [path.name for path in (state_dir / "compiler-cache-counts").iterdir()] == [VOLUME]


@pytest.mark.parametrize(
    ("totals", "words"),
    [
        (CompilerCacheTotals(57, 3, 3), "57 of 60 compiles from it (95 %) over 3 builds"),
        (CompilerCacheTotals(599, 1, 2), "599 of 600 compiles from it (99 %) over 2 builds"),
        (CompilerCacheTotals(31, 0, 1), "31 of 31 compiles from it (100 %) over 1 build"),
        (CompilerCacheTotals(0, 0, 2), "0 of 0 compiles from it over 2 builds"),
    ],
)
def test_the_totals_in_words(totals, words):
    assert totals.summary() == words


def test_cache_stats_says_what_each_compiler_cache_still_there_served(
    monkeypatch, capsys, state_dir
):
    record(state_dir, served(hits=0, misses=3))
    record(state_dir, served(hits=57, misses=0))
    record(state_dir, served(hits=1, misses=1, volume=OTHER))
    volumes = [
        caches.VolumeUsage(VOLUME, naming.KIND_COMPILER_CACHE, "", AARCH64, 10**6, False),
        caches.VolumeUsage(
            "xcargo-cargo-home-rustc-1.98.1", naming.KIND_CARGO_HOME, "", "", 1, False
        ),
    ]
    monkeypatch.setenv("XCARGO_STATE_DIR", str(state_dir))
    monkeypatch.setattr(cli, "_connect", lambda: SimpleNamespace(description="docker (test)"))
    monkeypatch.setattr(caches, "usage", lambda _engine, last_used: volumes)

    cli.cache_stats.callback(containers=True)

    lines = capsys.readouterr().out.splitlines()
    assert f"compiler cache {VOLUME}: 57 of 60 compiles from it (95 %) over 2 builds" in lines
    assert not any(OTHER in line for line in lines), "a volume no longer there is not listed"
