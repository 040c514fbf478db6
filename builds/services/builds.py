"""Starting and stopping builds, from a page, the API or a command.

A build is created in the database first and handed to the queue only once that transaction
has committed, so a worker never looks for a row it cannot see yet; a queue that does not
answer ends the build at once, with the reason, instead of leaving it queued forever. A
trigger identical to a build still queued joins that build instead (`_build_to_join`): it is
never queued itself, and ends when that build ends, with its result and its artifacts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError

from builds.models import Artifact, Build, EngineHost, Target
from builds.services.errors import Conflict, InvalidInput, Unavailable, checked
from builds.services.projects import check_cargo_arguments, check_program_arguments
from runtimes.cargo_args import BUILD, RUNS_TESTS, SERVER_COMMANDS
from runtimes.sources import validate_ref
from runtimes.toolchain_choice import STABLE
from runtimes.toolchains import toolchain_for
from xcargo_web.celery import app as celery_app

logger = logging.getLogger(__name__)

RUN_BUILD_TASK = "builds.tasks.run_build"
# How long a trigger waits for the broker before it gives up and says so.
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def trigger_build(
    *,
    target: Target,
    triggered_by: AbstractBaseUser | None,
    ref: str = "",
    toolchain: str = "",
    cargo_args: Sequence[str] = (),
    command: str = BUILD,
    test_args: Sequence[str] = (),
    engine_host: str = "",
) -> Build:
    """Queue a build of `target` at `ref` (the project's default when empty), with the
    `toolchain` asked for ("" lets the build choose: xcargo.toml, rust-toolchain.toml, newest)
    and cargo's own arguments: the target's, then `cargo_args`. `command` "test" makes it a
    test run: the tests built and run under the target's emulator, with `test_args` given to
    each test program (a filter, `--ignored`, `--test-threads 1`…). `engine_host` names the
    host to build on; empty: where the target's caches are warm. A trigger identical to a
    build still queued joins that build (`_build_to_join`) and is not queued itself.
    """
    project = target.project
    if not target.enabled:
        raise Conflict(f"{target} is disabled: enable it first", field="target")
    ref = ref.strip() or project.default_ref
    if ref and project.local_path:
        raise Conflict("a server-local project has no git ref; leave ref empty", field="ref")
    if ref:
        checked(validate_ref, ref, "ref")
    toolchain = _offered_toolchain(toolchain.strip())
    arguments = check_cargo_arguments([*target.cargo_args, *cargo_args])
    if command not in SERVER_COMMANDS:
        raise InvalidInput(
            f"a build is one of {', '.join(SERVER_COMMANDS)}, not {command!r}", field="command"
        )
    if test_args and command not in RUNS_TESTS:
        raise InvalidInput("test arguments are for a test run", field="test_args")
    test_arguments = check_program_arguments(test_args, "test_args")
    identity = dict(
        target=target,
        engine_host=choose_engine_host(target, engine_host.strip()),
        ref=ref,
        release=target.release,
        cargo_args=arguments,
        command=command,
        test_args=test_arguments,
        requested_toolchain=toolchain,
    )
    with transaction.atomic():
        Target.objects.select_for_update().get(pk=target.pk)
        leader = _build_to_join(identity)
        build = Build.objects.create(
            project=project,
            **identity,
            joined=leader,
            triggered_by=triggered_by,
            task_id=uuid.uuid4().hex,
        )
        if leader is None:
            transaction.on_commit(lambda: _enqueue(build))
    build.refresh_from_db()
    return build


def _build_to_join(identity: dict[str, Any]) -> Build | None:
    """The queued build that a new trigger of the same `identity` joins instead of running
    again, if there is one: the same target and engine host, ref, profile, cargo arguments,
    command, test arguments and requested toolchain.

    Only a build that is still queued is joined, never one that runs or has ended: a queued
    build has read nothing yet, so its source (the ref's commit, resolved at its checkout; a
    server-local project's tree, copied then), the target's settings, variables and approvals
    are all read after every trigger that joined it, and it builds exactly what each of them
    asked for. A running build may have checked out an older commit of the ref, or copied a
    tree since edited, than a later trigger expects. A build that joined another is not
    joined in turn: the first one queued leads.

    The trigger holds its target's row, so that identical triggers at the same moment look
    one after the other and all but the first join it; and the leader's row, so that its
    claim or its ending waits for the new build, and an ending that settles the builds that
    joined it sees every one of them. (SQLite, which has no row locks, takes its one write
    lock when the transaction starts: the same order.)
    """
    return (
        Build.objects.select_for_update()
        .filter(state=Build.State.QUEUED, joined__isnull=True, **identity)
        .order_by("created_at", "pk")
        .first()
    )


def _offered_toolchain(toolchain: str) -> str:
    """Nothing, "stable" or a channel this server offers (XCARGO_TOOLCHAINS), as a channel."""
    if toolchain in ("", STABLE):
        return toolchain
    channel = checked(toolchain_for, toolchain, "toolchain").channel
    if channel not in settings.XCARGO_TOOLCHAINS:
        raise Conflict(
            f"this server does not offer toolchain {channel}",
            field="toolchain",
            hint=f"offered: {', '.join(settings.XCARGO_TOOLCHAINS)}, or stable",
        )
    return channel


def choose_engine_host(target: Target, named: str = "") -> EngineHost:
    """The host named with the trigger (a Docker or a Podman one, say), else the host that
    built this target last, where its caches are warm, else the default.
    """
    if named:
        host = EngineHost.objects.filter(name=named).first()
        if host is None:
            known = ", ".join(EngineHost.objects.order_by("name").values_list("name", flat=True))
            raise InvalidInput(
                f"no engine host {named!r}", field="engine_host", hint=f"known: {known or 'none'}"
            )
        if not host.enabled:
            raise Conflict(f"engine host {named} is disabled", field="engine_host")
        return host
    last = (
        Build.objects.filter(target=target, engine_host__enabled=True, success=True)
        .select_related("engine_host")
        .order_by("-created_at")
        .first()
    )
    if last is not None:
        return last.engine_host
    host = EngineHost.objects.filter(
        name=settings.XCARGO_DEFAULT_ENGINE_HOST, enabled=True
    ).first() or (EngineHost.objects.filter(enabled=True).order_by("name").first())
    if host is None:
        raise Unavailable(
            "no engine host is registered: no worker has started yet",
            hint="start a worker with `python manage.py worker` (make run starts one)",
        )
    return host


def _publish(build: Build) -> None:
    """Hand the build's task to its host's queue; raises when the broker does not answer."""
    celery_app.send_task(
        RUN_BUILD_TASK,
        args=[build.pk],
        queue=build.engine_host.queue,
        task_id=build.task_id,
        retry=True,
        retry_policy=_PUBLISH_RETRY,
    )
    mark_sent(build.pk)


def mark_sent(build_id: int) -> None:
    """Note that the build's task is on the queue now (published, or retried by a worker
    while its target is busy), so that it is not sent again for a while.
    """
    Build.objects.filter(pk=build_id, state=Build.State.QUEUED).update(sent_at=timezone.now())


def _waiting_for_a_worker() -> QuerySet[Build]:
    """Queued builds that a worker is to run: not those that joined another build, which
    never run and end with it.
    """
    return Build.objects.filter(state=Build.State.QUEUED, joined__isnull=True)


def send_next_of_target(build_id: int) -> int | None:
    """After build `build_id` left its running state, send the oldest build of its target
    still waiting on its host (it found the target busy); its id, or None when none waits.
    """
    ended = Build.objects.filter(pk=build_id).values("target_id", "engine_host_id").first()
    if ended is None:
        return None
    waiting = (
        _waiting_for_a_worker()
        .filter(**ended)
        .select_related("engine_host")
        .order_by("created_at", "pk")
        .first()
    )
    if waiting is None:
        return None
    try:
        _publish(waiting)
    except (OperationalError, OSError) as error:
        logger.warning("build %s could not be sent: %s; it is sent again later", waiting.pk, error)
    return waiting.pk


def resend_stalled_builds() -> list[int]:
    """Send again the queued builds whose task has not been seen on the queue for
    XCARGO_QUEUE_RESEND_AFTER seconds: the database is the truth about builds, and a broker
    that lost its messages (restarted without saving them) must not leave any queued for
    good. A second message for the same build is harmless: only one claim can win.
    """
    cutoff = timezone.now() - timezone.timedelta(seconds=settings.XCARGO_QUEUE_RESEND_AFTER)
    stalled = _waiting_for_a_worker().filter(
        Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff),
        engine_host__enabled=True,
    )
    sent = []
    for build in stalled.select_related("engine_host"):
        try:
            _publish(build)
        except (OperationalError, OSError) as error:
            logger.warning("build %s could not be sent again: %s", build.pk, error)
            break  # the broker does not answer: the next round tries again
        sent.append(build.pk)
    return sent


def _enqueue(build: Build) -> None:
    """Publish the build to its host's queue; a broker that does not answer fails the build."""
    try:
        _publish(build)
    except (OperationalError, OSError) as error:
        logger.warning("build %s could not be queued: %s", build.pk, error)
        end_build(
            build.pk,
            state=Build.State.FAILED,
            error_kind=Build.ErrorKind.QUEUE,
            error_message=(
                "the build queue (Redis) did not answer, so the build was not started: "
                "check that Redis runs and CELERY_BROKER_URL points at it"
            ),
            from_states=[Build.State.QUEUED],
        )


def requeue_build(build_id: int, *, from_states: list[str]) -> bool:
    """Queue a build again from one of `from_states` (a Dockerfile approved while it waited),
    as a new task once the transaction commits; False when it had left those states.
    """
    with transaction.atomic():
        requeued = Build.objects.filter(pk=build_id, state__in=from_states).update(
            state=Build.State.QUEUED,
            started_at=None,
            heartbeat_at=None,
            sent_at=None,
            task_id=uuid.uuid4().hex,
        )
        if requeued:
            build = Build.objects.select_related("engine_host").get(pk=build_id)
            transaction.on_commit(lambda: _enqueue(build))
    return bool(requeued)


def cancel_build(*, build: Build, cancelled_by: AbstractBaseUser | None) -> Build:
    """Cancel a build: at once when it has not started, else by asking its worker to stop it
    (the worker kills the container and ends the build as cancelled within a second or two).
    A build that joined another is cancelled alone; the builds that joined a cancelled one go
    on without it (see `_settle_joiners`).
    """
    who = getattr(cancelled_by, "username", None) or "someone"
    ended = end_build(
        build.pk,
        state=Build.State.CANCELLED,
        error_kind=Build.ErrorKind.CANCELLED,
        error_message=f"cancelled by {who} before it started",
        from_states=[Build.State.QUEUED, Build.State.AWAITING_APPROVAL],
    )
    if not ended:
        # The message waits on the row until the worker ends the build with it.
        asked = Build.objects.filter(pk=build.pk, state__in=Build.RUNNING_STATES).update(
            cancel_requested=True, error_message=f"cancelled by {who} while it ran"
        )
        if not asked:
            build.refresh_from_db()
            raise Conflict(f"build #{build.pk} has already ended ({build.state})")
        logger.info("build %s: cancel requested by %s", build.pk, who)
    build.refresh_from_db()
    return build


def end_build(build_id: int, *, from_states: list[str] | tuple[str, ...], **ending: Any) -> bool:
    """Move a build into a final state if it is still in one of `from_states`; False when it
    was not (another party ended it first). This conditional update is what makes every build
    end in exactly one final state, whoever gets there first: worker, cancel, or the reaper.
    """
    return _end_one(build_id, Build.objects.filter(pk=build_id, state__in=from_states), ending)


def _end_one(build_id: int, match: QuerySet[Build], ending: dict[str, Any]) -> bool:
    """End build `build_id` with `ending` if `match` (that build, in the states it may end
    from) still finds it, and in the same transaction the builds that joined it: no joined
    build is left queued behind a build that has ended.
    """
    with transaction.atomic():
        if not _end(match, **ending):
            return False
        _settle_joiners(build_id, ending)
    return True


def _end(
    builds: QuerySet[Build],
    *,
    state: str,
    success: bool | None = False,
    error_kind: str = "",
    error_message: str = "",
    **fields: object,
) -> int:
    return builds.update(
        state=state,
        success=success,
        error_kind=error_kind,
        error_message=error_message,
        finished_at=timezone.now(),
        **fields,
    )


def _settle_joiners(leader_id: int, ending: dict[str, Any]) -> None:
    """The builds that joined `leader_id`, which has just ended with `ending`: they end the
    same way, with its commit and its artifacts (their rows name the same stored files).
    A cancel is the one exception: whoever cancelled the leader did not cancel them.
    """
    joiners = list(
        Build.objects.select_for_update()
        .filter(joined_id=leader_id, state=Build.State.QUEUED)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )
    if not joiners:
        return
    if ending["state"] == Build.State.CANCELLED:
        _hand_over(joiners)
        return
    commit = Build.objects.filter(pk=leader_id).values_list("commit", flat=True).get()
    _end(Build.objects.filter(pk__in=joiners), commit=commit, **ending)
    _share_artifacts(leader_id, joiners)


def _hand_over(joiners: list[int]) -> None:
    """A cancelled leader's joiners, oldest first, go on without it: the oldest is queued to
    run itself and the others join it, so that each still ends with the build it asked for.
    """
    heir, *others = joiners
    Build.objects.filter(pk=heir).update(joined=None)
    Build.objects.filter(pk__in=others).update(joined=heir)
    build = Build.objects.select_related("engine_host").get(pk=heir)
    transaction.on_commit(lambda: _enqueue(build))


# An artifact's fields as a build that joined another gets them: all but its id and build.
_SHARED_ARTIFACT_FIELDS = tuple(
    field.attname
    for field in Artifact._meta.concrete_fields
    if field.attname not in ("id", "build_id")
)


def _share_artifacts(leader_id: int, joiners: list[int]) -> None:
    """The leader's artifacts as rows of each joiner, naming the same stored files: a joiner
    downloads the very file the leader made, and nothing is copied.
    """
    rows = list(Artifact.objects.filter(build_id=leader_id).values(*_SHARED_ARTIFACT_FIELDS))
    Artifact.objects.bulk_create(
        Artifact(build_id=joiner, **row) for joiner in joiners for row in rows
    )


def end_abandoned_builds() -> int:
    """End the running builds whose worker stopped writing heartbeats: it was killed, or its
    machine went away. Their containers are removed by the next build of the same target,
    which is sent at once: its target is free.
    """
    cutoff = timezone.now() - timezone.timedelta(seconds=settings.XCARGO_HEARTBEAT_TIMEOUT)
    abandoned = Build.objects.filter(state__in=Build.RUNNING_STATES, heartbeat_at__lt=cutoff)
    ending = dict(
        state=Build.State.FAILED,
        error_kind=Build.ErrorKind.WORKER_LOST,
        error_message=(
            f"the worker running this build stopped answering (no heartbeat for "
            f"{settings.XCARGO_HEARTBEAT_TIMEOUT} s): it was stopped or its machine is down"
        ),
    )
    ended = 0
    for build_id in list(abandoned.values_list("pk", flat=True)):
        if _end_one(build_id, abandoned.filter(pk=build_id), ending):
            ended += 1
            transaction.on_commit(lambda build_id=build_id: send_next_of_target(build_id))
    return ended


def record_phase(build_id: int, state: str) -> bool:
    """Show which phase a running build is in; False if it has ended meanwhile."""
    return bool(
        Build.objects.filter(pk=build_id, state__in=Build.RUNNING_STATES).update(
            state=state, heartbeat_at=timezone.now()
        )
    )


def count_log_lines(build_id: int, lines: int) -> None:
    """Advance the build's line count and heartbeat after a chunk of its log was stored."""
    Build.objects.filter(pk=build_id).update(
        log_lines=F("log_lines") + lines, heartbeat_at=timezone.now()
    )


def delete_builds(builds: QuerySet[Build]) -> int:
    """Delete the ended builds among `builds`, with their logs, their artifacts and the
    artifacts' files that no other build shares; a build still queued or running is left
    alone (cancel it first, or its worker would go on writing to a build that is gone).
    Returns how many builds went.
    """
    with transaction.atomic():
        ended = Build.objects.filter(pk__in=builds.values("pk"), state__in=Build.FINAL_STATES)
        files = _stored_files(Artifact.objects.filter(build__in=ended))
        deleted = ended.delete()[1].get(Build._meta.label, 0)
        _delete_unused_files(files)
    return deleted


def delete_artifacts(artifacts: QuerySet[Artifact]) -> int:
    """Delete artifacts and, once the rows are gone for good, the files no other row names."""
    with transaction.atomic():
        files = _stored_files(artifacts)
        deleted = artifacts.delete()[1].get(Artifact._meta.label, 0)
        _delete_unused_files(files)
    return deleted


def _stored_files(artifacts: QuerySet[Artifact]) -> set[str]:
    return set(artifacts.exclude(file="").values_list("file", flat=True))


def _delete_unused_files(names: set[str]) -> None:
    """Once this transaction commits, delete the files among `names` that no artifact row
    names any more: builds that joined another share its files, which go with the last row.
    Only once the rows are gone for good: a rollback keeps both.
    """
    used = set(Artifact.objects.filter(file__in=names).values_list("file", flat=True))
    storage = Artifact._meta.get_field("file").storage
    unused = sorted(names - used)
    transaction.on_commit(lambda: _delete_files(storage, unused))


def _delete_files(storage: Storage, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except OSError as error:
            logger.warning("could not delete artifact file %s: %s", name, error)
