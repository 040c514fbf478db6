"""Sizes as people write and read them: one parser for limits (`4g`, `512m`) and one
formatter for every page, table and message, so the same number always reads the same.
"""

from __future__ import annotations

import re

_SIZE = re.compile(r"\A([1-9][0-9]{0,6})([kmg]?)\Z")
# Engines read `4g` as GiB (binary), like docker run --memory.
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """Bytes of a size like `512m` or `20g` (binary units, as the engines read --memory);
    ValueError with the accepted form for anything else.
    """
    match = _SIZE.match(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a size like 512m or 20g")
    return int(match.group(1)) * _UNITS[match.group(2)]


def human_size(size: float | None) -> str:
    """`279.3 MB`: decimal units, like the engines' own listings; `—` for a size not known."""
    if size is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
