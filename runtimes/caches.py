"""Cache volumes (FR1): created on first use, kept across container removal, sized and cleaned.

Two kinds: one CARGO_HOME per toolchain (registry, git checkouts and cargo's own lock files
together, so concurrent builds lock each other correctly) and one target directory per project,
target and toolchain image (so incremental builds are reused, and an image change starts a
fresh one instead of mixing compilers). With caching off, both are scratch volumes removed
after the build.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

from docker.errors import APIError, NotFound
from docker.types import Mount

from runtimes import naming
from runtimes.config import CacheConfig
from runtimes.engine import Engine
from runtimes.sandbox import CARGO_HOME_DIR, TARGET_DIR

# The design's thresholds: warn at 5 GB, clean at 10 GB (decimal units, as `docker df` shows).
WARN_BYTES = 5 * 1000**3
CLEAN_BYTES = 10 * 1000**3


def human_size(size: float) -> str:
    """`279.3 MB`: decimal units, like the engines' own listings."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


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
    host_binds: dict[str, Path] = field(default_factory=dict)

    def mounts(self, *, with_target: bool) -> list[Mount]:
        mounts = [Mount(target=CARGO_HOME_DIR, source=self.cargo_home, type="volume")]
        mounts += [
            Mount(target=f"{CARGO_HOME_DIR}/{subdir}", source=str(path), type="bind")
            for subdir, path in self.host_binds.items()
        ]
        if with_target:
            mounts.append(Mount(target=TARGET_DIR, source=self.target, type="volume"))
        return mounts


@dataclass(frozen=True)
class VolumeUsage:
    name: str
    kind: str
    project: str
    target: str
    size: int
    in_use: bool


def ensure_volumes(
    engine: Engine,
    *,
    config: CacheConfig,
    project: str,
    triple: str,
    image_id: str,
    toolchain: str,
) -> CacheVolumes:
    """The build's volumes, creating those that do not exist yet."""
    if not config.enabled:
        scratch = f"xcargo-scratch-{uuid.uuid4().hex[:12]}"
        labels = naming.managed_labels(naming.KIND_SCRATCH, project=project, target=triple)
        for suffix in ("cargo-home", "target"):
            engine.client.volumes.create(f"{scratch}-{suffix}", labels=labels)
        return CacheVolumes(f"{scratch}-cargo-home", f"{scratch}-target", True, True, True)
    home_name = naming.cargo_home_volume(toolchain)
    home_created, home_generation = _ensure_volume(
        engine, home_name, naming.managed_labels(naming.KIND_CARGO_HOME, toolchain=toolchain)
    )
    target_name = naming.target_volume(project, triple, image_id)
    target_labels = naming.managed_labels(
        naming.KIND_TARGET, project=project, target=triple, image=naming.image_key(image_id)
    )
    target_created, _ = _ensure_volume(engine, target_name, target_labels)
    return CacheVolumes(
        cargo_home=home_name,
        target=target_name,
        cargo_home_created=home_created,
        target_created=target_created,
        scratch=False,
        cargo_home_generation=home_generation,
        host_binds=host_binds(config),
    )


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
            _remove_volume(engine, name)


def usage(engine: Engine) -> list[VolumeUsage]:
    """Every xcargo volume with its size (as the engine measures it) and whether it is in use."""
    in_use = _volumes_in_use(engine)
    sizes = {
        volume.get("Name"): int((volume.get("UsageData") or {}).get("Size") or 0)
        for volume in engine.client.df().get("Volumes") or []
    }
    rows = []
    for volume in engine.client.volumes.list(filters={"label": f"{naming.LABEL_MANAGED}=true"}):
        labels = volume.attrs.get("Labels") or {}
        rows.append(
            VolumeUsage(
                name=volume.name,
                kind=labels.get(naming.LABEL_KIND, "?"),
                project=labels.get(naming.LABEL_PROJECT, ""),
                target=labels.get(naming.LABEL_TARGET, ""),
                size=max(sizes.get(volume.name, 0), 0),
                in_use=volume.name in in_use,
            )
        )
    return sorted(rows, key=lambda row: (row.kind, row.name))


@dataclass(frozen=True)
class CleanReport:
    removed: list[VolumeUsage]
    kept_in_use: list[VolumeUsage]

    @property
    def freed(self) -> int:
        return sum(volume.size for volume in self.removed)


def clean(engine: Engine, *, dry_run: bool = False) -> CleanReport:
    """Remove xcargo's volumes that no container uses; a running build keeps its caches."""
    removed, kept = [], []
    for volume in usage(engine):
        if volume.in_use:
            kept.append(volume)
            continue
        if not dry_run and not _remove_volume(engine, volume.name):
            kept.append(volume)
            continue
        removed.append(volume)
    return CleanReport(removed=removed, kept_in_use=kept)


def _ensure_volume(engine: Engine, name: str, labels: dict[str, str]) -> tuple[bool, str]:
    """(created, generation). The generation label tells a volume from an earlier one of the
    same name; engines' CreatedAt can't, since some report the data directory's mtime.
    """
    try:
        volume = engine.client.volumes.get(name)
        created = False
    except NotFound:
        generation = {naming.LABEL_GENERATION: uuid.uuid4().hex}
        volume = engine.client.volumes.create(name, labels={**labels, **generation})
        created = True
    return created, (volume.attrs.get("Labels") or {}).get(naming.LABEL_GENERATION, "")


def _volumes_in_use(engine: Engine) -> set[str]:
    names: set[str] = set()
    for container in engine.client.containers.list(all=True):
        for mount in container.attrs.get("Mounts") or []:
            if mount.get("Type") == "volume" and mount.get("Name"):
                names.add(mount["Name"])
    return names


def _remove_volume(engine: Engine, name: str) -> bool:
    try:
        engine.client.volumes.get(name).remove()
    except NotFound:
        return True
    except APIError:
        return False  # in use by a container that appeared meanwhile
    return True
