"""The toolchain images on an engine, read from the labels xcargo put on them, and the
catalogue of every target and toolchain xcargo can make.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from runtimes import naming
from runtimes.engine import Engine
from runtimes.toolchains import RECIPES, toolchains_for


@dataclass(frozen=True)
class ToolchainImage:
    reference: str
    image_id: str
    # The registry digest when the image came from one; a local image has only its id.
    digest: str
    targets: tuple[str, ...]
    rustc: str
    # The channel it was made for ("1.96"); "" for an image made before toolchains had one.
    toolchain: str
    size: int
    created: str
    source: str


def toolchain_images(engine: Engine) -> list[ToolchainImage]:
    """Every image labelled as an xcargo toolchain, smallest first (the design's preference)."""
    found = []
    for image in engine.client.images.list(
        filters={"label": f"{naming.LABEL_KIND}={naming.KIND_TOOLCHAIN}"}
    ):
        labels = image.labels or {}
        found.append(
            ToolchainImage(
                reference=(image.tags or [naming.image_key(image.id)])[0],
                image_id=image.id,
                digest=(image.attrs.get("RepoDigests") or [image.id])[0],
                targets=tuple(filter(None, labels.get(naming.LABEL_TARGETS, "").split(","))),
                rustc=labels.get(naming.LABEL_RUSTC, "?"),
                toolchain=labels.get(naming.LABEL_TOOLCHAIN, ""),
                size=int(image.attrs.get("Size") or 0),
                created=str(image.attrs.get("Created") or ""),
                source=labels.get(naming.LABEL_SOURCE, ""),
            )
        )
    return sorted(found, key=lambda image: (image.size, image.reference))


@dataclass(frozen=True)
class CatalogueEntry:
    """One target of one toolchain: its image when made here, else how to make it."""

    target: str
    toolchain: str
    reference: str | None

    @property
    def bootstrap_command(self) -> str:
        return f"xcargo images bootstrap --toolchain {self.toolchain} --target {self.target}"


def catalogue(made: Iterable[tuple[str, str, str]]) -> list[CatalogueEntry]:
    """Every target and toolchain xcargo can make, given the (target, toolchain, reference) of
    the images made already; images of other pairs (named or older ones) are left out.
    """
    references = {(target, toolchain): reference for target, toolchain, reference in made}
    return [
        CatalogueEntry(target, channel, references.get((target, channel)))
        for target in RECIPES
        for channel in toolchains_for(target)
    ]
