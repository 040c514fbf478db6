"""What a worker records of its engine host, for pages that never ask an engine themselves."""

from __future__ import annotations

import pytest

from builds.models import CacheVolume, Image
from builds.services.engines import refresh_host, register_host
from runtimes import caches, naming
from runtimes.errors import EngineUnavailable
from runtimes.toolchains import NEWEST_CHANNEL
from tests.conftest import PODMAN_URL
from tests.server.conftest import AARCH64

pytestmark = pytest.mark.engine


def test_refreshing_a_docker_host_records_engine_facts_doctor_checks_images_and_volumes(
    engine_host, docker_toolchains
):
    host = refresh_host(engine_host)

    assert host.kind == "docker"
    assert host.version
    assert host.rootless is False
    assert host.last_seen is not None
    statuses = {check["message"].split(":")[0]: check["status"] for check in host.doctor}
    assert statuses["engine"] == "ok"
    image = Image.objects.get(
        engine_host=host, reference=naming.toolchain_image(AARCH64, NEWEST_CHANNEL)
    )
    assert AARCH64 in image.targets
    assert image.size > 100_000_000
    assert image.rustc_version.startswith("1.")
    assert image.registry == "localhost"
    assert image.digest.startswith(("sha256:", "localhost/xcargo/toolchain@sha256:"))
    volumes = CacheVolume.objects.filter(engine_host=host)
    assert {volume.name for volume in volumes} == {
        usage.name for usage in caches.usage(docker_toolchains)
    }
    assert all(volume.size is not None for volume in volumes)


def test_refreshing_again_forgets_what_the_engine_no_longer_has(engine_host, docker_engine):
    Image.objects.create(
        engine_host=engine_host,
        reference="localhost/xcargo/toolchain:gone",
        origin=Image.Origin.BOOTSTRAPPED,
    )
    CacheVolume.objects.create(engine_host=engine_host, name="xcargo-target-gone", kind="target")

    refresh_host(engine_host)

    assert not Image.objects.filter(reference="localhost/xcargo/toolchain:gone").exists()
    assert not CacheVolume.objects.filter(name="xcargo-target-gone").exists()


@pytest.mark.podman
def test_a_podman_host_is_recorded_as_podman(transactional_db, podman_engine):
    host = refresh_host(register_host(name="podman-test", engine_url=PODMAN_URL, runtime="podman"))
    assert host.kind == "podman"
    assert host.doctor[0]["status"] == "ok"


def test_a_host_whose_engine_is_gone_is_an_error_that_says_how_to_start_one(transactional_db):
    host = register_host(name="gone", engine_url="unix:///nonexistent/docker.sock")
    with pytest.raises(EngineUnavailable) as raised:
        refresh_host(host)
    assert raised.value.hint
    host.refresh_from_db()
    assert host.last_seen is None
