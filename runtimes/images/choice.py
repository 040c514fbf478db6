"""Which image a build runs in: decided here, once, and returned as a value that says what
was chosen, where it came from and why, so that the build can record it and the CLI, the
page and the API can tell it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from runtimes import naming
from runtimes.config import XcargoConfig
from runtimes.images.custom import CustomImage, ImageIds, find_dockerfile, prepare_custom_image
from runtimes.images.selection import Selection
from runtimes.toolchain_choice import ToolchainChoice

# Where a choice came from, most specific first.
NAMED = "named"  # with the build itself: --container-image, or the server's target setting
CONFIG = "xcargo.toml"  # [targets."<triple>".container] image
DOCKERFILE = "dockerfile"  # made from a Dockerfile: named, in xcargo.toml, or xcargo.dockerfile
CATALOGUE = "catalogue"  # a toolchain image of a trusted registry, on the engine or pulled
TOOLCHAIN = "toolchain"  # the bootstrapped toolchain image of the target
SOURCES = (NAMED, CONFIG, DOCKERFILE, CATALOGUE, TOOLCHAIN)


@dataclass(frozen=True)
class ImageChoice:
    reference: str
    source: str
    reason: str
    # The toolchain the image was chosen for; None for a named image (its rustc is its own).
    toolchain: ToolchainChoice | None = None
    # What a custom image is made of, reviewed and measured; None for any other source.
    custom: CustomImage | None = None

    @property
    def makeable(self) -> bool:
        """Whether xcargo may make the image when it is missing: only its own toolchain
        images; an image someone named is never made behind their back.
        """
        return self.source == TOOLCHAIN


#: The best catalogue image for a toolchain channel, if any fits.
CatalogueSelection = Callable[[str], Selection | None]


def choose_image(
    triple: str,
    config: XcargoConfig,
    *,
    toolchain: Callable[[], ToolchainChoice],
    project_root: Path,
    image_ids: ImageIds,
    named: str | None = None,
    named_by: str = "",
    dockerfile: str | None = None,
    dockerfile_named_by: str = "--dockerfile",
    build_args: Mapping[str, str] | None = None,
    catalogue: CatalogueSelection | None = None,
) -> ImageChoice:
    """The image for `triple`, first found of: one named with the build (`named_by` says how,
    for the reason); a Dockerfile named with the build; the target's image in xcargo.toml; its
    Dockerfile there, or `xcargo.dockerfile` in the project root; else, for the toolchain
    `toolchain()` chooses (asked only then: other images have their own rustc), the image
    `catalogue` selects, or xcargo's own toolchain image, made when missing.
    `image_ids` tells the id of an image on the engine, which a custom image's name includes.
    """
    target = config.for_target(triple)
    if named:
        return ImageChoice(named, NAMED, f"named by {named_by or 'the build'}")
    if target.image is not None and not dockerfile:
        return ImageChoice(target.image.canonical, CONFIG, config.where(triple, "image"))
    custom = find_dockerfile(
        project_root,
        triple,
        configured=target.dockerfile,
        configured_by=config.where(triple, "dockerfile"),
        context=target.context,
        build_args={**target.build_args, **(build_args or {})},
        named=dockerfile,
        named_by=dockerfile_named_by,
    )
    if custom is not None:
        image = prepare_custom_image(custom, image_ids=image_ids)
        return ImageChoice(
            image.reference, DOCKERFILE, f"made from {custom.named_by}", custom=image
        )
    chosen = toolchain()
    own = naming.toolchain_image(triple, chosen.channel)
    selected = catalogue(chosen.channel) if catalogue is not None else None
    if selected is not None and selected.image.reference != own:
        return ImageChoice(
            selected.image.reference, CATALOGUE, f"the catalogue: {selected.reason}", chosen
        )
    return ImageChoice(
        own,
        TOOLCHAIN,
        f"the toolchain image for {triple} and rustc {chosen.channel} (nothing named another)",
        chosen,
    )
