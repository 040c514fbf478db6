"""Which image a build runs in: decided here, once, and returned as a value that says what
was chosen, where it came from and why, so that the build can record it and the CLI, the
page and the API can tell it. Later sources (custom Dockerfiles, the catalogue of registries)
are more branches of `choose_image`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runtimes import naming
from runtimes.config import XcargoConfig
from runtimes.errors import UsageError
from runtimes.toolchain_choice import ToolchainChoice

# Where a choice came from, most specific first.
NAMED = "named"  # with the build itself: --container-image, or the server's target setting
CONFIG = "xcargo.toml"  # [targets."<triple>".container] image
TOOLCHAIN = "toolchain"  # the bootstrapped toolchain image of the target
SOURCES = (NAMED, CONFIG, TOOLCHAIN)


@dataclass(frozen=True)
class ImageChoice:
    reference: str
    source: str
    reason: str
    # The toolchain the image was chosen for; None for a named image (its rustc is its own).
    toolchain: ToolchainChoice | None = None

    @property
    def makeable(self) -> bool:
        """Whether xcargo may make the image when it is missing: only its own toolchain
        images; an image someone named is never made or pulled behind their back.
        """
        return self.toolchain is not None


def choose_image(
    triple: str,
    config: XcargoConfig,
    *,
    toolchain: Callable[[], ToolchainChoice],
    named: str | None = None,
    named_by: str = "",
) -> ImageChoice:
    """The image for `triple`: one named with the build (`named_by` says how, for the
    reason), else the target's image in xcargo.toml, else the toolchain image of the
    toolchain `toolchain()` chooses (asked only then: a named image has its own rustc).
    """
    target = config.for_target(triple)
    if named:
        return ImageChoice(named, NAMED, f"named by {named_by or 'the build'}")
    if target.image is not None:
        return ImageChoice(
            target.image.canonical, CONFIG, f'xcargo.toml: [targets."{triple}".container] image'
        )
    if target.dockerfile is not None:
        raise UsageError(
            f"targets.{triple}.container.dockerfile is set, but custom Dockerfiles "
            "are not supported yet",
            hint="build the image yourself and set `image`, or pass --container-image",
        )
    chosen = toolchain()
    return ImageChoice(
        naming.toolchain_image(triple, chosen.channel),
        TOOLCHAIN,
        f"the toolchain image for {triple} and rustc {chosen.channel} (nothing named another)",
        chosen,
    )
