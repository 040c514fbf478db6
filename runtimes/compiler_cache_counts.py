"""What each compiler cache volume has served the CLI's builds, for `xcargo cache stats`: the
engine keeps no such count and sccache's ends with each build's server, so every build adds
its own to a small file per volume under xcargo's state directory (one file each, as
runtimes.volume_uses keeps them, so builds on other volumes never touch it). The server keeps
the same counts in its database (CacheVolume) instead.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from runtimes.compiler_cache import CompilerCacheTotals, CompilerCacheUse
from runtimes.state_files import read_json, write_json

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


def _directory(state_dir: Path) -> Path:
    return state_dir / "compiler-cache-counts"


def record(state_dir: Path, use: CompilerCacheUse) -> None:
    """Add one build's counts to its volume's. The new totals go to a temporary file renamed
    over the old one, so a reader never sees half a file and a crash keeps the last whole
    one. Two builds of one volume that end at the same instant may keep only one's counts:
    these are figures for a person to read, not accounts.
    """
    if not _SAFE_NAME.match(use.volume):
        return
    path = _directory(state_dir) / use.volume
    write_json(path, dataclasses.asdict(_read(path).plus(use)))


def counted(state_dir: Path) -> dict[str, CompilerCacheTotals]:
    """Each volume's totals, by name; a volume whose file is damaged has none."""
    directory = _directory(state_dir)
    if not directory.is_dir():
        return {}
    totals = {
        path.name: _read(path)
        for path in directory.iterdir()
        if path.is_file() and _SAFE_NAME.match(path.name)
    }
    return {name: each for name, each in totals.items() if each.builds}


def forget(state_dir: Path, name: str) -> None:
    """A removed volume's successor of the same name is a new, empty cache: nothing served."""
    if _SAFE_NAME.match(name):
        (_directory(state_dir) / name).unlink(missing_ok=True)


def _read(path: Path) -> CompilerCacheTotals:
    """A volume's totals; none when its file is missing or damaged (counting starts again)."""
    try:
        values = read_json(path)
        numbers = [values[field.name] for field in dataclasses.fields(CompilerCacheTotals)]
    except (KeyError, TypeError):
        return CompilerCacheTotals()
    if not all(type(number) is int and number >= 0 for number in numbers):
        return CompilerCacheTotals()
    return CompilerCacheTotals(*numbers)
