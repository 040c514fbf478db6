"""Cache volumes (FR1): created on first use, kept across container removal, sized and cleaned.

Three kinds: one CARGO_HOME per toolchain (registry, git checkouts and cargo's own lock files
together, so concurrent builds lock each other correctly), one target directory per project,
target and toolchain image (so incremental builds are reused, and an image change starts a
fresh one instead of mixing compilers), and one compiler cache per toolchain and target that
projects share (runtimes.compiler_cache). With caching off, a build gets scratch volumes
removed after it, and no compiler cache.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.models.volumes import Volume
from docker.types import Mount

from runtimes import compiler_cache, naming
from runtimes.config import CacheConfig
from runtimes.engine import Engine, containers_attrs, engine_time
from runtimes.sandbox import (
    CARGO_HOME_DIR,
    COMPILER_CACHE_DIR,
    SHARED_CARGO_HOME_DIR,
    TARGET_DIR,
    run_command,
)
from runtimes.sizes import human_size

logger = logging.getLogger(__name__)

# The design's thresholds: warn at 5 GB, clean at 10 GB (decimal units, as `docker df` shows).
WARN_BYTES = 5 * 1000**3
CLEAN_BYTES = 10 * 1000**3
# `docker system df` runs one at a time: how long to wait for a running one to finish.
DISK_USAGE_ATTEMPTS = 12
DISK_USAGE_PAUSE_SECONDS = 5
DISK_USAGE_TIMEOUT_SECONDS = 300
# Copying a large protected target cache for a new branch: minutes at most.
SEED_TIMEOUT_SECONDS = 20 * 60


def size_warning(
    total: int, *, warn_bytes: int = WARN_BYTES, clean_bytes: int = CLEAN_BYTES
) -> str | None:
    """What to tell a user about the caches' total size, if anything; the thresholds are the
    design's 5 and 10 GB unless a quota (the server's admin) sets others.
    """
    if total >= clean_bytes:
        return (
            f"caches use {human_size(total)}, over {human_size(clean_bytes)}: "
            "run `xcargo cache clean --containers`"
        )
    if total >= warn_bytes:
        return f"caches use {human_size(total)}, over {human_size(warn_bytes)}"
    return None


@dataclass(frozen=True)
class CacheVolumes:
    """The volumes one build uses, and whether they had to be created (a cold cache)."""

    cargo_home: str
    target: str
    cargo_home_created: bool
    target_created: bool
    scratch: bool
    cargo_home_generation: str = ""
    target_generation: str = ""
    host_binds: dict[str, Path] = field(default_factory=dict)
    # The unprotected ref whose own target cache this is; "" for the protected one.
    lane: str = ""
    # The protected target cache (the one a new lane starts as a copy of), when it differs.
    protected_target: str = ""
    # The compiler cache the toolchain's projects share for this target; "" when off.
    compiler_cache: str = ""

    @property
    def protected(self) -> bool:
        return not self.lane

    def fetch_mounts(self) -> list[Mount]:
        """The fetch phase is the one writer of the shared CARGO_HOME: cargo runs there
        alone, and no crate code does.
        """
        return self._cargo_home(CARGO_HOME_DIR, read_only=False)

    def build_mounts(self) -> list[Mount]:
        """The build phase runs crate code: it sees the shared CARGO_HOME read-only and
        writes nothing of the caches but its own target directory and, when it is trusted to
        write the protected target cache, the compiler cache.
        """
        target = Mount(target=TARGET_DIR, source=self.target, type="volume")
        mounts = [*self._cargo_home(SHARED_CARGO_HOME_DIR, read_only=True), target]
        if self.compiler_cache:
            mounts.append(
                Mount(
                    target=COMPILER_CACHE_DIR,
                    source=self.compiler_cache,
                    type="volume",
                    read_only=not self.protected,
                )
            )
        return mounts

    def build_environment(self) -> dict[str, str]:
        """The build phase's variables for the compiler cache, if there is one."""
        if not self.compiler_cache:
            return {}
        return compiler_cache.environment(writable=self.protected)

    @property
    def named(self) -> list[str]:
        """The volumes the build uses, by name (for leases and last-use records)."""
        return [name for name in (self.cargo_home, self.target, self.compiler_cache) if name]

    def _cargo_home(self, at: str, *, read_only: bool) -> list[Mount]:
        mounts = [Mount(target=at, source=self.cargo_home, type="volume", read_only=read_only)]
        mounts += [
            Mount(target=f"{at}/{subdir}", source=str(path), type="bind", read_only=read_only)
            for subdir, path in self.host_binds.items()
        ]
        return mounts


@dataclass(frozen=True)
class VolumeUsage:
    name: str
    kind: str
    project: str
    target: str
    size: int
    in_use: bool
    toolchain: str = ""
    # When a build here last used it (seconds since the epoch), else when it was created;
    # None when the engine says neither.
    last_used: float | None = None


def ensure_volumes(
    engine: Engine,
    *,
    config: CacheConfig,
    project: str,
    triple: str,
    image_id: str,
    toolchain: str,
    lane: str = "",
    claim: Callable[[list[str]], None] | None = None,
    compiler_cache: bool = False,
) -> CacheVolumes:
    """The build's volumes, creating those that do not exist yet. A `lane` (an unprotected
    ref) gets a target cache of its own, apart from the protected one. `compiler_cache`: the
    image has sccache and the configuration wants it. `claim` hears the names before any is
    created or used: the server holds them against its eviction there.
    """
    if not config.enabled:
        scratch = f"xcargo-scratch-{uuid.uuid4().hex[:12]}"
        labels = naming.managed_labels(naming.KIND_SCRATCH, project=project, target=triple)
        for suffix in ("cargo-home", "target"):
            engine.client.volumes.create(f"{scratch}-{suffix}", labels=labels)
        return CacheVolumes(f"{scratch}-cargo-home", f"{scratch}-target", True, True, True)
    home_name = naming.cargo_home_volume(toolchain)
    target_name = naming.target_volume(project, triple, image_id, lane)
    cache_name = naming.compiler_cache_volume(toolchain, triple) if compiler_cache else ""
    if claim is not None:
        claim([name for name in (home_name, target_name, cache_name) if name])
    home_created, home_generation = _ensure_volume(
        engine, home_name, naming.managed_labels(naming.KIND_CARGO_HOME, toolchain=toolchain)
    )
    target_labels = naming.managed_labels(
        naming.KIND_TARGET,
        project=project,
        target=triple,
        image=naming.image_key(image_id),
        toolchain=toolchain,
        lane=lane or "protected",
    )
    target_created, target_generation = _ensure_volume(engine, target_name, target_labels)
    if cache_name:
        cache_labels = naming.managed_labels(
            naming.KIND_COMPILER_CACHE, target=triple, toolchain=toolchain
        )
        _ensure_volume(engine, cache_name, cache_labels)
    return CacheVolumes(
        cargo_home=home_name,
        target=target_name,
        cargo_home_created=home_created,
        target_created=target_created,
        scratch=False,
        cargo_home_generation=home_generation,
        target_generation=target_generation,
        host_binds=host_binds(config),
        lane=lane,
        protected_target=naming.target_volume(project, triple, image_id) if lane else "",
        compiler_cache=cache_name,
    )


def seed_from_protected(engine: Engine, volumes: CacheVolumes, *, image_id: str) -> bool:
    """Start a new lane's target cache as a copy of the protected one, so that a branch's
    first build is warm; the copy is the lane's own and nothing flows back. False when there
    is no protected cache to copy yet.
    """
    if not volumes.protected_target or not _exists(engine, volumes.protected_target):
        return False
    seed_dir = f"{TARGET_DIR}-seed"
    mounts = [
        Mount(target=seed_dir, source=volumes.protected_target, type="volume", read_only=True),
        Mount(target=TARGET_DIR, source=volumes.target, type="volume"),
    ]
    run_command(
        engine,
        image_id,
        ["cp", "-a", f"{seed_dir}/.", f"{TARGET_DIR}/"],
        name=f"xcargo-seed-{naming.short_hash(volumes.target, 16)}",
        mounts=mounts,
        timeout=SEED_TIMEOUT_SECONDS,
    )
    return True


def remove_target(engine: Engine, volumes: CacheVolumes) -> bool:
    """Drop a build's target cache (after it went past its disk limit), giving its space back."""
    return remove_volume(engine, volumes.target)


def host_binds(config: CacheConfig) -> dict[str, Path]:
    """`cache.registry_path` / `git_path`: host directories bound over CARGO_HOME's own."""
    binds = {"registry": config.registry_path, "git": config.git_path}
    resolved = {subdir: path for subdir, path in binds.items() if path is not None}
    for path in resolved.values():
        path.mkdir(parents=True, exist_ok=True)
    return resolved


def remove_scratch(engine: Engine, volumes: CacheVolumes) -> None:
    if volumes.scratch:
        for name in (volumes.cargo_home, volumes.target):
            remove_volume(engine, name)


def usage(engine: Engine, *, last_used: Mapping[str, float] | None = None) -> list[VolumeUsage]:
    """Every xcargo volume with its size (as the engine measures it), whether it is in use,
    and its last use: `last_used` (runtimes.volume_uses), else its creation time.
    """
    in_use = _volumes_in_use(engine)
    sizes = {
        volume.get("Name"): int((volume.get("UsageData") or {}).get("Size") or 0)
        for volume in _disk_usage(engine).get("Volumes") or []
    }
    uses = last_used or {}
    rows = []
    for volume in engine.client.volumes.list(filters={"label": f"{naming.LABEL_MANAGED}=true"}):
        labels = volume.attrs.get("Labels") or {}
        created = engine_time(volume.attrs.get("CreatedAt"))
        moments = (uses.get(volume.name), created.timestamp() if created else None)
        rows.append(
            VolumeUsage(
                name=volume.name,
                kind=labels.get(naming.LABEL_KIND, "?"),
                project=labels.get(naming.LABEL_PROJECT, ""),
                target=labels.get(naming.LABEL_TARGET, ""),
                size=max(sizes.get(volume.name, 0), 0),
                in_use=volume.name in in_use,
                toolchain=labels.get(naming.LABEL_TOOLCHAIN, ""),
                last_used=max((moment for moment in moments if moment), default=None),
            )
        )
    return sorted(rows, key=lambda row: (row.kind, row.name))


@dataclass(frozen=True)
class CleanFilter:
    """Which volumes `cache clean` may remove: of a project (its key, or its name), of a
    target, unused for at least `older_than` seconds; every one when nothing is set.
    """

    project: str = ""
    target: str = ""
    older_than: float | None = None

    def selects(self, volume: VolumeUsage, now: float) -> bool:
        if self.project and self.project not in (volume.project, _project_name(volume.project)):
            return False
        if self.target and volume.target != self.target:
            return False
        if self.older_than is not None:
            return volume.last_used is not None and now - volume.last_used >= self.older_than
        return True


def _project_name(key: str) -> str:
    """A project key is its name and a hash ("hello-cross-a36c9750")."""
    return key.rsplit("-", 1)[0]


@dataclass(frozen=True)
class CleanReport:
    removed: list[VolumeUsage]
    kept_in_use: list[VolumeUsage]

    @property
    def freed(self) -> int:
        return sum(volume.size for volume in self.removed)


def clean(
    engine: Engine,
    *,
    dry_run: bool = False,
    selection: CleanFilter | None = None,
    last_used: Mapping[str, float] | None = None,
    now: float | None = None,
) -> CleanReport:
    """Remove the selected xcargo volumes (all when `selection` is None) that no container
    uses; a running build keeps its caches.
    """
    moment = time.time() if now is None else now
    chosen = selection or CleanFilter()
    removed, kept = [], []
    for volume in usage(engine, last_used=last_used):
        if not chosen.selects(volume, moment):
            continue
        if volume.in_use:
            kept.append(volume)
            continue
        if not dry_run and not remove_volume(engine, volume.name):
            kept.append(volume)
            continue
        removed.append(volume)
    return CleanReport(removed=removed, kept_in_use=kept)


def _ensure_volume(engine: Engine, name: str, labels: dict[str, str]) -> tuple[bool, str]:
    """(created, generation). The generation label tells a volume from an earlier one of the
    same name; engines' CreatedAt can't, since some report the data directory's mtime. A
    volume without one was made by the engine itself (a container mounted the name after a
    clean removed it): unlabelled, it would never be cleaned, sized or stamped as fetched, so
    it is replaced while nothing uses it.
    """
    try:
        volume = engine.client.volumes.get(name)
    except NotFound:
        volume = None
    if volume is not None and not _generation(volume) and remove_volume(engine, name):
        volume = None
    if volume is not None:
        return False, _generation(volume)
    generation = uuid.uuid4().hex
    engine.client.volumes.create(name, labels={**labels, naming.LABEL_GENERATION: generation})
    return True, generation


def _generation(volume: Volume) -> str:
    return (volume.attrs.get("Labels") or {}).get(naming.LABEL_GENERATION, "")


def _disk_usage(engine: Engine) -> dict[str, Any]:
    """The engine's disk usage report. Docker computes one at a time, walking every volume
    and layer (half a minute on a busy host, past the engine client's short timeout), and
    refuses another meanwhile: ask with a timeout of its own, wait for a running one, and
    past a minute report no sizes rather than fail whoever asked (a starting worker).
    """
    client = docker.DockerClient(base_url=engine.url, timeout=DISK_USAGE_TIMEOUT_SECONDS)
    try:
        for _attempt in range(DISK_USAGE_ATTEMPTS):
            try:
                return client.df()
            except APIError as error:
                if "already running" not in str(error):
                    raise
            time.sleep(DISK_USAGE_PAUSE_SECONDS)
    finally:
        client.close()
    logger.warning("the engine's disk usage stayed busy: volume sizes are not known this time")
    return {}


def _exists(engine: Engine, name: str) -> bool:
    try:
        engine.client.volumes.get(name)
    except NotFound:
        return False
    return True


def _volumes_in_use(engine: Engine) -> set[str]:
    names: set[str] = set()
    for attrs in containers_attrs(engine):
        for mount in attrs.get("Mounts") or []:
            if mount.get("Type") == "volume" and mount.get("Name"):
                names.add(mount["Name"])
    return names


def remove_volume(engine: Engine, name: str) -> bool:
    """Remove a volume no container uses; False when one does (the engine refuses)."""
    try:
        engine.client.volumes.get(name).remove()
    except NotFound:
        return True
    except APIError:
        return False  # in use by a container that appeared meanwhile
    return True
