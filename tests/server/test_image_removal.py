"""Old toolchain images removed from the caches page: an admin previews which images and how
much they free, confirms, and the worker of their host removes them, sparing one a container
uses; nobody else can.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from docker.errors import ImageNotFound

from builds.models import EngineHost, Image
from builds.services import engines
from builds.services.engines import register_host
from runtimes import naming

AARCH64, X86_64 = "aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"
GB = 1000**3


@pytest.fixture
def host(db: None) -> EngineHost:
    return register_host(name="local", engine_url="unix:///var/run/docker.sock", runtime="docker")


def _image(host: EngineHost, reference: str, toolchain: str, targets: list[str], **fields):
    return Image.objects.create(
        engine_host=host,
        reference=reference,
        toolchain=toolchain,
        targets=targets,
        size=GB,
        origin=fields.pop("origin", Image.Origin.BOOTSTRAPPED),
        **fields,
    )


def test_old_toolchain_images_are_those_a_newer_one_replaces_for_every_target(
    admin_client: Client, client: Client, user, host, settings, django_capture_on_commit_callbacks
):
    month_ago = timezone.now() - timedelta(days=30)
    _image(host, "xcargo/aarch64:1.98", "1.98", [AARCH64])
    _image(host, "xcargo/aarch64:1.85", "1.85", [AARCH64], last_used=month_ago)
    _image(host, "xcargo/aarch64:1.96", "1.96", [AARCH64], last_used=timezone.now())
    _image(host, "xcargo/x86_64:1.85", "1.85", [X86_64])  # the newest its target has
    _image(host, "team/rust:1.80", "1.80", [AARCH64], origin=Image.Origin.REGISTRY)  # not held
    client.force_login(user)

    refused = client.post("/caches/images/remove/", {})
    every_old = admin_client.post("/caches/images/remove/", {})
    unused_for_a_week = admin_client.post("/caches/images/remove/", {"images-older_than": "7d"})
    settings.XCARGO_TOOLCHAIN = "1.85"
    pinned_kept = admin_client.post("/caches/images/remove/", {})
    with django_capture_on_commit_callbacks(execute=False) as published:
        confirmed = admin_client.post(
            "/caches/images/remove/", {"images-toolchain": "1.96", "images-confirm": "True"}
        )
    malformed = admin_client.post("/caches/images/remove/", {"images-toolchain": "latest"})

    assert refused.status_code == 403
    page = every_old.content.decode()
    assert "This removes <strong>2 images</strong>, freeing <strong>2.0 GB</strong>" in page
    assert "local: xcargo/aarch64:1.85 (toolchain 1.85)" in page
    assert "local: xcargo/aarch64:1.96 (toolchain 1.96)" in page
    preview = unused_for_a_week.content.decode()
    assert "This removes <strong>1 image</strong>" in preview and "aarch64:1.96 (" not in preview
    assert "This removes <strong>1 image</strong>" in pinned_kept.content.decode()
    assert "aarch64:1.85 (" not in pinned_kept.content.decode()
    assert confirmed.status_code == 302
    assert len(published) == 1, "one task, on the queue of the images' host"
    assert Image.objects.count() == 5, "the worker removes them, not the web server"
    assert malformed.status_code == 400
    assert "is not a Rust version" in malformed.content.decode()


def labelled_image(engine, tag: str, toolchain: str) -> str:
    """A tiny image labelled as an old toolchain's, made from the base xcargo images start from."""
    dockerfile = (
        f"FROM {naming.OWN_IMAGES_PREFIX}debian:trixie\n"
        f'LABEL {naming.LABEL_KIND}="{naming.KIND_TOOLCHAIN}" '
        f'{naming.LABEL_TOOLCHAIN}="{toolchain}" {naming.LABEL_TARGETS}="{AARCH64}"\n'
    )
    engine.client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return tag


@pytest.mark.engine
def test_the_worker_removes_the_chosen_images_and_spares_one_a_container_uses(
    docker_toolchains, host
):
    engine = docker_toolchains
    unused = labelled_image(engine, "localhost/xcargo/removal-test:unused", "1.80")
    in_use = labelled_image(engine, "localhost/xcargo/removal-test:in-use", "1.81")
    for reference, toolchain in ((unused, "1.80"), (in_use, "1.81")):
        _image(host, reference, toolchain, [AARCH64])
    container = engine.client.containers.create(in_use, ["true"])
    try:
        removed = engines.remove_images(host, [unused, in_use])

        assert removed == [unused]
        with pytest.raises(ImageNotFound):
            engine.client.images.get(unused)
        assert engine.client.images.get(in_use)
        recorded = set(Image.objects.values_list("reference", flat=True))
        assert in_use in recorded and unused not in recorded
    finally:
        container.remove(force=True)
        engine.client.images.remove(in_use, force=True)
