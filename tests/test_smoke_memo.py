"""The smoke memo: a passed smoke-run is not repeated for the very same binary and setting."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from runtimes.smoke import FAILED, PASSED, SmokeRun
from runtimes.smoke_memo import MemoKey, recall, remember

PASSED_RUN = SmokeRun(
    PASSED, "ran under qemu-aarch64 on bookworm", "hello --version", 0, ("hello 0.3.1",), 0.4
)


@pytest.fixture
def key(tmp_path: Path) -> MemoKey:
    return MemoKey(
        tmp_path / "state", "ab" * 32, "sha256:smoke-1", "aarch64-unknown-linux-gnu", "2.28", "/t/h"
    )


def test_a_passed_run_is_recalled_with_when_it_ran(key):
    remember(key, PASSED_RUN)

    remembered = recall(key)

    assert remembered is not None and remembered.run == PASSED_RUN
    assert re.fullmatch(r"\d\d:\d\d:\d\d", remembered.ran_at)


def test_a_failed_run_is_not_remembered_so_the_next_build_tries_again(key):
    remember(key, dataclasses.replace(PASSED_RUN, state=FAILED, exit_code=101))

    assert recall(key) is None


@pytest.mark.parametrize(
    "change",
    [
        {"sha256": "cd" * 32},
        {"smoke_image_id": "sha256:smoke-2"},
        {"floor": "2.31"},
        {"triple": "aarch64-unknown-linux-musl"},
        {"container_path": "/t/other"},
    ],
)
def test_another_binary_image_floor_target_or_path_runs_again(key, change):
    remember(key, PASSED_RUN)

    assert recall(dataclasses.replace(key, **change)) is None


def test_without_a_smoke_image_nothing_is_remembered(key):
    imageless = dataclasses.replace(key, smoke_image_id="")
    remember(imageless, PASSED_RUN)

    assert recall(imageless) is None


@pytest.mark.parametrize("damage", ["", "[]", '{"run": {}, "ran_at": 1}', '{"run": 1}'])
def test_a_damaged_memo_means_run_again(key, damage):
    remember(key, PASSED_RUN)
    key.path.write_text(damage)

    assert recall(key) is None
