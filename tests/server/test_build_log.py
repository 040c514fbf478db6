"""A running build's log and the states a build moves through.

The log writer stores lines from its own thread with its own database connection, so those
tests use `transactional_db`: what the thread writes is committed and the test reads it back.
The state changes are single conditional updates, tested on the database as they run.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth.models import User
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from builds import selectors
from builds.models import Build, EngineHost, LogChunk, Project, Target
from builds.services import build_log, runner
from builds.services.build_log import BuildLog
from builds.services.builds import cancel_build, end_abandoned_builds, end_build
from builds.services.errors import Conflict
from builds.services.runner import TargetBusy, _claim
from runtimes.cross_build import ImageMissing
from runtimes.errors import EngineUnavailable, UsageError, XcargoError
from runtimes.sandbox import BuildOutOfMemory, BuildTimedOut
from runtimes.sources import SourceError
from tests.server.conftest import AARCH64

ARMV7 = "armv7-unknown-linux-gnueabihf"


def eventually(condition: Callable[[], Any], seconds: float = 10) -> Any:
    """The first true value of `condition` within `seconds`; fails the test otherwise."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"not true within {seconds} s")


@pytest.fixture
def host(db: None) -> EngineHost:
    return EngineHost.objects.create(name="builder-1", queue="xcargo.builds.builder-1")


@pytest.fixture
def other_host(db: None) -> EngineHost:
    return EngineHost.objects.create(name="builder-2", queue="xcargo.builds.builder-2")


@pytest.fixture
def project(db: None) -> Project:
    return Project.objects.create(name="app", slug="app", local_path="/x")


@pytest.fixture
def target(project: Project) -> Target:
    return Target.objects.create(project=project, triple=AARCH64)


@pytest.fixture
def other_target(project: Project) -> Target:
    return Target.objects.create(project=project, triple=ARMV7)


@pytest.fixture
def make_build(host: EngineHost, target: Target) -> Callable[..., Build]:
    def make(state: str = Build.State.QUEUED, **fields: Any) -> Build:
        fields = {"engine_host": host, "target": target, **fields}
        return Build.objects.create(project=fields["target"].project, state=state, **fields)

    return make


def stored_lines(build: Build) -> list[str]:
    chunks = LogChunk.objects.filter(build=build).order_by("first_line")
    return [line for chunk in chunks for line in chunk.text.split("\n")]


# --- the log writer


@pytest.fixture
def running_build(transactional_db: None, make_build: Callable[..., Build]) -> Build:
    now = timezone.now()
    return make_build(Build.State.BUILDING, started_at=now, heartbeat_at=now)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rounds of the writer every 50 ms instead of every half second."""
    monkeypatch.setattr(build_log, "FLUSH_SECONDS", 0.05)


def test_lines_are_stored_in_order_with_contiguous_line_numbers(running_build: Build) -> None:
    written = [f"line {number}" for number in range(2500)]
    with BuildLog(running_build.pk) as log:
        for line in written:
            log.write(line)
    chunks = list(LogChunk.objects.filter(build=running_build).order_by("first_line"))
    assert chunks[0].first_line == 0
    for before, after in itertools.pairwise(chunks):
        assert after.first_line == before.first_line + before.line_count
    for chunk in chunks:
        assert len(chunk.text.split("\n")) == chunk.line_count
    assert stored_lines(running_build) == written
    running_build.refresh_from_db()
    assert running_build.log_lines == 2500


def test_lines_can_be_read_while_the_build_still_runs(running_build: Build) -> None:
    with BuildLog(running_build.pk) as log:
        log.write("Compiling hello v0.1.0")
        eventually(lambda: stored_lines(running_build) == ["Compiling hello v0.1.0"], seconds=3)
        log.write("Finished")
    assert stored_lines(running_build) == ["Compiling hello v0.1.0", "Finished"]


def test_a_log_continues_from_the_first_line_it_is_given(running_build: Build) -> None:
    with BuildLog(running_build.pk) as log:
        log.write("first")
    with BuildLog(running_build.pk, first_line=1) as log:
        log.write("second")
    running_build.refresh_from_db()
    assert selectors.log_from(running_build, offset=0).lines == ["first", "second"]
    assert running_build.log_lines == 2


def test_a_log_of_200_000_lines_is_stored_whole_in_chunks_of_at_most_1000_lines(
    running_build: Build, quick: None
) -> None:
    total = 200_000
    with BuildLog(running_build.pk) as log:
        for number in range(total):
            log.write(f"line {number}")
    running_build.refresh_from_db()
    assert running_build.log_lines == total
    counts = list(
        LogChunk.objects.filter(build=running_build)
        .order_by("first_line")
        .values_list("first_line", "line_count")
    )
    assert max(count for _, count in counts) <= build_log.CHUNK_LINES
    assert sum(count for _, count in counts) == total
    assert counts[0][0] == 0
    for (first, count), (next_first, _) in itertools.pairwise(counts):
        assert next_first == first + count

    tail = selectors.log_tail(running_build)
    assert tail.lines == [f"line {number}" for number in range(total - 300, total)]
    assert (tail.first_line, tail.next_line) == (total - 300, total)

    boundary = counts[5][0]
    across = selectors.log_from(running_build, offset=boundary - 3, limit=6)
    assert across.lines == [f"line {number}" for number in range(boundary - 3, boundary + 3)]

    page = selectors.log_from(running_build, offset=12_345, limit=5000)
    assert page.lines == [f"line {number}" for number in range(12_345, 17_345)]
    assert page.next_line == 17_345

    end = selectors.log_from(running_build, offset=total - 2, limit=10)
    assert end.lines == [f"line {total - 2}", f"line {total - 1}"]
    assert end.next_line == total


def test_nul_bytes_are_replaced_and_over_long_lines_cut(running_build: Build) -> None:
    long_line = "x" * (build_log.MAX_LINE_CHARS * 3)
    with BuildLog(running_build.pk) as log:
        log.write("before\x00after")
        log.write(long_line)
        log.write("next")
    lines = stored_lines(running_build)
    assert lines[0] == "before\ufffdafter"
    assert lines[1].startswith("x" * build_log.MAX_LINE_CHARS)
    assert lines[1].endswith("[line cut]")
    assert len(lines[1]) < build_log.MAX_LINE_CHARS + 20
    assert lines[2] == "next"


def test_a_message_of_several_lines_is_stored_as_that_many_lines(running_build: Build) -> None:
    """An error with a hint is two lines; counted as one, every later line number and the tail
    of the log would be off by one.
    """
    with BuildLog(running_build.pk) as log:
        log.write("xcargo: failed: no engine answered\n  hint: start Docker")
        log.write("last line")
    running_build.refresh_from_db()
    assert running_build.log_lines == 3
    assert stored_lines(running_build) == [
        "xcargo: failed: no engine answered",
        "  hint: start Docker",
        "last line",
    ]
    assert selectors.log_tail(running_build, lines=1).lines == ["last line"]
    assert selectors.log_tail(running_build, lines=2).lines == ["  hint: start Docker", "last line"]


def test_the_heartbeat_advances_while_no_line_is_written(
    running_build: Build, quick: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_log, "HEARTBEAT_SECONDS", 0.2)
    long_ago = timezone.now() - timedelta(hours=1)
    Build.objects.filter(pk=running_build.pk).update(heartbeat_at=long_ago)

    def heartbeat() -> Any:
        return Build.objects.get(pk=running_build.pk).heartbeat_at

    with BuildLog(running_build.pk):
        first = eventually(lambda: heartbeat() > long_ago and heartbeat())
        eventually(lambda: heartbeat() > first)
    assert LogChunk.objects.filter(build=running_build).count() == 0
    assert Build.objects.get(pk=running_build.pk).log_lines == 0


def test_a_cancel_request_sets_cancelled_and_calls_on_cancel_once(
    running_build: Build, quick: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_log, "CANCEL_POLL_SECONDS", 0.1)
    calls: list[float] = []
    with BuildLog(running_build.pk) as log:
        log.on_cancel = lambda: calls.append(time.monotonic())
        time.sleep(0.3)
        assert not log.cancelled.is_set()
        Build.objects.filter(pk=running_build.pk).update(cancel_requested=True)
        eventually(log.cancelled.is_set, seconds=5)
        time.sleep(0.5)  # several more polls, with the request still standing
    assert len(calls) == 1


def test_a_failing_on_cancel_does_not_stop_the_log(
    running_build: Build, quick: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_log, "CANCEL_POLL_SECONDS", 0.1)

    def container_already_gone() -> None:
        raise RuntimeError("no such container")

    Build.objects.filter(pk=running_build.pk).update(cancel_requested=True)
    with BuildLog(running_build.pk) as log:
        log.on_cancel = container_already_gone
        eventually(log.cancelled.is_set, seconds=5)
        log.write("xcargo: cancelled")
    assert stored_lines(running_build) == ["xcargo: cancelled"]


@pytest.fixture
def blocked_database(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """LogChunk.objects.bulk_create waits until the test opens `gate`; `entered` tells that the
    writer is waiting on it.
    """
    entered, gate = threading.Event(), threading.Event()
    real_bulk_create = LogChunk.objects.bulk_create

    def slow_bulk_create(chunks: list[LogChunk], *args: Any, **kwargs: Any) -> list[LogChunk]:
        entered.set()
        gate.wait(timeout=30)
        return real_bulk_create(chunks, *args, **kwargs)

    monkeypatch.setattr(LogChunk.objects, "bulk_create", slow_bulk_create)
    return entered, gate


def test_write_waits_while_the_database_cannot_keep_up(
    running_build: Build,
    quick: None,
    monkeypatch: pytest.MonkeyPatch,
    blocked_database: tuple[threading.Event, threading.Event],
) -> None:
    """At most MAX_PENDING lines wait in memory (besides the batch being stored): a build that
    prints faster than the database stores is slowed down, never allowed to fill memory.
    """
    monkeypatch.setattr(build_log, "MAX_PENDING", 10)
    entered, gate = blocked_database
    written = 0

    def print_fast(log: BuildLog) -> None:
        nonlocal written
        for number in range(100):
            log.write(f"line {number}")
            written += 1

    with BuildLog(running_build.pk) as log:
        printer = threading.Thread(target=print_fast, args=(log,))
        printer.start()
        assert entered.wait(timeout=10)
        time.sleep(0.5)
        assert printer.is_alive()
        assert 10 <= written <= 2 * 10
        gate.set()
        printer.join(timeout=30)
        assert not printer.is_alive()
    assert stored_lines(running_build) == [f"line {number}" for number in range(100)]


@pytest.fixture
def database_fails_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The first update of a build's line count fails, as a locked or restarting database
    would; the list records every attempt's line count.
    """
    attempts: list[int] = []
    real_count = build_log.count_log_lines

    def count_once_failing(build_id: int, lines: int) -> None:
        attempts.append(lines)
        if len(attempts) == 1:
            raise OperationalError("database is locked")
        real_count(build_id, lines)

    monkeypatch.setattr(build_log, "count_log_lines", count_once_failing)
    return attempts


def test_a_failed_round_loses_neither_lines_nor_their_count(
    running_build: Build, quick: None, database_fails_once: list[int]
) -> None:
    with BuildLog(running_build.pk) as log:
        for number in range(5):
            log.write(f"line {number}")
        eventually(lambda: len(database_fails_once) >= 2)
        log.write("line 5")
    running_build.refresh_from_db()
    assert stored_lines(running_build) == [f"line {number}" for number in range(6)]
    assert running_build.log_lines == 6


def test_the_last_lines_are_stored_even_when_the_final_round_fails_once(
    running_build: Build, monkeypatch: pytest.MonkeyPatch, database_fails_once: list[int]
) -> None:
    """The last lines of a build say why it ended: a hiccup at the end must not lose them."""
    monkeypatch.setattr(build_log, "FLUSH_SECONDS", 60)  # only the final round runs
    with BuildLog(running_build.pk) as log:
        log.write("xcargo: failed: cargo exited with 101")
    running_build.refresh_from_db()
    assert stored_lines(running_build) == ["xcargo: failed: cargo exited with 101"]
    assert running_build.log_lines == 1


# --- ending builds


@pytest.fixture
def user(db: None) -> User:
    return User.objects.create_user("ada")


def test_end_build_ends_a_build_only_from_the_states_given(
    make_build: Callable[..., Build],
) -> None:
    build = make_build(Build.State.BUILDING)
    assert end_build(
        build.pk, state=Build.State.FINISHED, from_states=Build.RUNNING_STATES, success=True
    )
    build.refresh_from_db()
    assert (build.state, build.success) == (Build.State.FINISHED, True)
    assert build.finished_at is not None


def test_the_second_party_to_end_a_build_changes_nothing(make_build: Callable[..., Build]) -> None:
    build = make_build(Build.State.BUILDING)
    assert end_build(build.pk, state=Build.State.CANCELLED, from_states=Build.RUNNING_STATES)
    ended_at = Build.objects.get(pk=build.pk).finished_at
    assert not end_build(
        build.pk,
        state=Build.State.FAILED,
        from_states=Build.RUNNING_STATES,
        error_kind=Build.ErrorKind.WORKER_LOST,
    )
    build.refresh_from_db()
    assert build.state == Build.State.CANCELLED
    assert build.error_kind == ""
    assert build.finished_at == ended_at


def test_end_build_leaves_a_build_in_another_state_alone(make_build: Callable[..., Build]) -> None:
    build = make_build(Build.State.QUEUED)
    assert not end_build(build.pk, state=Build.State.FINISHED, from_states=Build.RUNNING_STATES)
    assert Build.objects.get(pk=build.pk).state == Build.State.QUEUED


def test_a_build_without_a_recent_heartbeat_is_ended_as_worker_lost(
    make_build: Callable[..., Build], other_target: Target, settings: Any
) -> None:
    settings.XCARGO_HEARTBEAT_TIMEOUT = 90
    now = timezone.now()
    silent = make_build(Build.State.BUILDING, heartbeat_at=now - timedelta(seconds=120))
    alive = make_build(
        Build.State.FETCHING, target=other_target, heartbeat_at=now - timedelta(seconds=30)
    )
    queued = make_build(Build.State.QUEUED)
    assert end_abandoned_builds() == 1
    silent.refresh_from_db()
    assert (silent.state, silent.error_kind) == (Build.State.FAILED, Build.ErrorKind.WORKER_LOST)
    assert silent.success is False
    assert "90 s" in silent.error_message
    assert Build.objects.get(pk=alive.pk).state == Build.State.FETCHING
    assert Build.objects.get(pk=queued.pk).state == Build.State.QUEUED


def test_an_ended_build_is_not_ended_again_as_abandoned(make_build: Callable[..., Build]) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    build = make_build(Build.State.FINISHED, success=True, heartbeat_at=long_ago)
    assert end_abandoned_builds() == 0
    assert Build.objects.get(pk=build.pk).state == Build.State.FINISHED


def test_cancelling_a_queued_build_ends_it_at_once(
    make_build: Callable[..., Build], user: User
) -> None:
    build = cancel_build(build=make_build(Build.State.QUEUED), cancelled_by=user)
    assert build.state == Build.State.CANCELLED
    assert build.error_kind == Build.ErrorKind.CANCELLED
    assert build.error_message == "cancelled by ada before it started"
    assert not build.cancel_requested


def test_cancelling_a_running_build_asks_its_worker_and_leaves_it_running(
    make_build: Callable[..., Build], user: User
) -> None:
    build = cancel_build(build=make_build(Build.State.BUILDING), cancelled_by=user)
    assert build.state == Build.State.BUILDING
    assert build.cancel_requested


@pytest.mark.parametrize("state", Build.FINAL_STATES)
def test_cancelling_an_ended_build_is_a_conflict(
    make_build: Callable[..., Build], user: User, state: str
) -> None:
    build = make_build(state)
    with pytest.raises(Conflict) as refused:
        cancel_build(build=build, cancelled_by=user)
    assert "has already ended" in refused.value.message
    assert Build.objects.get(pk=build.pk).state == state


# --- one running build per target and host


def test_two_builds_of_a_target_cannot_run_on_one_host(make_build: Callable[..., Build]) -> None:
    make_build(Build.State.BUILDING)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_build(Build.State.FETCHING)


def test_a_build_of_a_target_may_run_beside_its_ended_builds(
    make_build: Callable[..., Build],
) -> None:
    make_build(Build.State.FINISHED)
    make_build(Build.State.FAILED)
    make_build(Build.State.BUILDING)
    make_build(Build.State.QUEUED)
    assert Build.objects.count() == 4


def test_a_target_may_build_on_two_hosts_at_once(
    make_build: Callable[..., Build], other_host: EngineHost
) -> None:
    make_build(Build.State.BUILDING)
    make_build(Build.State.BUILDING, engine_host=other_host)
    assert Build.objects.filter(state=Build.State.BUILDING).count() == 2


def test_a_queued_build_is_claimed_once(make_build: Callable[..., Build]) -> None:
    build = make_build(Build.State.QUEUED)
    claimed = _claim(build.pk)
    assert claimed is not None
    assert claimed.state == Build.State.PREPARING_IMAGE
    assert claimed.started_at is not None
    assert claimed.heartbeat_at == claimed.started_at
    assert _claim(build.pk) is None  # a duplicate delivery of the same message
    assert Build.objects.get(pk=build.pk).started_at == claimed.started_at


def test_a_cancelled_build_is_not_claimed(make_build: Callable[..., Build]) -> None:
    build = make_build(Build.State.CANCELLED)
    assert _claim(build.pk) is None
    assert Build.objects.get(pk=build.pk).state == Build.State.CANCELLED


def test_a_claim_while_the_target_builds_on_the_host_is_target_busy(
    make_build: Callable[..., Build],
) -> None:
    make_build(Build.State.BUILDING)
    waiting = make_build(Build.State.QUEUED)
    with pytest.raises(TargetBusy):
        _claim(waiting.pk)
    assert Build.objects.get(pk=waiting.pk).state == Build.State.QUEUED


def test_a_build_of_another_target_is_claimed_while_one_builds(
    make_build: Callable[..., Build], other_target: Target
) -> None:
    make_build(Build.State.BUILDING)
    other = make_build(Build.State.QUEUED, target=other_target)
    assert _claim(other.pk) is not None


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (BuildTimedOut("the build reached its time limit"), Build.ErrorKind.TIMEOUT),
        (SoftTimeLimitExceeded(), Build.ErrorKind.TIMEOUT),
        (BuildOutOfMemory("the build ran out of memory"), Build.ErrorKind.MEMORY),
        (EngineUnavailable("lost the engine", hint="start it"), Build.ErrorKind.ENGINE),
        (ImageMissing("image x is not on the engine"), Build.ErrorKind.IMAGE),
        (SourceError("git fetch failed"), Build.ErrorKind.SOURCE),
        (UsageError("Cargo.lock is missing", hint="run cargo generate-lockfile"), "user"),
        (RuntimeError("a bug"), Build.ErrorKind.INTERNAL),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_each_way_a_build_can_fail_ends_it_failed_with_its_kind_and_reason_in_the_log(
    transactional_db: None, make_build: Callable[..., Build], error: Exception, kind: str
) -> None:
    build = make_build(Build.State.BUILDING)
    with BuildLog(build.pk) as log:
        ending = runner._ending_of_error(build, error, log)
    assert end_build(build.pk, from_states=Build.RUNNING_STATES, **ending)

    build.refresh_from_db()
    assert (build.state, build.success, build.error_kind) == (Build.State.FAILED, False, kind)
    assert build.error_message
    if isinstance(error, XcargoError):
        assert build.error_message == str(error), "the message keeps the hint"
    else:
        assert "a bug" not in build.error_message, "internals stay in the worker's log"
    assert any(line.startswith("xcargo: failed: ") for line in stored_lines(build)[-2:])


def test_a_build_cancelled_while_it_ran_ends_cancelled_saying_by_whom(
    transactional_db: None, make_build: Callable[..., Build], user: User
) -> None:
    build = make_build(Build.State.BUILDING)
    cancel_build(build=build, cancelled_by=user)
    with BuildLog(build.pk) as log:
        eventually(log.cancelled.is_set)
        ending = runner._ending_of_error(build, runner.Cancelled(), log)
    end_build(build.pk, from_states=Build.RUNNING_STATES, **ending)

    build.refresh_from_db()
    assert build.state == Build.State.CANCELLED
    assert build.error_message == f"cancelled by {user.username} while it ran"
