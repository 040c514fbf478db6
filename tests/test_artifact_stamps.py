"""Artifact stamps: a copy is skipped only while both ends are as the last copy left them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtimes.artifact_stamps import StampKey, recall, remember
from runtimes.artifacts import Artifact, describe_file
from runtimes.glibc import GlibcNeeds, GlibcVersion

IN_CONTAINER = {"name": "hello", "size": 6, "mode": 493, "mtime": "2026-12-07T10:00:00.1Z"}


@pytest.fixture
def copied(tmp_path: Path) -> tuple[StampKey, Artifact]:
    destination = tmp_path / "project" / "target" / "hello"
    destination.parent.mkdir(parents=True)
    destination.write_bytes(b"hello\n")
    needs = GlibcNeeds(
        highest=GlibcVersion.parse("2.34"),
        symbols={
            GlibcVersion.parse("2.34"): ("__libc_start_main",),
            GlibcVersion.parse("2.17"): (),
        },
    )
    artifact = Artifact(**{**vars(describe_file(destination)), "glibc": needs})
    key = StampKey(tmp_path / "state", "xcargo-target-x", "generation-1", "/t/hello", destination)
    remember(key, IN_CONTAINER, artifact)
    return key, artifact


def test_an_untouched_copy_is_described_from_its_stamp(copied):
    key, artifact = copied

    assert recall(key, IN_CONTAINER) == artifact


def test_a_file_changed_in_the_container_is_copied_again(copied):
    key, _ = copied

    assert recall(key, {**IN_CONTAINER, "mtime": "2026-12-07T10:00:05.0Z"}) is None
    assert recall(key, {**IN_CONTAINER, "size": 7}) is None


def test_a_host_copy_written_over_or_removed_is_copied_again(copied):
    key, _ = copied
    key.destination.write_bytes(b"hullo\n")  # same size; a new mtime

    assert recall(key, IN_CONTAINER) is None
    key.destination.unlink()
    assert recall(key, IN_CONTAINER) is None


def test_a_host_copy_given_back_its_old_mtime_is_still_another_file(copied):
    key, _ = copied
    before = key.destination.stat()
    replacement = key.destination.with_name("other")
    replacement.write_bytes(b"hullo\n")
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, key.destination)

    assert recall(key, IN_CONTAINER) is None, "a new inode"


def test_another_generation_of_the_volume_or_no_generation_has_no_stamp(copied):
    key, artifact = copied
    remade = StampKey(
        key.state_dir, key.volume, "generation-2", key.container_path, key.destination
    )
    scratch = StampKey(key.state_dir, key.volume, "", key.container_path, key.destination)
    remember(scratch, IN_CONTAINER, artifact)

    assert recall(remade, IN_CONTAINER) is None
    assert recall(scratch, IN_CONTAINER) is None


@pytest.mark.parametrize("damage", ["", "{", '{"container": 1}', "[]", '{"host": null}'])
def test_a_damaged_stamp_means_copy_again(copied, damage):
    key, _ = copied
    key.path.write_text(damage)

    assert recall(key, IN_CONTAINER) is None
