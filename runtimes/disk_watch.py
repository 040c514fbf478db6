"""A build's disk limit, held by watching: what the build container has written into its
writable cache directories is measured while it runs, and the container is killed past the
limit, before one build can fill the engine host's disk for every other.

Engines cannot cap a volume on every host (Docker's local driver only on XFS with project
quotas, Podman's not at all), so xcargo measures instead: `du` inside the container itself,
which works the same on Docker and Podman, rootful or rootless. A build can overshoot by
what it writes between two measurements: about a second's worth, more when `du` itself is
slow on a huge target directory (the pause between measurements grows with its cost).
"""

from __future__ import annotations

import contextlib
import threading
import time
from types import TracebackType

import requests
from docker.errors import APIError
from docker.models.containers import Container

# Pause between measurements: at least this, and ten times what the last `du` took.
MIN_INTERVAL_SECONDS = 1.0
_ENGINE_ERRORS = (APIError, requests.exceptions.RequestException)


class DiskWatch:
    """Measures `paths` in `container` until the context ends; kills the container once they
    hold more than `limit` bytes, and keeps the size it saw then in `exceeded`.
    """

    def __init__(self, container: Container, paths: tuple[str, ...], limit: int) -> None:
        self.container = container
        self.paths = paths
        self.limit = limit
        self.exceeded: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"disk-{container.name}")

    def __enter__(self) -> DiskWatch:
        if self.paths:
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _watch(self) -> None:
        interval = MIN_INTERVAL_SECONDS
        while not self._stop.wait(interval):
            started = time.monotonic()
            used = self._measure()
            interval = max(MIN_INTERVAL_SECONDS, 10 * (time.monotonic() - started))
            if used is not None and used > self.limit:
                self.exceeded = used
                with contextlib.suppress(*_ENGINE_ERRORS):  # it may have ended meanwhile
                    self.container.kill()
                return

    def _measure(self) -> int | None:
        """Bytes on disk under the paths; None when the container is not running (any more)."""
        try:
            _code, output = self.container.exec_run(
                ["du", "-s", "-k", *self.paths], stdout=True, stderr=False
            )
        except _ENGINE_ERRORS:
            return None
        # du exits 1 when a file vanished under it (cargo replaces files): its sums still hold.
        sizes = [line.split()[0] for line in output.decode(errors="replace").splitlines()]
        kilobytes = [int(size) for size in sizes if size.isdigit()]
        return sum(kilobytes) * 1024 if kilobytes else None
