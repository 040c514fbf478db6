"""Unchanged builds: any change to the project tree or to the container's definition is a
different key; records are read back whole or not at all.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from docker.types import Mount

from runtimes import unchanged_builds
from runtimes.sandbox import ContainerSpec
from runtimes.unchanged_builds import RecordedArtifact, build_key, recall, remember, tree_digest


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.rs").write_text("fn main() {}\n")
    (root / "Cargo.toml").write_text('[package]\nname = "p"\n')
    (root / "target" / "aarch64" / "debug").mkdir(parents=True)
    (root / "target" / "aarch64" / "debug" / "p").write_bytes(b"\x7fELF")
    return root


def digest(root: Path) -> str | None:
    return tree_digest(root, skip=root / "target")


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "src" / "main.rs").write_text("fn main() { }\n"),
        lambda root: os.utime(root / "src" / "main.rs", ns=(0, 10**18)),
        lambda root: os.chmod(root / "Cargo.toml", 0o600),
        lambda root: (root / "src" / "new.rs").write_text(""),
        lambda root: (root / "src" / "main.rs").rename(root / "src" / "lib.rs"),
        lambda root: (root / "build.rs").symlink_to("src/main.rs"),
        lambda root: (root / ".cargo").mkdir(),
    ],
    ids=["content", "mtime", "mode", "new file", "rename", "symlink", "new directory"],
)
def test_any_change_to_the_tree_changes_its_digest(tree, change):
    before = digest(tree)

    change(tree)

    assert digest(tree) != before


def test_the_directory_xcargo_copies_artifacts_into_is_not_part_of_it(tree):
    before = digest(tree)

    (tree / "target" / "aarch64" / "debug" / "p").write_bytes(b"\x7fELF, copied again")

    assert digest(tree) == before


def test_a_tree_too_big_to_walk_quickly_has_no_digest(tree, monkeypatch):
    monkeypatch.setattr(unchanged_builds, "MAX_TREE_ENTRIES", 2)

    assert digest(tree) is None


SPEC = ContainerSpec(
    name="xcargo-build-p-aarch64-build",
    image="sha256:image",
    command=["cargo", "zigbuild", "--target", "aarch64-unknown-linux-gnu.2.28"],
    mounts=[Mount(target="/project", source="/home/ada/p", type="bind", read_only=True)],
    environment={"CARGO_TARGET_DIR": "/xcargo/target"},
    labels={"io.xcargo.build": "41"},
)


@pytest.mark.parametrize(
    "other",
    [
        {"image": "sha256:another"},
        {"command": [*SPEC.command, "--release"]},
        {"environment": {**SPEC.environment, "RUSTFLAGS": "-Cdebug-assertions=off"}},
        {"mounts": [Mount(target="/project", source="/home/ada/q", type="bind", read_only=True)]},
    ],
    ids=["image", "command", "environment", "mounts"],
)
def test_the_key_is_the_containers_work(other):
    key = build_key(SPEC, "tree", ("home-1", "target-1"))

    assert build_key(dataclasses.replace(SPEC, **other), "tree", ("home-1", "target-1")) != key
    assert build_key(SPEC, "tree2", ("home-1", "target-1")) != key
    assert build_key(SPEC, "tree", ("home-1", "target-2")) != key


def test_a_servers_build_id_and_the_containers_name_are_not_part_of_the_key():
    again = dataclasses.replace(SPEC, name="xcargo-build-other", labels={"io.xcargo.build": "42"})

    assert build_key(again, "tree", ()) == build_key(SPEC, "tree", ())


def test_a_record_is_read_back_under_its_key_only(tmp_path):
    artifacts = [RecordedArtifact("/xcargo/target/a/debug/p", tmp_path / "p", executable=True)]
    remember(tmp_path, "key-1", artifacts)

    assert recall(tmp_path, "key-1") == artifacts
    assert recall(tmp_path, "key-2") is None


@pytest.mark.parametrize(
    "damage", ["", "[]", '{"key": "key-1"}', '{"key": "key-1", "artifacts": 3}']
)
def test_a_damaged_record_is_no_record(tmp_path, damage):
    remember(tmp_path, "key-1", [])
    [path] = (tmp_path / "built").iterdir()
    path.write_text(damage)

    assert recall(tmp_path, "key-1") is None
