"""Which catalogue image a build of one target and toolchain runs in, when nothing named one:
images already on the engine first (no download), then the smallest, then the newest, then
the registries in the order of `[container] image_registry`. The answer says why, in words a
build log can show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runtimes.errors import UsageError
from runtimes.images.catalogue import CatalogueImage
from runtimes.rust_versions import RustVersion
from runtimes.sizes import human_size


@dataclass(frozen=True)
class Selection:
    image: CatalogueImage
    reason: str


def fits(image: CatalogueImage, triple: str, channel: str) -> bool:
    """Whether the image builds `triple` with the toolchain `channel`."""
    if image.note or triple not in image.targets:
        return False
    try:
        return RustVersion.parse(image.rustc).channel == channel
    except UsageError:
        return False


def select(
    candidates: Sequence[CatalogueImage], triple: str, channel: str, order: Sequence[str]
) -> Selection | None:
    """The best candidate for the target and toolchain, or None when none fits."""
    fitting = [image for image in candidates if fits(image, triple, channel)]
    if not fitting:
        return None

    def rank(image: CatalogueImage) -> tuple[bool, int, str, int]:
        walked = order.index(image.registry) if image.registry in order else -1
        return (not image.present, image.size, _newest_first(image.created), walked)

    fitting.sort(key=rank)
    best = fitting[0]
    where = "on the engine already" if best.present else f"in {best.registry}, pulled"
    among = (
        f"first of {len(fitting)} images (on the engine first, then the smallest, then the newest)"
        if len(fitting) > 1
        else "the only image"
    )
    return Selection(
        best,
        f"{where}; {among} for {triple} with rustc {channel}, {human_size(best.size)}",
    )


def _newest_first(created: str) -> str:
    """A key that sorts later timestamps first (ISO 8601 text, as engines and registries
    write it).
    """
    return "".join(chr(0x10FFFF - ord(character)) for character in created)
