"""The toolchain images on an engine, read from the labels xcargo put on them."""

from __future__ import annotations

from dataclasses import dataclass

from runtimes import naming
from runtimes.engine import Engine


@dataclass(frozen=True)
class ToolchainImage:
    reference: str
    image_id: str
    # The registry digest when the image came from one; a local image has only its id.
    digest: str
    targets: tuple[str, ...]
    rustc: str
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
                size=int(image.attrs.get("Size") or 0),
                created=str(image.attrs.get("Created") or ""),
                source=labels.get(naming.LABEL_SOURCE, ""),
            )
        )
    return sorted(found, key=lambda image: (image.size, image.reference))
