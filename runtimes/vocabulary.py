"""The words a build is told in, each defined once: where a build is (its states, and the
phases with the key of their timings) and why it failed (the error kinds, with their wording
and the exit code the CLI gives them). The CLI, the worker, the models, the pages and the API
all take them from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    """A step of a build: the state a build is in while it runs, and the key its seconds
    are kept under (`phases` of a result, the API and the page).
    """

    state: str
    timing: str


PREPARING_IMAGE = Phase("preparing image", "prepare")
FETCHING = Phase("fetching", "fetch")
BUILDING = Phase("building", "build")
COLLECTING = Phase("collecting", "collect")
SMOKE_RUNNING = Phase("smoke-running", "smoke")
TESTING = Phase("testing", "test")
PHASES = (PREPARING_IMAGE, FETCHING, BUILDING, COLLECTING, SMOKE_RUNNING, TESTING)

QUEUED = "queued"
AWAITING_APPROVAL = "awaiting approval"
FINISHED = "finished"
FAILED = "failed"
CANCELLED = "cancelled"

RUNNING_STATES = tuple(phase.state for phase in PHASES)
ACTIVE_STATES = (QUEUED, AWAITING_APPROVAL, *RUNNING_STATES)
FINAL_STATES = (FINISHED, FAILED, CANCELLED)
STATES = (QUEUED, *RUNNING_STATES, AWAITING_APPROVAL, *FINAL_STATES)


@dataclass(frozen=True)
class ErrorKind:
    """Why a build did not succeed: the word stored and sent (`error_kind`), how a page says
    it, and the CLI's exit status for it.
    """

    word: str
    label: str
    exit_code: int

    @property
    def name(self) -> str:
        """`WORKER_LOST` for "worker lost": the constant's name."""
        return self.word.upper().replace(" ", "_") or "NONE"


NONE = ErrorKind("", "none", 0)
COMPILE = ErrorKind("compile", "cargo failed", 1)
USER = ErrorKind("user", "bad project or configuration", 2)
IMAGE = ErrorKind("image", "image problem", 5)
TIMEOUT = ErrorKind("timeout", "time limit", 4)
MEMORY = ErrorKind("memory", "memory limit", 4)
DISK = ErrorKind("disk", "disk limit", 4)
BUSY = ErrorKind("busy", "target already building", 4)
ENGINE = ErrorKind("engine", "engine problem", 3)
SOURCE = ErrorKind("source", "source could not be fetched", 1)
WORKER_LOST = ErrorKind("worker lost", "worker lost", 1)
SMOKE = ErrorKind("smoke", "smoke-run failed", 6)
# cargo's own exit status when tests fail.
TESTS = ErrorKind("tests", "tests failed", 101)
QUEUE = ErrorKind("queue", "queue unavailable", 1)
CANCELLED_KIND = ErrorKind("cancelled", "cancelled", 130)
INTERNAL = ErrorKind("internal", "internal error", 1)

ERROR_KINDS = (
    NONE,
    COMPILE,
    USER,
    IMAGE,
    TIMEOUT,
    MEMORY,
    DISK,
    BUSY,
    ENGINE,
    SOURCE,
    WORKER_LOST,
    SMOKE,
    TESTS,
    QUEUE,
    CANCELLED_KIND,
    INTERNAL,
)
