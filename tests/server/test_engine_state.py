"""What a worker records of its engine host, for pages that never ask an engine themselves."""

from __future__ import annotations

import logging

import pytest

from builds.models import CacheVolume, Image, TrustedRegistry
from builds.services.engines import refresh_host, register_host
from runtimes import caches, naming
from runtimes.errors import EngineUnavailable
from runtimes.toolchains import NEWEST_CHANNEL
from tests.conftest import PODMAN_URL, registry_toolchain
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


def test_the_catalogue_records_the_trusted_registries_images_without_pulling_them(
    engine_host, docker_toolchains, registries, pushed_toolchain, admin_client, caplog
):
    TrustedRegistry.objects.create(host=registries.public, allowed_images="xcargo/*")
    TrustedRegistry.objects.create(
        host=registries.private,
        username=registries.login.username,
        password="not-the-password",
    )

    with caplog.at_level(logging.WARNING, logger="builds.services.engines"):
        refresh_host(engine_host)
    logged = caplog.text

    listed = registry_toolchain(registries.public)
    image = Image.objects.get(engine_host=engine_host, reference=listed)
    assert image.origin == Image.Origin.REGISTRY
    assert (image.registry, image.toolchain, image.targets) == (
        registries.public,
        NEWEST_CHANNEL,
        [AARCH64],
    )
    assert image.digest == pushed_toolchain and image.size > 100_000_000
    assert image.created is not None
    assert not Image.objects.filter(reference__contains="team/rust").exists(), "not allowed"
    assert f"registry {registries.private} refused the credentials: skipped" in logged
    assert "not-the-password" not in logged
    page = admin_client.get("/images/").content.decode()
    assert listed in page and "in a registry, not pulled" in page
