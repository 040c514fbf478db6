"""Remembering that a CARGO_HOME volume holds every crate a Cargo.lock names.

The fetch phase is the one part of a no-change rebuild that costs real time (a second container
and a registry round trip). A stamp says "this exact lock file was fetched into this exact
volume" — the volume's generation label (set once, when it is created) is part of the key, so a
cleaned and recreated volume is fetched again. A build that compiles the standard library
(-Zbuild-std) also needs the crates std depends on, so what it compiles is part of the key too.
A stamp is a hint: a build that still misses a crate fetches and retries.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from runtimes import naming


def _stamp_path(
    state_dir: Path, volume: str, generation: str, lockfile: Path, std_crates: str
) -> Path:
    lock_digest = hashlib.sha256(lockfile.read_bytes() + std_crates.encode()).hexdigest()
    return state_dir / "fetched" / volume / f"{lock_digest}-{naming.short_hash(generation, 16)}"


def is_fetched(
    state_dir: Path, volume: str, generation: str, lockfile: Path, std_crates: str = ""
) -> bool:
    stamp = _stamp_path(state_dir, volume, generation, lockfile, std_crates)
    return bool(generation) and stamp.exists()


def mark_fetched(
    state_dir: Path, volume: str, generation: str, lockfile: Path, std_crates: str = ""
) -> None:
    if not generation:
        return
    path = _stamp_path(state_dir, volume, generation, lockfile, std_crates)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def forget(
    state_dir: Path, volume: str, generation: str, lockfile: Path, std_crates: str = ""
) -> None:
    _stamp_path(state_dir, volume, generation, lockfile, std_crates).unlink(missing_ok=True)
