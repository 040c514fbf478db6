"""Everything pages and the API read, as querysets and small values: one place to see which
queries the dashboard makes, and which indexes they need.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Max, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from builds.models import (
    ApiToken,
    Approval,
    Build,
    BuildVariable,
    CacheEviction,
    CacheQuota,
    CacheVolume,
    EngineHost,
    Image,
    LogChunk,
    Project,
    Target,
    TrustedRegistry,
)
from runtimes import caches
from runtimes.build_env import BuildEnvironment, resolve_environment
from runtimes.config import XcargoConfig
from runtimes.images.catalogue import CatalogueEntry, catalogue
from runtimes.images.trust import TrustPolicy
from runtimes.rust_versions import RustVersion
from runtimes.sizes import human_size
from runtimes.toolchains import toolchain_for

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


def build_variables(target: Target) -> list[BuildVariable]:
    """The variables a build of `target` sees: the project's, with the target's own winning."""
    variables = BuildVariable.objects.filter(project_id=target.project_id).filter(
        Q(target__isnull=True) | Q(target=target)
    )
    chosen: dict[str, BuildVariable] = {}
    for variable in variables.order_by(F("target").asc(nulls_first=True)):
        chosen[variable.name] = variable
    return sorted(chosen.values(), key=lambda variable: variable.name)


def build_environment(target: Target, config: XcargoConfig) -> BuildEnvironment:
    """The environment of a build of `target`: xcargo.toml's fixed values under the admins'
    variables; a passthrough name of xcargo.toml takes its value from the admins' variables
    only, never from the worker's own environment.
    """
    variables = build_variables(target)
    env = config.env_for(target.triple)
    plain = {variable.name: variable.value for variable in variables if not variable.secret}
    secrets = {variable.name: variable.value for variable in variables if variable.secret}
    return resolve_environment(
        env.passthrough,
        {**env.values, **plain},
        available={**plain, **secrets},
        secrets=secrets,
    )


def projects_with_targets() -> QuerySet[Project]:
    return Project.objects.prefetch_related(
        Prefetch("targets", queryset=Target.objects.order_by("triple")),
        Prefetch(
            "variables",
            queryset=BuildVariable.objects.select_related("target").order_by("name", "target"),
        ),
    )


# What a table of builds shows of each; a build's other fields (JSON and texts among them)
# are left in the database.
TABLE_FIELDS = (
    "project__name",
    "project__slug",
    "target__triple",
    "triggered_by__username",
    "state",
    "success",
    "error_kind",
    "created_at",
    "started_at",
    "finished_at",
    "heartbeat_at",
    "joined_id",
)


def build_rows() -> QuerySet[Build]:
    """Builds newest first, with what a table of builds shows of each and nothing more."""
    return (
        Build.objects.select_related("project", "target", "triggered_by")
        .only(*TABLE_FIELDS)
        .order_by("-created_at", "-id")
    )


def recent_builds(
    *, project: str = "", target: str = "", state: str = "", triggered_by: str = ""
) -> QuerySet[Build]:
    """`build_rows`, filtered by project slug, target triple, state or user name. Each filter
    alone, and a project with a state, has an index in this order (`Build.Meta.indexes`); the
    names are looked up first, in subqueries, so that both databases read the builds from
    that index instead of walking every build newest first through a join.
    """
    builds = build_rows()
    if project:
        builds = builds.filter(project=_id_of(Project.objects.filter(slug=project)))
    if target:
        builds = builds.filter(target__in=Target.objects.filter(triple=target))
    if state:
        builds = builds.filter(state=state)
    if triggered_by:
        users = get_user_model().objects.filter(username=triggered_by)
        builds = builds.filter(triggered_by=_id_of(users))
    return builds


def _id_of(unique: QuerySet[Any]) -> Subquery:
    """The id of the one row of `unique` (found by a unique name), as a subquery: NULL, which
    matches nothing, when there is none.
    """
    return Subquery(unique.order_by().values("pk")[:1])


class IdsFirst:
    """Builds sliced by id: first the slice's ids, read from the index of their order and
    filters alone; then only those rows, with their related ones (`rows`: what to read with
    them; by default `build_rows`). A deep page's OFFSET skips index entries instead of
    joined rows, so page 1000 of 100 000 builds costs about what page 1 does. The ids are
    read by a query of their own and passed as a list: as a subquery, joined with the seven
    tables a build in full reads, they left PostgreSQL's planner past its join_collapse_limit,
    and it joined all 100 000 builds before keeping 50 (340 ms for the API's list). Pass it
    to a Paginator as its object list.
    """

    def __init__(self, builds: QuerySet[Build], rows: QuerySet[Build] | None = None) -> None:
        self.builds = builds
        self.rows = build_rows() if rows is None else rows

    def count(self) -> int:
        return self.builds.count()

    def __getitem__(self, window: slice) -> list[Build]:
        ids = list(self.builds.values_list("pk", flat=True)[window])
        return list(self.rows.filter(pk__in=ids)) if ids else []


def builds_in_full() -> QuerySet[Build]:
    """Builds newest first, with every related row a build's page or API answer shows."""
    return (
        Build.objects.select_related(
            "project",
            "target",
            "triggered_by",
            "engine_host",
            "approval__decided_by",
            "joined",
        )
        .prefetch_related("artifacts")
        .order_by("-created_at", "-id")
    )


def build_detail(build_id: int) -> Build:
    return builds_in_full().get(pk=build_id)


@dataclass(frozen=True)
class LogSlice:
    lines: list[str]
    first_line: int
    next_line: int

    @property
    def text(self) -> str:
        """The lines as a page shows them, each ending with a newline: one string for the
        template, where a loop over a poll's 2000 lines took longer than the rest of it.
        """
        return "".join(f"{line}\n" for line in self.lines)


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
    """Engine hosts with the number of builds running on each, counted in the index of
    (host, state): a join with every build would count through all of them on each page view.
    """
    running = (
        Build.objects.filter(engine_host=OuterRef("pk"), state__in=Build.RUNNING_STATES)
        .order_by()
        .values("engine_host")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return EngineHost.objects.annotate(running=Coalesce(Subquery(running), 0)).order_by("name")


def images() -> QuerySet[Image]:
    return Image.objects.select_related("engine_host").order_by("engine_host__name", "size")


def old_toolchain_images(*, toolchain: str, older_than: int | None) -> list[Image]:
    """The toolchain images the caches page offers to remove: held by an engine host for a
    toolchain older than the newest it holds for each of the image's targets (a build asking
    for the old one by name gets it made or pulled again), never of the server's pinned
    toolchain, not used by a build for `older_than` seconds; only `toolchain`'s when given.
    """
    held = list(
        Image.objects.filter(origin__in=(Image.Origin.BOOTSTRAPPED, Image.Origin.PULLED))
        .exclude(toolchain="")
        .select_related("engine_host")
        .order_by("engine_host__name", "reference")
    )
    versions = {image.pk: RustVersion.parse(image.toolchain) for image in held}
    newest: dict[tuple[int, str], RustVersion] = {}
    for image in held:
        for target in image.targets:
            key = (image.engine_host_id, target)
            newest[key] = max(newest.get(key, versions[image.pk]), versions[image.pk])
    pinned = toolchain_for(settings.XCARGO_TOOLCHAIN).channel if settings.XCARGO_TOOLCHAIN else ""
    cutoff = timezone.now() - timedelta(seconds=older_than) if older_than is not None else None
    return [
        image
        for image in held
        if image.targets
        and image.toolchain != pinned
        and (not toolchain or image.toolchain == toolchain)
        and all(newest[(image.engine_host_id, t)] > versions[image.pk] for t in image.targets)
        and (cutoff is None or image.last_used is None or image.last_used < cutoff)
    ]


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
    )


# --- Cache quotas: which one holds, and what is over it.


@dataclass(frozen=True)
class Quota:
    warn_bytes: int
    max_bytes: int
    # Where it comes from, as messages say it: "the quota of engine host builder-1".
    where: str


def host_quota(host: EngineHost) -> Quota:
    """The host's own quota, else the global one, else the design's 5 and 10 GB."""
    for quota, where in (
        (CacheQuota.objects.filter(engine_host=host).first(), f"the quota of engine host {host}"),
        (
            CacheQuota.objects.filter(project__isnull=True, engine_host__isnull=True).first(),
            "the global quota",
        ),
    ):
        if quota is not None:
            return Quota(quota.warn_bytes, quota.max_bytes, where)
    return Quota(caches.WARN_BYTES, caches.CLEAN_BYTES, "the default quota")


def cache_warnings() -> list[str]:
    """What the dashboard warns about: each engine host, and each project with a quota of its
    own, whose recorded caches are above the warning size (sizes as workers last measured).
    """
    warnings = []
    for host in EngineHost.objects.order_by("name"):
        total = _recorded_total(CacheVolume.objects.filter(engine_host=host))
        if message := _over(total, host_quota(host), f"engine host {host}"):
            warnings.append(message)
    for quota in CacheQuota.objects.filter(project__isnull=False).select_related("project"):
        total = _recorded_total(CacheVolume.objects.filter(project=quota.project))
        own = Quota(quota.warn_bytes, quota.max_bytes, f"the quota of project {quota.project}")
        if message := _over(total, own, f"project {quota.project}"):
            warnings.append(message)
    return warnings


def build_warning(host: EngineHost) -> str | None:
    """The line a build's log starts with when its host's caches are above the warning size."""
    total = _recorded_total(CacheVolume.objects.filter(engine_host=host))
    return _over(total, host_quota(host), f"engine host {host}")


def _recorded_total(volumes: QuerySet[CacheVolume]) -> int:
    """Summed in the database: the dashboard asks on every view, and rows can be many."""
    return volumes.aggregate(total=Sum("size"))["total"] or 0


def _over(total: int, quota: Quota, what: str) -> str | None:
    if total >= quota.max_bytes:
        return (
            f"caches of {what} use {human_size(total)}, over the limit of "
            f"{human_size(quota.max_bytes)} ({quota.where}): least-recently-used volumes are "
            "removed"
        )
    if total >= quota.warn_bytes:
        return (
            f"caches of {what} use {human_size(total)}, over the warning size of "
            f"{human_size(quota.warn_bytes)} ({quota.where})"
        )
    return None


def host_quotas() -> list[tuple[EngineHost, Quota, int]]:
    """Each engine host with the quota that holds for it and its recorded total."""
    return [
        (host, host_quota(host), _recorded_total(CacheVolume.objects.filter(engine_host=host)))
        for host in EngineHost.objects.order_by("name")
    ]


def recent_evictions(limit: int = 50) -> QuerySet[CacheEviction]:
    return CacheEviction.objects.select_related("engine_host", "project")[:limit]


def volumes_to_clean(
    *, project: Project | None, target: str, older_than: int | None
) -> list[CacheVolume]:
    """The recorded volumes a clean from the caches page takes (as workers last measured
    them): of a project, of a target, unused for `older_than` seconds; every one otherwise.
    """
    volumes = CacheVolume.objects.select_related("engine_host", "project").order_by("name")
    if project is not None:
        volumes = volumes.filter(project=project)
    if target:
        volumes = volumes.filter(target=target)
    if older_than is not None:
        cutoff = timezone.now() - timedelta(seconds=older_than)
        volumes = volumes.filter(Q(last_used__lt=cutoff) | Q(last_used__isnull=True))
    return list(volumes)
