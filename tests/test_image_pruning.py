"""Images nothing needs any more, on a real engine: one a remake left without a name, a
toolchain image of a toolchain no longer offered, an old custom image when asked; never one a
container uses.
"""

from __future__ import annotations

import contextlib
import io
import uuid

import pytest
from docker.errors import NotFound

from runtimes import naming
from runtimes.images.catalogue import engine_catalogue
from runtimes.images.pruning import old_images, remove_images
from runtimes.images.trust import TrustPolicy

pytestmark = [pytest.mark.engine]

BASE = "localhost/xcargo/debian:trixie"


def make_image(engine, tag: str, **labels: str) -> str:
    """A labelled image on top of the Debian base, made in a moment (no layer of its own)."""
    # The tag is a label too: two images of the same labels would otherwise be one image.
    labels = {**labels, "test.tag": tag}
    lines = [f"FROM {BASE}", *(f'LABEL "{key}"="{value}"' for key, value in labels.items())]
    image, _log = engine.client.images.build(
        fileobj=io.BytesIO("\n".join(lines).encode()), tag=tag, rm=True
    )
    return image.id


@pytest.fixture
def made(toolchain_engine):
    engine = toolchain_engine
    ids: list[str] = []
    yield engine, ids
    for image_id in ids:
        with contextlib.suppress(NotFound):  # removed by the test itself
            engine.client.images.remove(image_id, force=True)


def test_images_no_build_needs_are_found_with_why_and_those_in_use_kept(made):
    engine, ids = made
    suffix = uuid.uuid4().hex[:8]
    managed = {naming.LABEL_MANAGED: "true"}
    toolchain = {**managed, naming.LABEL_KIND: naming.KIND_TOOLCHAIN}
    retired_channel = {**toolchain, naming.LABEL_TOOLCHAIN: "1.70"}
    offered_channel = {**toolchain, naming.LABEL_TOOLCHAIN: "1.98"}
    custom_kind = {**managed, naming.LABEL_KIND: naming.KIND_CUSTOM}
    superseded = make_image(engine, f"localhost/xcargo/prune-test:{suffix}", **managed, v="1")
    remade = make_image(engine, f"localhost/xcargo/prune-test:{suffix}", **managed, v="2")
    retired = make_image(engine, f"localhost/xcargo/prune-old:{suffix}", **retired_channel)
    offered = make_image(engine, f"localhost/xcargo/prune-new:{suffix}", **offered_channel)
    custom = make_image(engine, f"localhost/xcargo/custom:{suffix}", **custom_kind)
    in_use = make_image(engine, f"localhost/xcargo/prune-used:{suffix}", **retired_channel)
    ids += [superseded, remade, retired, offered, custom, in_use]
    holder = engine.client.containers.create(in_use, ["true"])
    try:
        found = {image.image_id: image for image in old_images(engine, offered=("1.85", "1.98"))}
        with_custom = old_images(engine, offered=("1.85", "1.98"), custom_older_than=0)
    finally:
        holder.remove(force=True)

    assert found[superseded].why == "left without a name when an image of its name was made again"
    assert found[retired].why == "toolchain 1.70, which this machine no longer offers"
    assert remade not in found and offered not in found and in_use not in found
    assert custom not in found, "custom images only when asked"
    assert custom in {old.image_id for old in with_custom}

    removed = remove_images(engine, [found[superseded], found[retired]])

    assert {old.image_id for old in removed} == {superseded, retired}
    left = {image.id for image in engine.client.images.list(all=True)}
    assert superseded not in left and retired not in left and remade in left


def test_a_toolchain_image_a_remake_left_nameless_is_never_chosen_for_a_build(made):
    engine, ids = made
    suffix = uuid.uuid4().hex[:8]
    toolchain = {
        naming.LABEL_MANAGED: "true",
        naming.LABEL_KIND: naming.KIND_TOOLCHAIN,
        naming.LABEL_TARGETS: "aarch64-unknown-linux-gnu",
    }
    tag = f"localhost/xcargo/remade-toolchain:{suffix}"
    superseded = make_image(engine, tag, **toolchain, v="1")
    remade = make_image(engine, tag, **toolchain, v="2")
    ids += [superseded, remade]

    offered = {image.reference: image for image in engine_catalogue(engine, TrustPolicy())}

    assert offered[tag].digest == remade, "the image of that name now"
    assert naming.image_key(superseded) not in offered, "no name to build with"
