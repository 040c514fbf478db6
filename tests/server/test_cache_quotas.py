"""Quotas that act, on a real engine with tiny quotas: above a project's limit the
least-recently-used target caches go first and each removal is recorded with why; a volume a
container uses, or that a build holds, is spared; a lease a killed worker left expires; a
build waits while the eviction removes its volume; above the warning size the dashboard and the
caches page say so, and a build's log starts with it.
"""

from __future__ import annotations

import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from builds.models import Build, CacheEviction, CacheLease, CacheQuota, CacheVolume, Project
from builds.services import cache_quotas
from builds.services.engines import register_host
from builds.services.projects import create_project
from runtimes import caches, naming
from runtimes.config import CacheConfig
from runtimes.toolchains import NEWEST_CHANNEL
from tests.conftest import FIXTURES
from tests.server.conftest import AARCH64, WorkerProcess
from tests.server.test_build_queue import finished, trigger, wait_for

MB = 1000**2
TRIPLES = ("aarch64-unknown-linux-gnu", "riscv64gc-unknown-linux-gnu", "s390x-unknown-linux-gnu")


@pytest.fixture
def host(db: None):
    return register_host(name="local", engine_url="unix:///var/run/docker.sock", runtime="docker")


@pytest.fixture
def project(db: None, user: User) -> Project:
    return create_project(
        name="quota-test",
        local_path=str(FIXTURES / "hello-cross"),
        triples=[AARCH64],
        created_by=user,
    )


@pytest.fixture
def target_caches(docker_toolchains, host, project):
    """Three target caches of the project, of 2, 3 and 4 MB, used 3, 2 and 1 days ago."""
    engine = docker_toolchains
    key = f"quota-test-{uuid.uuid4().hex[:8]}"
    image_id = engine.client.images.get(naming.toolchain_image(AARCH64, NEWEST_CHANNEL)).id
    names = []
    for index, triple in enumerate(TRIPLES):
        volumes = caches.ensure_volumes(
            engine,
            config=CacheConfig(),
            project=key,
            triple=triple,
            image_id=image_id,
            toolchain="rustc-quota-test",
        )
        engine.client.containers.run(
            "localhost/xcargo/debian:trixie",
            ["sh", "-c", f"head -c {(index + 2) * MB} /dev/zero > /cache/blob"],
            volumes={volumes.target: {"bind": "/cache", "mode": "rw"}},
            remove=True,
            network_mode="none",
        )
        CacheVolume.objects.create(
            engine_host=host,
            name=volumes.target,
            kind=naming.KIND_TARGET,
            project=project,
            target=triple,
            size=(index + 2) * MB,
            last_used=timezone.now() - timedelta(days=3 - index),
        )
        names.append(volumes.target)
    yield engine, names
    for name in [*names, naming.cargo_home_volume("rustc-quota-test")]:
        for volume in engine.client.volumes.list(filters={"name": name}):
            volume.remove(force=True)


def held_by(build_id: int, limit: float = 180) -> set[str]:
    """The volumes a build holds (CARGO_HOME, target cache, compiler cache), once it took its
    leases (before its first container).
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        held = set(CacheLease.objects.filter(build_id=build_id).values_list("volume", flat=True))
        if len(held) == 3:
            return held
        time.sleep(0.2)
    raise AssertionError(f"build {build_id} took no leases in {limit} s")


def on_engine(engine, name: str) -> bool:
    return bool(engine.client.volumes.list(filters={"name": name}))


@pytest.mark.engine
def test_above_a_projects_limit_the_least_recently_used_caches_go_first(
    host, project, target_caches
):
    engine, (oldest, middle, newest) = target_caches
    CacheQuota.objects.create(project=project, warn_bytes=1 * MB, max_bytes=5 * MB)

    evicted = cache_quotas.enforce_quotas(host, engine)

    assert [eviction.volume for eviction in evicted] == [oldest, middle]
    assert not on_engine(engine, oldest) and not on_engine(engine, middle)
    assert on_engine(engine, newest), "4 MB is under the 5 MB limit: it stays"
    recorded = CacheEviction.objects.get(volume=oldest)
    assert recorded.project == project and recorded.size >= 2 * MB
    assert "project quota-test above its limit of 5.0 MB: least recently used" in recorded.reason
    assert recorded.last_used < timezone.now() - timedelta(days=2)
    assert not CacheVolume.objects.filter(name__in=[oldest, middle]).exists()


@pytest.mark.engine
def test_a_volume_in_use_or_held_by_a_build_is_spared_and_an_expired_lease_is_not(
    host, project, target_caches, user
):
    engine, (oldest, middle, newest) = target_caches
    CacheQuota.objects.create(project=project, warn_bytes=0, max_bytes=1)
    build = Build.objects.create(
        project=project, target=project.targets.get(), engine_host=host, task_id="t"
    )
    cache_quotas.take_leases(host, build, [middle])
    CacheLease.objects.create(
        engine_host=host,
        volume=newest,
        holder="build of a worker that was killed",
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    holder = engine.client.containers.run(
        "localhost/xcargo/debian:trixie",
        ["sleep", "120"],
        volumes={oldest: {"bind": "/cache", "mode": "rw"}},
        detach=True,
        network_mode="none",
    )
    try:
        evicted = cache_quotas.enforce_quotas(host, engine)
    finally:
        holder.remove(force=True)

    assert [eviction.volume for eviction in evicted] == [newest]
    assert on_engine(engine, oldest), "a container uses it"
    assert on_engine(engine, middle), "a running build holds it"
    cache_quotas.release_leases(build)
    assert [eviction.volume for eviction in cache_quotas.enforce_quotas(host, engine)] == [
        oldest,
        middle,
    ]


def test_a_build_waits_while_the_eviction_removes_its_volume(host, project, monkeypatch):
    build = Build.objects.create(
        project=project, target=project.targets.get(), engine_host=host, task_id="t"
    )
    CacheLease.objects.create(
        engine_host=host,
        volume="xcargo-target-being-removed",
        holder=cache_quotas.EVICTION_HOLDER,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    monkeypatch.setattr(cache_quotas, "_WAIT_FOR_EVICTION_SECONDS", 2)

    with pytest.raises(cache_quotas.VolumeBeingRemoved, match="is being removed"):
        cache_quotas.take_leases(host, build, ["xcargo-target-being-removed"])

    assert not CacheLease.objects.filter(build=build).exists(), "it backed off"
    CacheLease.objects.filter(holder=cache_quotas.EVICTION_HOLDER).update(
        expires_at=datetime(2000, 1, 1, tzinfo=UTC)
    )
    cache_quotas.take_leases(host, build, ["xcargo-target-being-removed"])
    assert CacheLease.objects.filter(build=build).count() == 1


def test_targets_go_before_cargo_homes_oldest_first():
    def candidate(kind: str, last_used: float) -> cache_quotas._Candidate:
        usage = caches.VolumeUsage(f"{kind}-{last_used}", kind, "", "", 1, False, "", last_used)
        return cache_quotas._Candidate(usage, None)

    ordered = sorted(
        [
            candidate(naming.KIND_CARGO_HOME, 1),
            candidate(naming.KIND_TARGET, 30),
            candidate(naming.KIND_TARGET, 20),
        ],
        key=lambda each: each.order,
    )

    assert [each.usage.name for each in ordered] == [
        f"{naming.KIND_TARGET}-20",
        f"{naming.KIND_TARGET}-30",
        f"{naming.KIND_CARGO_HOME}-1",
    ]


def test_above_the_warning_size_the_dashboard_and_the_caches_page_say_so(
    client: Client, user, host, project
):
    CacheVolume.objects.create(
        engine_host=host, name="xcargo-target-x", kind="target", project=project, size=3 * MB
    )
    CacheQuota.objects.create(engine_host=host, warn_bytes=2 * MB, max_bytes=50 * MB)
    client.force_login(user)

    dashboard = client.get("/").content.decode()
    page = client.get("/caches/").content.decode()

    warning = (
        "caches of engine host local use 3.0 MB, over the warning size of 2.0 MB "
        "(the quota of engine host local)"
    )
    assert warning in dashboard
    assert warning in page
    assert "the quota of engine host local" in page


@pytest.mark.engine
@pytest.mark.slow
def test_a_build_says_its_host_is_over_the_warning_and_an_eviction_meanwhile_loses_nothing(
    api_client, user, engine_host, celery_worker: WorkerProcess, docker_engine, source_root
):
    # A build script that takes a while, so the eviction surely comes while the build runs (a
    # warm hello-cross ends within the time it takes to measure the volumes).
    source = source_root / "hello-cross"
    shutil.copytree(FIXTURES / "hello-cross", source, ignore=shutil.ignore_patterns("target"))
    (source / "build.rs").write_text(
        "fn main() { std::thread::sleep(std::time::Duration::from_secs(20)); }\n"
    )
    project = create_project(
        name="hello-cross", local_path=str(source), triples=[AARCH64], created_by=user
    )
    CacheQuota.objects.create(engine_host=engine_host, warn_bytes=1, max_bytes=10**13)
    CacheVolume.objects.create(
        engine_host=engine_host, name="xcargo-target-recorded", kind="target", size=10
    )

    queued = trigger(api_client, project.slug)
    held = held_by(queued["id"])
    # A project limit of one byte while it builds: its volumes are held, nothing of it goes.
    for name in held:
        kind = naming.KIND_TARGET if name.startswith("xcargo-target-") else naming.KIND_CARGO_HOME
        CacheVolume.objects.update_or_create(
            engine_host=engine_host, name=name, defaults={"kind": kind, "project": project}
        )
    CacheQuota.objects.create(project=project, warn_bytes=0, max_bytes=1)
    evicted = cache_quotas.enforce_quotas(engine_host, docker_engine)
    still_building = Build.objects.get(pk=queued["id"]).state in Build.RUNNING_STATES
    body = wait_for(api_client, queued["id"], until=finished)

    assert still_building, "the eviction came after the build, so it tested nothing"
    assert not held & {eviction.volume for eviction in evicted}
    assert body["state"] == "finished" and body["success"], (body, celery_worker.log_tail())
    lines = api_client.get(f"/api/builds/{queued['id']}/log?limit=50").json()["lines"]
    assert any(
        line.startswith("xcargo: warning: caches of engine host ") and "over the warning" in line
        for line in lines[:3]
    ), lines[:3]
    assert not CacheLease.objects.filter(build_id=queued["id"]).exists(), "released at its end"


def test_an_admins_clean_previews_what_it_frees_and_then_asks_the_worker(
    admin_client: Client, client: Client, user, host, project, django_capture_on_commit_callbacks
):
    for name, size, days in (("xcargo-target-old", 4 * MB, 30), ("xcargo-target-new", MB, 1)):
        CacheVolume.objects.create(
            engine_host=host,
            name=name,
            kind="target",
            project=project,
            target=AARCH64,
            size=size,
            last_used=timezone.now() - timedelta(days=days),
        )
    chosen = {"project": project.pk, "target": AARCH64, "older_than": "7d"}
    client.force_login(user)

    refused = client.post("/caches/clean/", chosen)
    preview = admin_client.post("/caches/clean/", chosen)
    with django_capture_on_commit_callbacks(execute=False) as published:
        confirmed = admin_client.post("/caches/clean/", {**chosen, "confirm": "True"})
    malformed = admin_client.post("/caches/clean/", {"older_than": "a week"})

    assert refused.status_code == 403
    page = preview.content.decode()
    assert "This removes <strong>1 volume</strong>, freeing <strong>4.0 MB</strong>" in page
    assert "xcargo-target-old" in page and "local: xcargo-target-new" not in page
    assert confirmed.status_code == 302
    assert len(published) == 1, "one task, on the queue of the volume's host"
    assert CacheVolume.objects.count() == 2, "the worker removes them, not the web server"
    assert malformed.status_code == 400
    assert "is not an age" in malformed.content.decode()


@pytest.mark.engine
def test_the_worker_removes_what_an_admin_chose_and_records_who(host, project, target_caches):
    engine, (oldest, middle, _newest) = target_caches
    reason = "cleaned by ada from the caches page"

    removed = cache_quotas.clean_volumes(host, engine, [oldest], reason)

    assert [eviction.volume for eviction in removed] == [oldest]
    assert not on_engine(engine, oldest) and on_engine(engine, middle)
    assert CacheEviction.objects.get(volume=oldest).reason == reason
