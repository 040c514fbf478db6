"""Cache quotas that act (which quota holds, and the warnings, are read in `selectors`):
leases that keep a build's volumes from being removed under it, and the eviction of
least-recently-used volumes above the limit.

Eviction takes target caches first (a project's own, rebuilt in minutes), then CARGO_HOME
volumes (shared downloads, fetched again), oldest use first, until the total is under the
limit. It never removes a volume a container uses or a lease holds, and it holds a lease of
its own while it removes one, so that no build starts on a volume that is going away.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from builds.models import Build, CacheEviction, CacheLease, CacheQuota, CacheVolume, EngineHost
from builds.selectors import host_quota
from runtimes import caches, naming
from runtimes.engine import Engine
from runtimes.errors import XcargoError
from runtimes.sizes import human_size
from xcargo_web.celery import app as celery_app

logger = logging.getLogger(__name__)

EVICTION_HOLDER = "eviction"
CLEAN_TASK = "builds.tasks.clean_cache_volumes"
# How long eviction holds a volume it removes; a removal takes a second or two.
_EVICTION_LEASE = timedelta(minutes=5)
# How long a build waits for a volume that is being removed before it gives up.
_WAIT_FOR_EVICTION_SECONDS = 120


class VolumeBeingRemoved(XcargoError):
    """A build's volume is being removed by the quota's eviction, for longer than it waits."""


# --- Leases.


def take_leases(host: EngineHost, build: Build, names: list[str]) -> None:
    """Hold the build's volumes until it ends (or its lease expires, when its worker dies):
    waits while the eviction removes one of them, and uses it (made anew) afterwards.
    """
    expires = timezone.now() + timedelta(seconds=settings.XCARGO_BUILD_TIMEOUT + 30 * 60)
    deadline = time.monotonic() + _WAIT_FOR_EVICTION_SECONDS
    for name in names:
        while not _hold(host, name, f"build {build.pk}", expires, build=build):
            if time.monotonic() > deadline:
                raise VolumeBeingRemoved(
                    f"cache volume {name} is being removed by the quota's eviction",
                    hint="trigger the build again in a minute",
                )
            time.sleep(1)


def release_leases(build: Build) -> None:
    """A build that ended holds nothing."""
    CacheLease.objects.filter(build=build).delete()


def _hold(
    host: EngineHost, name: str, holder: str, expires: datetime, *, build: Build | None = None
) -> bool:
    """Write this holder's lease, then back off (removing it) when the other side holds the
    volume: the eviction backs off from any build, a build from the eviction.
    """
    now = timezone.now()
    leases = CacheLease.objects.filter(engine_host=host, volume=name)
    leases.filter(expires_at__lt=now).delete()
    CacheLease.objects.update_or_create(
        engine_host=host,
        volume=name,
        holder=holder,
        defaults={"build": build, "expires_at": expires},
    )
    others = leases.exclude(holder=holder).filter(expires_at__gte=now)
    if holder == EVICTION_HOLDER:
        conflict = others.exists()
    else:
        conflict = others.filter(holder=EVICTION_HOLDER).exists()
    if conflict:
        leases.filter(holder=holder).delete()
    return not conflict


# --- Eviction.


_EVICTION_ORDER = (naming.KIND_TARGET, naming.KIND_COMPILER_CACHE, naming.KIND_CARGO_HOME)


@dataclass(frozen=True)
class _Candidate:
    usage: caches.VolumeUsage
    record: CacheVolume | None

    @property
    def last_used(self) -> float:
        if self.record is not None and self.record.last_used is not None:
            return self.record.last_used.timestamp()
        return self.usage.last_used or 0.0

    @property
    def order(self) -> tuple[int, float]:
        """Target caches, then compiler caches, then CARGO_HOME volumes (what the fewest
        builds need and the cheapest to make again first), each oldest use first.
        """
        return (_EVICTION_ORDER.index(self.usage.kind), self.last_used)


def enforce_quotas(
    host: EngineHost, engine: Engine, measured: list[caches.VolumeUsage] | None = None
) -> list[CacheEviction]:
    """Remove least-recently-used volumes until the host is under its limit, and each project
    with a quota of its own under that; records each removal and why. `measured`: the
    volumes as just measured (measuring again walks every volume).
    """
    records = {volume.name: volume for volume in CacheVolume.objects.filter(engine_host=host)}
    candidates = [
        _Candidate(usage, records.get(usage.name))
        for usage in (caches.usage(engine) if measured is None else measured)
        if usage.kind in _EVICTION_ORDER
    ]
    evicted: list[CacheEviction] = []
    for quota in CacheQuota.objects.filter(project__isnull=False).select_related("project"):
        mine = [
            candidate
            for candidate in candidates
            if candidate.record is not None
            and candidate.record.project_id == quota.project_id
            and candidate.usage.kind == naming.KIND_TARGET
        ]
        evicted += _evict_over(
            host,
            engine,
            mine,
            limit=quota.max_bytes,
            why=f"project {quota.project} above its limit of {human_size(quota.max_bytes)}",
        )
    removed = {eviction.volume for eviction in evicted}
    remaining = [candidate for candidate in candidates if candidate.usage.name not in removed]
    quota = host_quota(host)
    evicted += _evict_over(
        host,
        engine,
        remaining,
        limit=quota.max_bytes,
        why=f"engine host {host} above {human_size(quota.max_bytes)} ({quota.where})",
    )
    return evicted


def _evict_over(
    host: EngineHost, engine: Engine, candidates: list[_Candidate], *, limit: int, why: str
) -> list[CacheEviction]:
    total = sum(candidate.usage.size for candidate in candidates)
    evicted = []
    for candidate in sorted(candidates, key=lambda candidate: candidate.order):
        if total <= limit:
            break
        if candidate.usage.in_use:
            continue
        eviction = _evict(host, engine, candidate, f"{why}: least recently used")
        if eviction is not None:
            evicted.append(eviction)
            total -= candidate.usage.size
    if total > limit:
        logger.warning("%s: still %s after eviction (the rest is in use)", why, human_size(total))
    return evicted


def _evict(
    host: EngineHost, engine: Engine, candidate: _Candidate, reason: str
) -> CacheEviction | None:
    """Remove one volume under an eviction lease; None when a build holds it, or a
    container started using it meanwhile.
    """
    name = candidate.usage.name
    if not _hold(host, name, EVICTION_HOLDER, timezone.now() + _EVICTION_LEASE):
        return None  # a build holds it
    try:
        if not caches.remove_volume(engine, name):
            return None
    finally:
        CacheLease.objects.filter(engine_host=host, volume=name, holder=EVICTION_HOLDER).delete()
    record = candidate.record
    CacheVolume.objects.filter(engine_host=host, name=name).delete()
    eviction = CacheEviction.objects.create(
        engine_host=host,
        volume=name,
        kind=candidate.usage.kind,
        project=record.project if record is not None else None,
        target=candidate.usage.target,
        size=candidate.usage.size,
        last_used=(
            datetime.fromtimestamp(candidate.last_used, tz=UTC) if candidate.last_used else None
        ),
        reason=reason,
    )
    logger.info("evicted %s (%s): %s", name, human_size(candidate.usage.size), reason)
    return eviction


def request_clean(volumes: list[CacheVolume], *, requested_by: str) -> None:
    """Ask each host's worker to remove its volumes among `volumes` (once this transaction
    commits), under the eviction's rules: a volume in use or held by a build stays.
    """
    per_host: dict[EngineHost, list[str]] = {}
    for volume in volumes:
        per_host.setdefault(volume.engine_host, []).append(volume.name)
    reason = f"cleaned by {requested_by} from the caches page"
    for host, names in per_host.items():
        transaction.on_commit(
            lambda host=host, names=names: celery_app.send_task(
                CLEAN_TASK, args=[host.pk, names, reason], queue=host.queue, expires=3600
            )
        )


def clean_volumes(
    host: EngineHost, engine: Engine, names: list[str], reason: str
) -> list[CacheEviction]:
    """Remove these volumes of the host, as the eviction does, recording each with `reason`."""
    records = {volume.name: volume for volume in CacheVolume.objects.filter(engine_host=host)}
    removed = []
    for usage in caches.usage(engine):
        if usage.name in names and not usage.in_use:
            eviction = _evict(host, engine, _Candidate(usage, records.get(usage.name)), reason)
            if eviction is not None:
                removed.append(eviction)
    return removed
