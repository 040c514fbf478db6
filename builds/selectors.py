"""Everything pages and the API read, as querysets and small values: one place to see which
queries the dashboard makes, and which indexes they need.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, Prefetch, Q, QuerySet, Sum

from builds.models import (
    ApiToken,
    Approval,
    Build,
    CacheQuota,
    CacheVolume,
    EngineHost,
    Image,
    LogChunk,
    Project,
    Target,
    TrustedRegistry,
)
from runtimes.images.catalogue import CatalogueEntry, catalogue
from runtimes.images.trust import TrustPolicy

TAIL_LINES = 300


def trust_policy() -> TrustPolicy:
    """The registries the admins trust, as the build engine takes them."""
    return TrustPolicy(tuple(registry.as_registry() for registry in TrustedRegistry.objects.all()))


def approval_decision(project: Project, code: str) -> str | None:
    """The decision taken on the project's Dockerfile or image of approval `code`; None: never
    asked."""
    decisions = Approval.objects.filter(project=project, code=code)
    return decisions.values_list("decision", flat=True).first()


def approved_codes(project: Project) -> frozenset[str]:
    """The approval codes of the project's Dockerfiles and images a person approved."""
    approved = Approval.objects.filter(project=project, decision=Approval.Decision.APPROVED)
    return frozenset(approved.values_list("code", flat=True))


def projects_with_targets() -> QuerySet[Project]:
    return Project.objects.prefetch_related(
        Prefetch("targets", queryset=Target.objects.order_by("triple"))
    )


def recent_builds(
    *, project: str = "", target: str = "", state: str = "", triggered_by: str = ""
) -> QuerySet[Build]:
    """Builds newest first, filtered by project slug, target triple, state or user name."""
    builds = Build.objects.select_related(
        "project", "target", "triggered_by", "engine_host", "approval__decided_by"
    )
    if project:
        builds = builds.filter(project__slug=project)
    if target:
        builds = builds.filter(target__triple=target)
    if state:
        builds = builds.filter(state=state)
    if triggered_by:
        builds = builds.filter(triggered_by__username=triggered_by)
    return builds.order_by("-created_at", "-id")


def build_detail(build_id: int) -> Build:
    return (
        Build.objects.select_related(
            "project",
            "target",
            "triggered_by",
            "engine_host",
            "approval__decided_by",
        )
        .prefetch_related("artifacts")
        .get(pk=build_id)
    )


@dataclass(frozen=True)
class LogSlice:
    lines: list[str]
    first_line: int
    next_line: int


def log_from(build: Build, *, offset: int, limit: int = 5000) -> LogSlice:
    """Up to `limit` lines from line `offset` (0-based) on, reading only the chunks needed."""
    lines: list[str] = []
    chunks = LogChunk.objects.filter(
        build=build, first_line__gte=_chunk_floor(build, offset), first_line__lt=offset + limit
    ).order_by("first_line")
    for chunk in chunks.iterator():
        lines.extend(chunk.text.split("\n")[max(offset - chunk.first_line, 0) :])
        if len(lines) >= limit:
            break
    lines = lines[:limit]
    return LogSlice(lines=lines, first_line=offset, next_line=offset + len(lines))


def log_tail(build: Build, *, lines: int = TAIL_LINES) -> LogSlice:
    """The last `lines` lines: what a build page shows of a log of any length."""
    return log_from(build, offset=max(build.log_lines - lines, 0), limit=lines)


def log_text(build: Build) -> Iterator[str]:
    """The whole log, a chunk at a time, each ending with a newline: for a raw log download
    that never holds a long log in memory.
    """
    chunks = LogChunk.objects.filter(build=build).order_by("first_line").values_list("text")
    for (text,) in chunks.iterator(chunk_size=20):
        yield text + "\n"


def _chunk_floor(build: Build, offset: int) -> int:
    """The first line of the chunk holding line `offset` (chunks start at varying lines)."""
    floor = (
        LogChunk.objects.filter(build=build, first_line__lte=offset)
        .aggregate(start=Max("first_line"))
        .get("start")
    )
    return floor or 0


def api_token(user: AbstractBaseUser) -> ApiToken | None:
    """The user's API token (its prefix and dates; the token itself is never stored)."""
    return ApiToken.objects.filter(user=user).first()


def engine_hosts() -> QuerySet[EngineHost]:
    running = Q(builds__state__in=Build.RUNNING_STATES)
    return EngineHost.objects.annotate(running=Count("builds", filter=running)).order_by("name")


def images() -> QuerySet[Image]:
    return Image.objects.select_related("engine_host").order_by("engine_host__name", "size")


def image_catalogue(recorded: Iterable[Image]) -> list[tuple[str, CatalogueEntry]]:
    """Per engine host, every target and toolchain xcargo can make: made there, or not yet."""
    made: dict[str, list[tuple[str, str, str]]] = {}
    for host in EngineHost.objects.order_by("name").values_list("name", flat=True):
        made[host] = []
    for image in recorded:
        made.setdefault(image.engine_host.name, []).extend(
            (target, image.toolchain, image.reference) for target in image.targets
        )
    return [(host, entry) for host, pairs in made.items() for entry in catalogue(pairs)]


@dataclass(frozen=True)
class CacheSummary:
    volumes: list[CacheVolume]
    per_project: list[dict[str, object]]
    total: int
    quota: CacheQuota | None


def cache_summary() -> CacheSummary:
    volumes = list(
        CacheVolume.objects.select_related("engine_host", "project").order_by("-size", "name")
    )
    per_project = list(
        CacheVolume.objects.values("project__name", "project__slug")
        .annotate(size=Sum("size"), count=Count("id"))
        .order_by("-size")
    )
    total = sum(volume.size or 0 for volume in volumes)
    return CacheSummary(
        volumes=volumes,
        per_project=per_project,
        total=total,
        quota=CacheQuota.objects.filter(project__isnull=True).first(),
    )
