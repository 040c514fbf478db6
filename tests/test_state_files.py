"""State files: a record is written whole beside its old self, and one that cannot be read is
no record.
"""

from __future__ import annotations

from pathlib import Path

from runtimes.state_files import read_json, record_path, write_json


def test_a_record_is_read_back_and_leaves_nothing_else_in_its_directory(tmp_path: Path):
    path = record_path(tmp_path, "copied", "volume\0generation\0/t/p\0/home/p")

    write_json(path, {"sha256": "ab"})
    write_json(path, {"sha256": "cd"})

    assert read_json(path) == {"sha256": "cd"}
    assert [entry.name for entry in path.parent.iterdir()] == [path.name]


def test_each_identity_and_kind_has_a_path_of_its_own(tmp_path: Path):
    paths = {
        record_path(tmp_path, kind, identity)
        for kind in ("copied", "smoked")
        for identity in ("a", "b")
    }

    assert len(paths) == 4


def test_a_missing_or_damaged_record_reads_as_none(tmp_path: Path):
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"sha256": ')

    assert read_json(tmp_path / "missing.json") is None
    assert read_json(damaged) is None
