"""Celery tasks: thin wrappers that call services. Build tasks run on the queue of the engine
host that runs them; maintenance tasks on the shared maintenance queue.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from builds.models import EngineHost
from builds.services import builds, engines, runner

logger = logging.getLogger(__name__)

# The task's own limits sit above the build's container timeout (which ends the build
# cleanly), leaving time for the source checkout, an image bootstrap and the artifacts.
_SOFT_LIMIT = settings.XCARGO_BUILD_TIMEOUT + 20 * 60
_HARD_LIMIT = _SOFT_LIMIT + 60
_BUSY_RETRY_SECONDS = 3


@shared_task(
    bind=True,
    soft_time_limit=_SOFT_LIMIT,
    time_limit=_HARD_LIMIT,
    max_retries=None,
    acks_late=False,
)
def run_build(self, build_id: int) -> None:
    """Run one build; while another build of its target runs on this host, wait (retry).
    Afterwards the host's cache sizes are measured again, for the caches page.
    """
    try:
        host = runner.execute_build(build_id)
    except runner.TargetBusy as busy:
        raise self.retry(countdown=_BUSY_RETRY_SECONDS, exc=busy) from None
    if host is not None:
        measure_cache_volumes.apply_async(args=[host.pk], queue=host.queue, expires=120)


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
