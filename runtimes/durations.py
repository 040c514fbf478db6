"""Ages as people type and read them: `--older-than 7d`, and "3h ago" in a table."""

from __future__ import annotations

import re

from runtimes.errors import UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"(\d{1,6})([smhdw])")


def parse_age(text: str) -> int:
    """Seconds of an age such as "30m", "12h", "7d" or "2w"."""
    match = _AGE.fullmatch(text.strip().lower())
    if match is None:
        raise UsageError(
            f"{text[:40]!r} is not an age",
            hint="a number and a unit: 30m, 12h, 7d or 2w",
        )
    return int(match[1]) * _UNITS[match[2]]


def human_age(seconds: float) -> str:
    """The largest whole unit: "45s", "3h", "12d"."""
    for unit in ("w", "d", "h", "m"):
        if seconds >= _UNITS[unit] * (2 if unit == "w" else 1):
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{max(int(seconds), 0)}s"
