"""Where keys are: tomllib reports no positions for values, so each line of the file is parsed
on its own to find the line that defines a key path.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from typing import Any


class KeyLines:
    """Map key paths to the line that defines them, by parsing each line of the file on its own.

    A table header (`[targets."x".container]`) parses alone to a nested table naming the current
    table; a `key = value`, `cache.enabled = true` or `args = { A = "1" }` line parses to key paths
    inside it. Lines that do not parse alone (the inside of a multi-line array or string) are
    skipped, except that the key before '=' on the first line of such a value is still recorded.
    Keys under `[[array.of.tables]]` headers are not mapped. This is best effort: a wrong guess
    only makes a message point at a nearby line, it never changes what is accepted.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] | None = ()
        for number, line in enumerate(text.splitlines(), start=1):
            parsed = _parse_line(line)
            if parsed is None:
                continue
            if line.lstrip().startswith("["):
                table = self._header(parsed, number)
            elif table is not None:
                for path in _key_paths(parsed):
                    self._record(table + path, number)

    def line_of(self, loc: tuple[int | str, ...]) -> int | None:
        """The line of the longest known prefix of `loc`, or None when nothing matches."""
        keys: list[str] = []
        for part in loc:
            if isinstance(part, int):
                break
            keys.append(part)
        for end in range(len(keys), 0, -1):
            if tuple(keys[:end]) in self._lines:
                return self._lines[tuple(keys[:end])]
        return None

    def _header(self, parsed: dict[str, Any], number: int) -> tuple[str, ...] | None:
        """Record a table header; return the new current table (None for array-of-tables)."""
        path: tuple[str, ...] = ()
        node: Any = parsed
        while isinstance(node, dict) and len(node) == 1:
            key, node = next(iter(node.items()))
            path += (key,)
            self._record(path, number)
        return path if isinstance(node, dict) else None

    def _record(self, path: tuple[str, ...], number: int) -> None:
        self._lines.setdefault(path, number)


def _parse_line(line: str) -> dict[str, Any] | None:
    """Parse one line as a TOML document; for `key = [` (a value going on) parse the key alone."""
    try:
        return tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        pass
    key, equals, _ = line.partition("=")
    if not equals:
        return None
    try:
        return tomllib.loads(f"{key}= 0")
    except tomllib.TOMLDecodeError:
        return None


def _key_paths(table: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    """Every key path a line defines: `a.b = { c = 1 }` defines a, a.b and a.b.c."""
    for key, value in table.items():
        yield (key,)
        if isinstance(value, dict):
            for path in _key_paths(value):
                yield (key, *path)
