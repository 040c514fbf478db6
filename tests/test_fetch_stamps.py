"""Fetch stamps: a CARGO_HOME volume is known to hold one exact Cargo.lock's crates."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtimes.fetch_stamps import forget, is_fetched, mark_fetched

VOLUME = "xcargo-cargo-home-rustc-1.85.1"
GENERATION = "0f3c2a9e-generation-one"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def lockfile(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "Cargo.lock"
    path.parent.mkdir()
    path.write_text('version = 4\n\n[[package]]\nname = "serde"\nversion = "1.0.0"\n')
    return path


def stamp_files(state_dir: Path) -> list[Path]:
    return [path for path in state_dir.rglob("*") if path.is_file()] if state_dir.exists() else []


def test_a_lock_file_is_not_fetched_initially(state_dir, lockfile):
    assert not is_fetched(state_dir, VOLUME, GENERATION, lockfile)


def test_a_marked_lock_file_is_fetched(state_dir, lockfile):
    mark_fetched(state_dir, VOLUME, GENERATION, lockfile)
    assert is_fetched(state_dir, VOLUME, GENERATION, lockfile)


def test_marking_twice_is_harmless(state_dir, lockfile):
    mark_fetched(state_dir, VOLUME, GENERATION, lockfile)
    mark_fetched(state_dir, VOLUME, GENERATION, lockfile)
    assert is_fetched(state_dir, VOLUME, GENERATION, lockfile)
    assert len(stamp_files(state_dir)) == 1


def test_a_changed_lock_file_is_not_fetched(state_dir, lockfile):
    mark_fetched(state_dir, VOLUME, GENERATION, lockfile)
    lockfile.write_text(lockfile.read_text() + '\n[[package]]\nname = "hex"\nversion = "0.4.3"\n')
    assert not is_fetched(state_dir, VOLUME, GENERATION, lockfile)


def test_the_same_lock_text_elsewhere_is_fetched(state_dir, lockfile, tmp_path):
    mark_fetched(state_dir, VOLUME, GENERATION, lockfile)
    copy = tmp_path / "copy" / "Cargo.lock"
    copy.parent.mkdir()
    copy.write_bytes(lockfile.read_bytes())
    assert is_fetched(state_dir, VOLUME, GENERATION, copy)


def test_another_generation_of_the_same_volume_is_not_fetched(state_dir, lockfile):
    mark_fetched(state_dir, VOLUME, GENERATION, lockfile)
    assert not is_fetched(state_dir, VOLUME, "recreated-generation-two", lockfile)


def test_another_volume_is_not_fetched(state_dir, lockfile):
    mark_fetched(state_dir, VOLUME, GENERATION, lockfile)
    assert not is_fetched(state_dir, "xcargo-cargo-home-rustc-1.86.0", GENERATION, lockfile)


def test_an_empty_generation_never_counts_as_fetched(state_dir, lockfile):
    mark_fetched(state_dir, VOLUME, GENERATION, lockfile)
    mark_fetched(state_dir, VOLUME, "", lockfile)
    assert not is_fetched(state_dir, VOLUME, "", lockfile)


def test_an_empty_generation_is_never_written(state_dir, lockfile):
    mark_fetched(state_dir, VOLUME, "", lockfile)
    assert stamp_files(state_dir) == []


def test_forget_removes_the_stamp(state_dir, lockfile):
    mark_fetched(state_dir, VOLUME, GENERATION, lockfile)
    forget(state_dir, VOLUME, GENERATION, lockfile)
    assert not is_fetched(state_dir, VOLUME, GENERATION, lockfile)
    assert stamp_files(state_dir) == []


def test_forget_keeps_the_stamps_of_other_generations(state_dir, lockfile):
    mark_fetched(state_dir, VOLUME, GENERATION, lockfile)
    mark_fetched(state_dir, VOLUME, "other-generation", lockfile)
    forget(state_dir, VOLUME, GENERATION, lockfile)
    assert is_fetched(state_dir, VOLUME, "other-generation", lockfile)


def test_forget_without_a_stamp_is_harmless(state_dir, lockfile):
    forget(state_dir, VOLUME, GENERATION, lockfile)
    assert not is_fetched(state_dir, VOLUME, GENERATION, lockfile)
