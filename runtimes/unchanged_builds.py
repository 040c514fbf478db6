"""Knowing, without starting a container, that a build would change nothing.

A warm no-change rebuild spends most of its time before cargo's first word: a container start,
cargo-zigbuild's `cargo metadata` and rustc queries, then cargo finding every unit fresh. What
that container would do is fixed by what goes into it: its image, command, environment and
mounts, the project tree it sees at /project, the crates of the CARGO_HOME (by the fetch stamp:
the same Cargo.lock in the same volume) and the state of its target cache. A record, written
after a build succeeded, keeps all of that but the target cache: the container's definition and
a digest of the project tree (every path, with its size, mode, mtime and ctime in nanoseconds and
inode), and the artifacts it produced. When the next build's container would be the very same
and the tree is untouched, cargo could only find everything fresh; whether the target cache
still holds those exact artifacts is checked on the engine (artifact_stamps: each file's size,
mode and mtime there, and the host copy's), in a container created but never started.

A tree too big to walk quickly, a build script's output outside the tree, or anything else
xcargo cannot see simply runs the container: the record is a way to skip work, never a reason
to trust a stale artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from runtimes.sandbox import ContainerSpec
from runtimes.state_files import read_json, record_path, write_json

# Beyond this many entries the walk costs more than the container it saves.
MAX_TREE_ENTRIES = 20_000


@dataclass(frozen=True)
class RecordedArtifact:
    container_path: str
    destination: Path
    executable: bool


def tree_digest(root: Path, *, skip: Path | None = None) -> str | None:
    """A digest of every path under `root` (but `skip`, where xcargo writes the artifacts) and
    its metadata; None when the tree has more than MAX_TREE_ENTRIES entries or cannot be read.
    """
    digest = hashlib.blake2b(digest_size=32)
    entries = 0
    try:
        for directory, subdirectories, files in os.walk(root, onerror=_raise):
            here = Path(directory)
            if skip is not None:
                subdirectories[:] = [name for name in subdirectories if here / name != skip]
            subdirectories.sort()
            for name in sorted([*subdirectories, *files]):
                entries += 1
                if entries > MAX_TREE_ENTRIES:
                    return None
                facts = os.lstat(here / name)
                digest.update(
                    f"{(here / name).relative_to(root)}\0{facts.st_mode}\0{facts.st_size}\0"
                    f"{facts.st_mtime_ns}\0{facts.st_ctime_ns}\0{facts.st_ino}\n".encode(
                        errors="surrogateescape"
                    )
                )
    except OSError:
        return None
    return digest.hexdigest()


def build_key(spec: ContainerSpec, tree: str, generations: tuple[str, ...]) -> str:
    """What defines the build container's work: all of its spec but its name and labels (a
    server build's id), the tree it sees, and the generations of the volumes it mounts.
    """
    definition = {
        "image": spec.image,
        "command": spec.command,
        "environment": dict(sorted(spec.environment.items())),
        "mounts": [dict(sorted(mount.items())) for mount in spec.mounts],
        "private_dirs": list(spec.private_dirs),
        "working_dir": spec.working_dir,
        "network": spec.network,
        "tree": tree,
        "generations": list(generations),
    }
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


def recall(state_dir: Path, key: str) -> list[RecordedArtifact] | None:
    """The artifacts of the last successful build with this key; None: none recorded."""
    try:
        record = read_json(record_path(state_dir, "built", key))
        if record["key"] != key:
            return None
        return [
            RecordedArtifact(
                str(item["container_path"]), Path(item["destination"]), bool(item["executable"])
            )
            for item in record["artifacts"]
        ]
    except (ValueError, LookupError, TypeError):
        return None


def remember(state_dir: Path, key: str, artifacts: list[RecordedArtifact]) -> None:
    record = {
        "key": key,
        "artifacts": [
            {
                "container_path": item.container_path,
                "destination": str(item.destination),
                "executable": item.executable,
            }
            for item in artifacts
        ],
    }
    write_json(record_path(state_dir, "built", key), record)


def _raise(error: OSError) -> None:
    raise error
