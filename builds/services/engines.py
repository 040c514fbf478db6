"""Engine hosts: registering one when its worker starts, connecting to it, and recording what
it holds (images, cache volumes, doctor checks) so that pages read the database, never the
engine: the web server may not even reach the engine's socket.
"""

from __future__ import annotations

import dataclasses
import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from builds import selectors
from builds.models import Build, CacheVolume, EngineHost, Image, Project
from builds.services import cache_quotas, machines
from runtimes import caches, doctor, naming
from runtimes.build_values import BuildResult
from runtimes.config import PodmanMachineConfig
from runtimes.engine import Engine, connect, engine_time
from runtimes.errors import UsageError
from runtimes.images.catalogue import registry_catalogue, toolchain_images
from runtimes.images.pruning import remove_unused_names
from runtimes.images.references import parse_image_reference
from runtimes.rust_versions import RustVersion
from runtimes.sandbox import containers_of_builds, remove_container
from runtimes.toolchains import RECIPES
from xcargo_web.celery import app as celery_app

logger = logging.getLogger(__name__)

QUEUE_PREFIX = "xcargo.builds."


def queue_name(host_name: str) -> str:
    return f"{QUEUE_PREFIX}{host_name}"


def register_host(
    *, name: str, engine_url: str = "", runtime: str = "auto", max_concurrent_builds: int = 2
) -> EngineHost:
    """Create or update the host a worker is about to serve, with what its engine says."""
    host, _created = EngineHost.objects.update_or_create(
        name=name,
        defaults={
            "engine_url": engine_url,
            "runtime": runtime,
            "queue": queue_name(name),
            "max_concurrent_builds": max_concurrent_builds,
        },
    )
    return host


def connect_host(host: EngineHost) -> Engine:
    """The host's engine: its URL when one is set, else the local engine of its runtime (on
    macOS the Podman machine, set up first when it is missing or stopped, each step recorded).
    """
    environ = {"XCARGO_ENGINE_URL": host.engine_url} if host.engine_url else None
    return connect(
        host.runtime,  # type: ignore[arg-type]
        environ,
        machine=PodmanMachineConfig(),
        on_step=lambda text: machines.record_step(host, text),
    )


def refresh_host(host: EngineHost, engine: Engine | None = None) -> EngineHost:
    """Record the engine's facts, doctor checks, images and volumes (connecting first unless
    the caller holds a connection to it already).
    """
    engine = engine or connect_host(host)
    checks = doctor.engine_checks(engine)
    now = timezone.now()
    with transaction.atomic():
        EngineHost.objects.filter(pk=host.pk).update(
            kind=engine.kind,
            version=engine.version,
            rootless=engine.rootless,
            cgroup=f"{engine.cgroup_driver}, v{engine.cgroup_version or '?'}",
            last_seen=now,
            doctor=[dataclasses.asdict(check) for check in checks],
        )
        _record_images(host, engine)
        measured = _record_volumes(host, engine)
    cache_quotas.enforce_quotas(host, engine, measured)
    host.refresh_from_db()
    return host


def _record_images(host: EngineHost, engine: Engine) -> None:
    """The catalogue of the host: the toolchain images it holds (made here, or pulled from a
    registry) and those the trusted registries hold for its targets, read without pulling.
    """
    seen = []
    for image in toolchain_images(engine):
        own = naming.is_own_image(image.reference)
        Image.objects.update_or_create(
            engine_host=host,
            reference=image.reference,
            defaults={
                "image_id": image.image_id,
                "digest": image.digest,
                "registry": _registry(image.reference),
                "size": image.size,
                "targets": list(image.targets),
                "toolchain": image.toolchain,
                "rustc_version": image.rustc,
                "origin": Image.Origin.BOOTSTRAPPED if own else Image.Origin.PULLED,
                "created": engine_time(image.created),
            },
        )
        seen.append(image.reference)
    policy = selectors.trust_policy()
    for remote in registry_catalogue(policy, policy.hosts, list(RECIPES), warn=logger.warning):
        if remote.reference in seen:
            continue
        Image.objects.update_or_create(
            engine_host=host,
            reference=remote.reference,
            defaults={
                "image_id": "",
                "digest": remote.digest,
                "registry": remote.registry,
                "size": remote.size,
                "targets": list(remote.targets),
                "toolchain": _channel(remote.rustc),
                "rustc_version": remote.rustc or remote.note,
                "origin": Image.Origin.REGISTRY,
                "created": engine_time(remote.created),
            },
        )
        seen.append(remote.reference)
    Image.objects.filter(engine_host=host, origin__in=_CATALOGUE_ORIGINS).exclude(
        reference__in=seen
    ).delete()


_CATALOGUE_ORIGINS = (Image.Origin.BOOTSTRAPPED, Image.Origin.PULLED, Image.Origin.REGISTRY)


def _channel(rustc: str) -> str:
    try:
        return RustVersion.parse(rustc).channel
    except UsageError:
        return ""


def measure_volumes(host: EngineHost) -> None:
    """Record the sizes of the host's volumes, and hold them to its quota: what a build
    changes, without the rest of a refresh (doctor checks and images, which a build leaves as
    they were).
    """
    engine = connect_host(host)
    cache_quotas.enforce_quotas(host, engine, _record_volumes(host, engine))


def _record_volumes(host: EngineHost, engine: Engine) -> list[caches.VolumeUsage]:
    """Sizes and use of every xcargo volume; which project a volume serves is recorded by the
    build that used it (`record_build_usage`), since the engine's labels name checkouts, and
    so are a compiler cache's counts, which this keeps (update_or_create saves its defaults
    alone). A volume gone from the engine loses its row and its counts.
    """
    names = []
    measured = caches.usage(engine)
    for volume in measured:
        CacheVolume.objects.update_or_create(
            engine_host=host,
            name=volume.name,
            defaults={
                "kind": volume.kind,
                "target": volume.target,
                "size": volume.size,
                "in_use": volume.in_use,
            },
        )
        names.append(volume.name)
    CacheVolume.objects.filter(engine_host=host).exclude(name__in=names).delete()
    return measured


def record_build_usage(
    host: EngineHost, project: Project, triple: str, result: BuildResult
) -> None:
    """Mark the image and the volumes a build used as used now, and by whom; add what the
    compiler cache served it to that volume's counts (added in the database, so builds
    ending together all count; measuring leaves them as they are).
    """
    now = timezone.now()
    Image.objects.filter(engine_host=host, reference=result.image).update(last_used=now)
    volumes = result.volumes
    if volumes is None or volumes.scratch:
        return
    for name, kind in (
        (volumes.cargo_home, naming.KIND_CARGO_HOME),
        (volumes.target, naming.KIND_TARGET),
        (volumes.compiler_cache, naming.KIND_COMPILER_CACHE),
    ):
        if not name:
            continue
        defaults: dict[str, object] = {"kind": kind, "last_used": now}
        if kind == naming.KIND_TARGET:
            defaults.update(project=project, target=triple)
        elif kind == naming.KIND_COMPILER_CACHE:
            defaults.update(target=triple)
        CacheVolume.objects.update_or_create(engine_host=host, name=name, defaults=defaults)
    if (use := result.compiler_cache) is not None:
        CacheVolume.objects.filter(engine_host=host, name=use.volume).update(
            compiler_hits=F("compiler_hits") + use.hits,
            compiler_misses=F("compiler_misses") + use.misses,
            compiler_builds=F("compiler_builds") + 1,
        )


def _registry(reference: str) -> str:
    try:
        return parse_image_reference(reference).registry
    except UsageError:
        return ""


def remove_ended_build_containers(engine: Engine) -> list[int]:
    """Remove the build containers of builds that have ended (a worker that died left them
    running or stopped); returns those builds' ids. A container of a build still running
    elsewhere is kept; one whose build is no longer known is removed.
    """
    leftovers = {
        int(build_id): containers
        for build_id, containers in containers_of_builds(engine).items()
        if build_id.isdigit()
    }
    running = set(
        Build.objects.filter(pk__in=leftovers, state__in=Build.ACTIVE_STATES).values_list(
            "pk", flat=True
        )
    )
    ended = sorted(set(leftovers) - running)
    for build_id in ended:
        for container in leftovers[build_id]:
            remove_container(container)
    return ended


MACHINE_TASK = "builds.tasks.set_up_podman_machine"


def request_machine_set_up(host: EngineHost) -> None:
    """Ask the host's worker to set up its Podman machine (on macOS; elsewhere it says there
    is none), once this transaction commits.
    """
    machines.record_step(host, "asked for: waiting for the host's worker")
    transaction.on_commit(
        lambda: celery_app.send_task(MACHINE_TASK, args=[host.pk], queue=host.queue, expires=600)
    )


IMAGE_REMOVAL_TASK = "builds.tasks.remove_images"


def request_image_removal(images: list[Image], *, requested_by: str) -> None:
    """Ask each host's worker to remove its images among `images` (once this transaction
    commits); one a container uses meanwhile stays.
    """
    per_host: dict[EngineHost, list[str]] = {}
    for image in images:
        per_host.setdefault(image.engine_host, []).append(image.reference)
    for host, references in per_host.items():
        logger.info("%s asked %s to remove images %s", requested_by, host, ", ".join(references))
        transaction.on_commit(
            lambda host=host, references=references: celery_app.send_task(
                IMAGE_REMOVAL_TASK, args=[host.pk, references], queue=host.queue, expires=3600
            )
        )


def remove_images(host: EngineHost, references: list[str]) -> list[str]:
    """Remove these images of the host and their records; returns the names removed. The
    rest of the host's catalogue is as the last refresh left it: no doctor checks, registry
    reads or quota enforcement for this.
    """
    removed = remove_unused_names(connect_host(host), references)
    Image.objects.filter(engine_host=host, reference__in=removed).delete()
    for reference in sorted(set(references) - set(removed)):
        logger.info(
            "host %s: %s stays: a container uses it, or the engine refused", host, reference
        )
    return removed
