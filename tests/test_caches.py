"""Cache volumes on a real engine: sizes as the engine measures them, and a clean that never
removes what a running container uses.
"""

from __future__ import annotations

import time
import uuid

import pytest

from runtimes import caches, naming, volume_uses
from runtimes.config import CacheConfig
from runtimes.durations import parse_age
from runtimes.engine import Engine, containers_attrs
from runtimes.toolchains import NEWEST_CHANNEL
from tests.support import AARCH64

pytestmark = pytest.mark.engine


def _ensure(
    engine: Engine, project: str, lane: str = "", triple: str = AARCH64
) -> caches.CacheVolumes:
    """The volumes of a build of `project` (for aarch64), on a made-up toolchain's CARGO_HOME."""
    image_id = engine.client.images.get(naming.toolchain_image(AARCH64, NEWEST_CHANNEL)).id
    return caches.ensure_volumes(
        engine,
        config=CacheConfig(),
        project=project,
        triple=triple,
        image_id=image_id,
        toolchain="rustc-test",
        lane=lane,
    )


@pytest.fixture
def project_volumes(toolchain_engine):
    """Volumes of a made-up project, removed afterwards whatever the test did."""
    engine = toolchain_engine
    volumes = _ensure(engine, f"cache-test-{uuid.uuid4().hex[:8]}")
    yield engine, volumes
    for name in (volumes.target, volumes.cargo_home):
        for volume in engine.client.volumes.list(filters={"name": name}):
            volume.remove(force=True)


def test_volumes_are_created_once_and_labelled(project_volumes):
    engine, volumes = project_volumes
    labels = engine.client.volumes.get(volumes.target).attrs["Labels"]
    home_labels = engine.client.volumes.get(volumes.cargo_home).attrs["Labels"]

    again = _ensure(engine, labels[naming.LABEL_PROJECT])

    assert volumes.target_created and volumes.cargo_home_created
    assert not again.target_created and not again.cargo_home_created
    assert again.target == volumes.target
    assert again.cargo_home_generation == volumes.cargo_home_generation != ""
    assert labels[naming.LABEL_KIND] == naming.KIND_TARGET
    assert labels[naming.LABEL_TARGET] == AARCH64
    assert home_labels[naming.LABEL_KIND] == naming.KIND_CARGO_HOME
    assert home_labels[naming.LABEL_GENERATION] == volumes.cargo_home_generation


def test_a_volume_the_engine_made_unlabelled_is_replaced_by_a_labelled_one(project_volumes):
    engine, volumes = project_volumes
    project = engine.client.volumes.get(volumes.target).attrs["Labels"][naming.LABEL_PROJECT]
    for name in (volumes.target, volumes.cargo_home):
        engine.client.volumes.get(name).remove()
        engine.client.volumes.create(name)  # what mounting a missing volume's name does

    again = _ensure(engine, project)

    assert again.cargo_home_created and again.cargo_home_generation
    labels = engine.client.volumes.get(again.cargo_home).attrs["Labels"]
    assert labels[naming.LABEL_GENERATION] == again.cargo_home_generation


def test_a_target_cache_of_an_unprotected_ref_is_its_own_and_names_the_protected_one(
    project_volumes,
):
    engine, volumes = project_volumes
    project = engine.client.volumes.get(volumes.target).attrs["Labels"][naming.LABEL_PROJECT]

    lane = _ensure(engine, project, lane="feature/x")
    try:
        assert lane.target != volumes.target and lane.target_created
        assert lane.protected_target == volumes.target and not lane.protected
        assert volumes.protected and volumes.lane == ""
        labels = engine.client.volumes.get(lane.target).attrs["Labels"]
        assert labels[naming.LABEL_LANE] == "feature/x"
        assert lane.cargo_home == volumes.cargo_home, "CARGO_HOME is shared by every lane"
    finally:
        engine.client.volumes.get(lane.target).remove()


def test_usage_reports_the_size_the_engine_measures(project_volumes):
    engine, volumes = project_volumes
    engine.client.containers.run(
        "localhost/xcargo/debian:trixie",
        ["sh", "-c", "head -c 3000000 /dev/zero > /cache/blob"],
        volumes={volumes.target: {"bind": "/cache", "mode": "rw"}},
        remove=True,
        network_mode="none",
    )

    [row] = [row for row in caches.usage(engine) if row.name == volumes.target]

    assert row.size >= 3_000_000
    assert row.kind == naming.KIND_TARGET
    assert not row.in_use


def test_clean_keeps_a_volume_a_container_uses_and_removes_the_rest(project_volumes):
    engine, volumes = project_volumes
    project = engine.client.volumes.get(volumes.target).attrs["Labels"][naming.LABEL_PROJECT]
    # A second target cache of the project, which no container uses. The clean takes only the
    # project's volumes: every other cache on this engine (compiler caches, CARGO_HOMEs) stays
    # warm for the tests after this one.
    idle = _ensure(engine, project, lane="feature/idle").target
    holder = engine.client.containers.run(
        "localhost/xcargo/debian:trixie",
        ["sleep", "120"],
        volumes={volumes.target: {"bind": "/cache", "mode": "rw"}},
        detach=True,
        network_mode="none",
    )
    selection = caches.CleanFilter(project=project)
    try:
        preview = caches.clean(engine, dry_run=True, selection=selection)
        report = caches.clean(engine, selection=selection)
    finally:
        holder.remove(force=True)

    assert idle in {volume.name for volume in preview.removed}
    assert idle in {volume.name for volume in report.removed}
    assert idle not in {volume.name for volume in engine.client.volumes.list()}
    assert volumes.target in {volume.name for volume in report.kept_in_use}
    assert volumes.target not in {volume.name for volume in report.removed}
    assert engine.client.volumes.get(volumes.target)


def test_clean_takes_only_the_selected_projects_volumes_and_a_dry_run_removes_nothing(
    toolchain_engine,
):
    engine = toolchain_engine
    mine = _ensure(engine, f"cache-test-{uuid.uuid4().hex[:8]}")
    neighbours = _ensure(engine, f"cache-test-{uuid.uuid4().hex[:8]}")
    project = engine.client.volumes.get(mine.target).attrs["Labels"][naming.LABEL_PROJECT]
    try:
        preview = caches.clean(engine, dry_run=True, selection=caches.CleanFilter(project=project))
        still_there = {volume.name for volume in engine.client.volumes.list()}
        report = caches.clean(engine, selection=caches.CleanFilter(project=project))
        left = {volume.name for volume in engine.client.volumes.list()}
    finally:
        for name in (mine.target, neighbours.target, mine.cargo_home):
            for volume in engine.client.volumes.list(filters={"name": name}):
                volume.remove(force=True)

    assert [volume.name for volume in preview.removed] == [mine.target]
    assert mine.target in still_there
    assert [volume.name for volume in report.removed] == [mine.target]
    assert mine.target not in left
    assert neighbours.target in left, "another project's cache is not selected"
    assert mine.cargo_home in left, "the shared CARGO_HOME belongs to no project"


def test_clean_older_than_takes_the_volumes_no_build_used_for_that_long(toolchain_engine, tmp_path):
    engine = toolchain_engine
    project = f"cache-test-{uuid.uuid4().hex[:8]}"
    stale = _ensure(engine, project)
    fresh = _ensure(engine, project, triple="riscv64gc-unknown-linux-gnu")
    now = time.time()
    # Both were made just now; the clean happens "8 days later", the fresh one used at day 6.
    volume_uses.record_use(tmp_path, [stale.target], now=now)
    volume_uses.record_use(tmp_path, [fresh.target], now=now + 6 * 86400)
    try:
        report = caches.clean(
            engine,
            selection=caches.CleanFilter(project=project, older_than=parse_age("7d")),
            last_used=volume_uses.last_uses(tmp_path),
            now=now + 8 * 86400,
        )
        rows = {row.name: row for row in caches.usage(engine, last_used={})}
    finally:
        for name in (stale.target, fresh.target, stale.cargo_home):
            for volume in engine.client.volumes.list(filters={"name": name}):
                volume.remove(force=True)

    assert [volume.name for volume in report.removed] == [stale.target]
    assert fresh.target in rows and stale.target not in rows
    assert rows[fresh.target].toolchain != ""


def test_a_container_removed_between_the_listing_and_its_inspection_is_skipped(
    toolchain_engine, monkeypatch
):
    """Build phases come and go while a worker reads which volumes are in use (an eviction
    during a build): one gone meanwhile uses nothing, and the reading goes on.
    """
    engine = toolchain_engine
    doomed = engine.client.containers.create("localhost/xcargo/debian:trixie", ["true"])
    inspect = engine.client.api.inspect_container

    def removed_just_before(container_id: str) -> dict:
        if container_id == doomed.id:
            doomed.remove(force=True)
        return inspect(container_id)

    monkeypatch.setattr(engine.client.api, "inspect_container", removed_just_before)

    seen = {attrs["Id"] for attrs in containers_attrs(engine)}

    assert doomed.id not in seen
    assert not engine.client.containers.list(all=True, filters={"id": doomed.id})
