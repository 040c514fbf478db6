"""What `xcargo cache clean` selects and how ages are read and shown, without an engine: the
project (by key or name), the target, the last use a build recorded here.
"""

from __future__ import annotations

import pytest

from runtimes import volume_uses
from runtimes.caches import CleanFilter, VolumeUsage
from runtimes.durations import human_age, parse_age
from runtimes.errors import UsageError

DAY = 86400


def volume(project: str = "hello-cross-a36c9750", target: str = "aarch64", last_used=0.0):
    return VolumeUsage("v", "target", project, target, 10, False, "1.98", last_used)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800), ("12h", 43200), ("7d", 7 * DAY), (" 2W ", 14 * DAY)]
)
def test_ages_are_a_number_and_a_unit(text, seconds):
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "d7", "1.5d", "7 days", "-1d", "9999999d"])
def test_anything_else_is_not_an_age(text):
    with pytest.raises(UsageError, match="is not an age"):
        parse_age(text)


def test_ages_read_in_their_largest_whole_unit():
    assert [human_age(s) for s in (5, 90, 7200, 3 * DAY, 20 * DAY)] == [
        "5s",
        "1m",
        "2h",
        "3d",
        "2w",
    ]


def test_a_project_is_named_by_its_key_or_its_name_and_a_target_exactly():
    assert CleanFilter(project="hello-cross").selects(volume(), 0)
    assert CleanFilter(project="hello-cross-a36c9750").selects(volume(), 0)
    assert not CleanFilter(project="hello").selects(volume(), 0)
    assert CleanFilter(target="aarch64").selects(volume(project=""), 0) is not False
    assert not CleanFilter(target="riscv64").selects(volume(), 0)


def test_older_than_needs_a_known_last_use_at_least_that_old():
    week = CleanFilter(older_than=7 * DAY)
    assert week.selects(volume(last_used=0.0 + 1), 8 * DAY)
    assert not week.selects(volume(last_used=2 * DAY), 8 * DAY)
    assert not week.selects(volume(last_used=None), 8 * DAY)


def test_each_build_records_its_volumes_last_use_and_a_removed_one_is_forgotten(tmp_path):
    volume_uses.record_use(tmp_path, ["xcargo-target-a", "../escape"], now=1000)
    volume_uses.record_use(tmp_path, ["xcargo-target-a", "xcargo-home-b"], now=2000)

    assert volume_uses.last_uses(tmp_path) == {"xcargo-target-a": 2000, "xcargo-home-b": 2000}
    volume_uses.forget(tmp_path, "xcargo-target-a")
    assert volume_uses.last_uses(tmp_path) == {"xcargo-home-b": 2000}
