"""A running build's log, written to the database as it streams.

Lines arrive from the container's reader thread at any rate; a writer thread stores them in
chunks every half second, so the page sees them within a second or two and a log of any length
is never held whole in memory (at most `MAX_PENDING` lines wait; past that, the reader waits for
the database). The same thread writes the build's heartbeat and watches for a cancel request,
which it passes on through `on_cancel`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections, connection, transaction

from builds.models import Build, LogChunk
from builds.services.builds import count_log_lines

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
CANCEL_POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 5.0
CHUNK_LINES = 1000
MAX_PENDING = 20_000
# Longer lines are cut: one minified line must not make a page unusable.
MAX_LINE_CHARS = 4000
# The last round, when the build ends, is tried this often: its lines say how the build ended.
FINAL_ATTEMPTS = 5
FINAL_RETRY_SECONDS = 0.5


class BuildLog:
    """Use as a context manager around the build; `write` may be called from any thread."""

    def __init__(self, build_id: int, *, first_line: int = 0) -> None:
        self.build_id = build_id
        self.cancelled = threading.Event()
        self.on_cancel: Callable[[], None] | None = None
        self._next_line = first_line
        self._pending: list[str] = []
        self._room = threading.Condition()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"build-log-{build_id}")
        self._last_beat = self._last_poll = 0.0

    def __enter__(self) -> BuildLog:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()
        self._thread.join()

    def write(self, line: str) -> None:
        """Add a line; text with newlines (an error and its hint) is stored as that many lines,
        since line numbers and the tail of the log count lines by their newlines.
        """
        for part in line.removesuffix("\n").split("\n"):
            self._append(part)

    def _append(self, line: str) -> None:
        # PostgreSQL text cannot hold NUL; nothing a person reads needs it.
        line = line.replace("\x00", "\ufffd")
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " …[line cut]"
        with self._room:
            while len(self._pending) >= MAX_PENDING and self._thread.is_alive():
                self._room.wait(timeout=1)
            self._pending.append(line)

    def _run(self) -> None:
        try:
            while not self._closing.wait(FLUSH_SECONDS):
                self._tick()
            self._final_flush()
        finally:
            connection.close()

    def _final_flush(self) -> None:
        """Store what is left; a database hiccup here would lose the lines that say how the
        build ended, so it is tried again a few times.
        """
        for attempt in range(1, FINAL_ATTEMPTS + 1):
            try:
                self._flush()
                return
            except Exception:
                logger.exception(
                    "build %s: storing the end of the log failed (attempt %s of %s)",
                    self.build_id,
                    attempt,
                    FINAL_ATTEMPTS,
                )
                close_old_connections()
                if attempt < FINAL_ATTEMPTS:
                    time.sleep(FINAL_RETRY_SECONDS * attempt)

    def _tick(self) -> None:
        """One round; a database hiccup costs a round, not the log or the thread."""
        try:
            self._flush()
            self._watch()
        except Exception:
            logger.exception("build %s: writing the log failed; retrying", self.build_id)
            close_old_connections()

    def _flush(self) -> None:
        with self._room:
            lines, self._pending = self._pending, []
            self._room.notify_all()
        if not lines:
            return
        chunks = [
            LogChunk(
                build_id=self.build_id,
                first_line=self._next_line + start,
                line_count=len(lines[start : start + CHUNK_LINES]),
                text="\n".join(lines[start : start + CHUNK_LINES]),
            )
            for start in range(0, len(lines), CHUNK_LINES)
        ]
        try:
            # Chunks and count together: stored lines the count misses would be cut off the
            # tail of the log, which is read by the count.
            with transaction.atomic():
                LogChunk.objects.bulk_create(chunks)
                count_log_lines(self.build_id, len(lines))
        except Exception:
            with self._room:
                self._pending[:0] = lines
            raise
        self._next_line += len(lines)
        self._last_beat = time.monotonic()

    def _watch(self) -> None:
        """Heartbeat when no line was written lately; pass a cancel request on, once."""
        now = time.monotonic()
        if now - self._last_beat >= HEARTBEAT_SECONDS:
            count_log_lines(self.build_id, 0)
            self._last_beat = now
        if self.cancelled.is_set() or now - self._last_poll < CANCEL_POLL_SECONDS:
            return
        self._last_poll = now
        close_old_connections()
        if Build.objects.filter(pk=self.build_id, cancel_requested=True).exists():
            self.cancelled.set()
            if self.on_cancel is not None:
                try:
                    self.on_cancel()
                except Exception:
                    logger.exception("build %s: stopping its container failed", self.build_id)
