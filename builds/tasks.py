"""Celery tasks: thin wrappers that call services. Build tasks run on the queue of the engine
host that runs them; maintenance tasks on the shared maintenance queue.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from builds.models import EngineHost
from builds.services import builds, cache_quotas, engines, machines, runner
from runtimes.errors import XcargoError

logger = logging.getLogger(__name__)

# The task's own limits sit above the build's container timeout (which ends the build
# cleanly), leaving time for the source checkout, an image bootstrap and the artifacts.
_SOFT_LIMIT = settings.XCARGO_BUILD_TIMEOUT + 20 * 60
_HARD_LIMIT = _SOFT_LIMIT + 60


@shared_task(soft_time_limit=_SOFT_LIMIT, time_limit=_HARD_LIMIT, acks_late=False)
def run_build(build_id: int) -> None:
    """Run one build. While another build of its target runs on this host, it stays queued
    and is sent again when that one ends (not retried here: a retry is a message the worker
    holds unacknowledged for seconds, and kombu's worker dies when Redis restarts while it
    holds one). Afterwards the host's cache sizes are measured again, for the caches page.
    """
    try:
        host = runner.execute_build(build_id)
    except runner.TargetBusy:
        builds.mark_sent(build_id)
        logger.info("build %s waits for the build of its target that runs now", build_id)
        return
    if host is not None:  # it ran: a build of its target may wait for it to end
        builds.send_next_of_target(build_id)
        measure_cache_volumes.apply_async(args=[host.pk], queue=host.queue, expires=120)


@shared_task
def resend_stalled_builds() -> int:
    sent = builds.resend_stalled_builds()
    if sent:
        logger.warning("sent %d queued build(s) again, whose task had left the queue", len(sent))
    return len(sent)


@shared_task
def end_abandoned_builds() -> int:
    ended = builds.end_abandoned_builds()
    if ended:
        logger.warning("ended %d build(s) whose worker stopped answering", ended)
    return ended


@shared_task
def refresh_engine_hosts() -> None:
    """Ask each host's worker to record its engine's state (the web never asks engines)."""
    for host in EngineHost.objects.filter(enabled=True):
        refresh_engine_host.apply_async(args=[host.pk], queue=host.queue, expires=240)


@shared_task
def refresh_engine_host(host_id: int) -> None:
    host = EngineHost.objects.filter(pk=host_id).first()
    if host is not None:  # removed by an administrator since the task was queued
        engines.refresh_host(host)


@shared_task
def measure_cache_volumes(host_id: int) -> None:
    host = EngineHost.objects.filter(pk=host_id).first()
    if host is not None:
        engines.measure_volumes(host)


@shared_task
def clean_cache_volumes(host_id: int, names: list[str], reason: str) -> None:
    """Remove volumes an admin chose on the caches page, on the worker of their host."""
    host = EngineHost.objects.filter(pk=host_id).first()
    if host is not None:
        cache_quotas.clean_volumes(host, engines.connect_host(host), names, reason)
        engines.measure_volumes(host)


@shared_task
def remove_images(host_id: int, references: list[str]) -> None:
    """Remove images an admin chose on the caches page, on the worker of their host."""
    host = EngineHost.objects.filter(pk=host_id).first()
    if host is not None:
        engines.remove_images(host, references)


@shared_task
def set_up_podman_machine(host_id: int) -> None:
    """An admin asked the engines page to set up the host's Podman machine (macOS)."""
    host = EngineHost.objects.filter(pk=host_id).first()
    if host is not None:
        try:
            machines.set_up_machine(host)
        except XcargoError as error:  # recorded on the host, for the page
            logger.warning("host %s: the Podman machine could not be set up: %s", host, error)
