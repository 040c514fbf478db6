"""A build's log for the benches, stored as the worker's log writer stores it
(`builds.services.build_log`): chunks of `CHUNK_LINES` consecutive lines, bulk-inserted, then
the build's line count; pages then read it exactly as they read a real log.
Call after `django.setup()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builds.models import LogChunk

# Chunks per INSERT: a long log goes in without ever being held whole in memory.
CHUNKS_PER_INSERT = 50


def compile_line(number: int) -> str:
    """Line `number` of a log, as cargo prints a dependency it compiles."""
    return (
        f"   Compiling crate-{number:05d} v1.{number % 40}.{number % 7} "
        "(registry+https://index.crates.io)"
    )


def add_log_lines(build_id: int, first: int, count: int) -> None:
    """Append lines `first` to `first + count - 1` to the build's log."""
    from builds.models import Build, LogChunk

    batch: list[LogChunk] = []
    for chunk in _chunks(build_id, first, count):
        batch.append(chunk)
        if len(batch) == CHUNKS_PER_INSERT:
            LogChunk.objects.bulk_create(batch)
            batch = []
    LogChunk.objects.bulk_create(batch)
    Build.objects.filter(pk=build_id).update(log_lines=first + count)


def _chunks(build_id: int, first: int, count: int) -> Iterator[LogChunk]:
    from builds.models import LogChunk
    from builds.services.build_log import CHUNK_LINES

    for start in range(first, first + count, CHUNK_LINES):
        size = min(CHUNK_LINES, first + count - start)
        text = "\n".join(compile_line(number) for number in range(start, start + size))
        yield LogChunk(build_id=build_id, first_line=start, line_count=size, text=text)
