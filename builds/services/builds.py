"""Starting and stopping builds, from a page, the API or a command.

A build is created in the database first and handed to the queue only once that transaction
has committed, so a worker never looks for a row it cannot see yet; a queue that does not
answer ends the build at once, with the reason, instead of leaving it queued forever.
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
from builds.services.projects import check_cargo_arguments
from runtimes.cargo_args import BUILD, SERVER_COMMANDS
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
) -> Build:
    """Queue a build of `target` at `ref` (the project's default when empty), with the
    `toolchain` asked for ("" lets the build choose: xcargo.toml, rust-toolchain.toml, newest)
    and cargo's own arguments: the target's, then `cargo_args`. `command` "test" makes it a
    test run: the tests built and run under the target's emulator.
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
    host = choose_engine_host(target)
    with transaction.atomic():
        build = Build.objects.create(
            project=project,
            target=target,
            engine_host=host,
            ref=ref,
            release=target.release,
            cargo_args=arguments,
            command=command,
            requested_toolchain=toolchain,
            triggered_by=triggered_by,
            task_id=uuid.uuid4().hex,
        )
        transaction.on_commit(lambda: _enqueue(build))
    build.refresh_from_db()
    return build


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


def choose_engine_host(target: Target) -> EngineHost:
    """The host that built this target last, where its caches are warm, else the default."""
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


def send_next_of_target(build_id: int) -> int | None:
    """After build `build_id` ended, send the oldest build of its target still queued on its
    host (it found the target busy and waits); its id, or None when none waits.
    """
    ended = Build.objects.filter(pk=build_id).values("target_id", "engine_host_id").first()
    if ended is None:
        return None
    waiting = (
        Build.objects.filter(state=Build.State.QUEUED, **ended)
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
    stalled = Build.objects.filter(state=Build.State.QUEUED, engine_host__enabled=True).filter(
        Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff)
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
    return bool(_end(Build.objects.filter(pk=build_id, state__in=from_states), **ending))


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


def end_abandoned_builds() -> int:
    """End the running builds whose worker stopped writing heartbeats: it was killed, or its
    machine went away. Their containers are removed by the next build of the same target.
    """
    cutoff = timezone.now() - timezone.timedelta(seconds=settings.XCARGO_HEARTBEAT_TIMEOUT)
    return _end(
        Build.objects.filter(state__in=Build.RUNNING_STATES, heartbeat_at__lt=cutoff),
        state=Build.State.FAILED,
        error_kind=Build.ErrorKind.WORKER_LOST,
        error_message=(
            f"the worker running this build stopped answering (no heartbeat for "
            f"{settings.XCARGO_HEARTBEAT_TIMEOUT} s): it was stopped or its machine is down"
        ),
    )


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
    artifacts' files; a build still queued or running is left alone (cancel it first, or its
    worker would go on writing to a build that is gone). Returns how many builds went.
    """
    storage = Artifact._meta.get_field("file").storage
    with transaction.atomic():
        ended = Build.objects.filter(pk__in=builds.values("pk"), state__in=Build.FINAL_STATES)
        files = list(
            Artifact.objects.filter(build__in=ended).exclude(file="").values_list("file", flat=True)
        )
        deleted = ended.delete()[1].get(Build._meta.label, 0)
        # Files go only once the rows are gone for good: a rollback keeps both.
        transaction.on_commit(lambda: _delete_files(storage, files))
    return deleted


def delete_artifacts(artifacts: QuerySet[Artifact]) -> int:
    """Delete artifacts and, once the rows are gone for good, their files."""
    storage = Artifact._meta.get_field("file").storage
    with transaction.atomic():
        files = list(artifacts.exclude(file="").values_list("file", flat=True))
        deleted = artifacts.delete()[1].get(Artifact._meta.label, 0)
        transaction.on_commit(lambda: _delete_files(storage, files))
    return deleted


def _delete_files(storage: Storage, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except OSError as error:
            logger.warning("could not delete artifact file %s: %s", name, error)
