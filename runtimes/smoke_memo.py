"""What a smoke-run showed, remembered per exact binary, so a no-change rebuild does not start
the same program again.

A smoke-run is a container of its own (a second container start on every warm rebuild, and
seconds under emulation). Its result depends on nothing but the bytes of the program, the smoke
image (its sysroots and emulators), the target, the glibc floor (which sysroot) and the path
the program is started at; with all of them the same, starting it again can only show the same
thing. The memo says when the run it repeats happened, so a reader knows it is not a new one.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from runtimes.smoke import PASSED, SmokeRun
from runtimes.state_files import read_json, record_path, write_json


@dataclass(frozen=True)
class MemoKey:
    state_dir: Path
    sha256: str
    smoke_image_id: str
    triple: str
    floor: str
    container_path: str

    @property
    def path(self) -> Path:
        identity = (self.sha256, self.smoke_image_id, self.triple, self.floor, self.container_path)
        return record_path(self.state_dir, "smoked", "\0".join(identity))


@dataclass(frozen=True)
class Remembered:
    run: SmokeRun
    # When it ran, as the local time a log line shows ("10:31:02", or a date when older).
    ran_at: str


def recall(key: MemoKey) -> Remembered | None:
    """The run of this very binary in this very setting, if one was remembered."""
    if not key.smoke_image_id:
        return None
    try:
        memo = read_json(key.path)
        run = SmokeRun(**{**memo["run"], "output": tuple(memo["run"]["output"])})
        return Remembered(run=run, ran_at=_shown_time(float(memo["ran_at"])))
    except (ValueError, LookupError, TypeError):
        return None  # none yet, or damaged: run it


def remember(key: MemoKey, run: SmokeRun) -> None:
    """Keep a run that passed (a failed one is tried again on the next build)."""
    if not key.smoke_image_id or run.state != PASSED:
        return
    write_json(key.path, {"run": dataclasses.asdict(run), "ran_at": time.time()})


def _shown_time(epoch: float) -> str:
    moment = time.localtime(epoch)
    if time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%Y-%m-%d %H:%M", moment)
