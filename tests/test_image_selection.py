"""Which catalogue image a build chooses when nothing named one: on the engine first, then the
smallest, then the newest, then the registries in `[container] image_registry` order; only
images of its target and toolchain, never one without a Rust toolchain.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from runtimes.images.catalogue import NO_RUST, CatalogueImage
from runtimes.images.selection import fits, select

TRIPLE = "aarch64-unknown-linux-gnu"
BASE = CatalogueImage(
    reference="a.example/xcargo/toolchain:aarch64-unknown-linux-gnu-1.98",
    registry="a.example",
    digest="sha256:" + "a" * 64,
    size=2_000_000_000,
    created="2026-11-01T10:00:00Z",
    targets=(TRIPLE,),
    rustc="1.98.1",
    present=False,
)
ORDER = ("a.example", "b.example")


def image(**changes: object) -> CatalogueImage:
    return replace(BASE, **changes)  # type: ignore[arg-type]


def chosen(*candidates: CatalogueImage) -> str:
    selection = select(candidates, TRIPLE, "1.98", ORDER)
    assert selection is not None
    return selection.image.reference


def test_an_image_on_the_engine_wins_over_a_smaller_one_to_download():
    held = image(reference="held", present=True, size=3_000_000_000)
    assert chosen(image(reference="small", size=1), held) == "held"


def test_then_the_smallest():
    assert chosen(image(reference="big"), image(reference="small", size=1_000)) == "small"


def test_then_the_newest():
    older = image(reference="older", created="2026-10-01T00:00:00Z")
    newer = image(reference="newer", created="2026-11-30T00:00:00.123456789Z")
    assert chosen(older, newer) == "newer"


def test_then_the_registries_in_image_registry_order():
    second = image(reference="second", registry="b.example")
    first = image(reference="first", registry="a.example")
    assert chosen(second, first) == "first"


@pytest.mark.parametrize(
    "unfit",
    [
        {"targets": ("x86_64-unknown-linux-gnu",)},
        {"rustc": "1.85.0"},
        {"rustc": ""},
        {"rustc": "", "note": NO_RUST},
        {"rustc": "not a version"},
    ],
)
def test_only_images_of_the_target_and_toolchain_fit(unfit):
    assert not fits(image(**unfit), TRIPLE, "1.98")
    assert select([image(**unfit)], TRIPLE, "1.98", ORDER) is None


def test_the_reason_says_where_and_among_how_many():
    one = select([BASE], TRIPLE, "1.98", ORDER)
    two = select([BASE, image(reference="held", present=True)], TRIPLE, "1.98", ORDER)
    assert one is not None and two is not None
    assert one.reason == (
        f"in a.example, pulled; the only image for {TRIPLE} with rustc 1.98, 2.0 GB"
    )
    assert two.reason.startswith(
        "on the engine already; first of 2 images (on the engine first, then the smallest, "
        "then the newest)"
    )
