"""What the loader has to say about a file beyond a refusal: an ignored key, a key that is
not acted on yet; each located by file and line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigNotice:
    """A located remark about the file: an ignored key, or a key that is not acted on yet."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}"


def file_order(notice: ConfigNotice) -> tuple[bool, int]:
    """Sort by line, so people read about the file top to bottom; unlocated notices last."""
    return notice.line is None, notice.line or 0
