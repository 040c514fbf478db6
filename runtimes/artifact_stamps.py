"""Skipping the copy of an artifact that is already on the host, byte for byte.

Copying the binaries out of the build container is most of a warm no-change rebuild's
collecting phase (19 MB and its sha256 for the example's debug build). When cargo reports an
artifact fresh, the file is the one the last build made; a stamp, written after the last copy,
records what both ends were then: the file in the target volume (its size, mode and mtime as the
engine states them, in that very generation of the volume) and the copy on the host (its size,
mtime in nanoseconds and inode). Only when all of it still matches is the copy skipped and the
artifact described from the stamp; a changed source (cargo says not fresh), a file touched on
either side, or a volume made again always copies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runtimes.artifacts import Artifact
from runtimes.errors import XcargoError
from runtimes.glibc import GlibcNeeds, GlibcVersion
from runtimes.state_files import read_json, record_path, write_json


@dataclass(frozen=True)
class StampKey:
    """Which copy a stamp is about: a container file of one volume generation, to one place."""

    state_dir: Path
    volume: str
    generation: str
    container_path: str
    destination: Path

    @property
    def path(self) -> Path:
        identity = (self.volume, self.generation, self.container_path, str(self.destination))
        return record_path(self.state_dir, "copied", "\0".join(identity))


def recall(key: StampKey, container_file: dict[str, object]) -> Artifact | None:
    """The artifact as last copied, when neither end changed since; None: copy it."""
    if not key.generation:
        return None
    try:
        stamp = read_json(key.path)
        host_file = key.destination.stat()
        if stamp["container"] != _container_facts(container_file) or stamp["host"] != _host_facts(
            host_file
        ):
            return None
        return Artifact(
            name=key.destination.name,
            path=key.destination,
            size=host_file.st_size,
            sha256=str(stamp["sha256"]),
            glibc=_glibc_from(stamp["glibc"]),
        )
    except (OSError, ValueError, LookupError, TypeError, AttributeError, XcargoError):
        return None  # no stamp, or one damaged or from another version of xcargo: copy


def remember(key: StampKey, container_file: dict[str, object], artifact: Artifact) -> None:
    """Record the copy just made (atomically: a stamp is either whole or absent)."""
    if not key.generation:
        return
    stamp = {
        "container": _container_facts(container_file),
        "host": _host_facts(artifact.path.stat()),
        "sha256": artifact.sha256,
        "glibc": _glibc_to(artifact.glibc),
    }
    write_json(key.path, stamp)


def _container_facts(stat: dict[str, object]) -> list[object]:
    return [stat.get("size"), stat.get("mode"), stat.get("mtime")]


def _host_facts(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev]


def _glibc_to(needs: GlibcNeeds | None) -> dict[str, object] | None:
    if needs is None:
        return None
    return {
        "highest": str(needs.highest),
        "symbols": {str(version): list(names) for version, names in needs.symbols.items()},
    }


def _glibc_from(data: object) -> GlibcNeeds | None:
    if not isinstance(data, dict):
        return None
    return GlibcNeeds(
        highest=GlibcVersion.parse(data["highest"]),
        symbols={
            GlibcVersion.parse(version): tuple(names) for version, names in data["symbols"].items()
        },
    )
