"""When each cache volume was last used by a build here: engines keep no such time, so every
build touches one small file per volume under xcargo's state directory (one file each, so
concurrent builds never lose each other's record), and its modification time is the last use.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


def _directory(state_dir: Path) -> Path:
    return state_dir / "volume-uses"


def record_use(state_dir: Path, names: Iterable[str], *, now: float | None = None) -> None:
    """Note that a build uses these volumes now."""
    directory = _directory(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    moment = time.time() if now is None else now
    for name in names:
        if _SAFE_NAME.match(name):
            path = directory / name
            path.touch()
            os.utime(path, (moment, moment))


def last_uses(state_dir: Path) -> dict[str, float]:
    """Each recorded volume's last use, in seconds since the epoch."""
    directory = _directory(state_dir)
    if not directory.is_dir():
        return {}
    return {path.name: path.stat().st_mtime for path in directory.iterdir() if path.is_file()}


def forget(state_dir: Path, name: str) -> None:
    """A removed volume has no use to remember."""
    if _SAFE_NAME.match(name):
        (_directory(state_dir) / name).unlink(missing_ok=True)
