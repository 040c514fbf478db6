"""The targets xcargo can make toolchain images for, from Debian's packages alone.

Debian ships rustc's standard library for other architectures through multiarch
(`libstd-rust-dev:<arch>`) and a GNU cross linker per architecture, so a toolchain image is a
few packages on top of the shared base. Which Dockerfile a target needs depends on the engine:
a target of the engine's own architecture is native, every other one is cross.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from runtimes.errors import UsageError


@dataclass(frozen=True)
class ToolchainRecipe:
    """How Debian names a Rust target: its dpkg architecture and its GNU triple."""

    rust_target: str
    debian_arch: str
    gnu_triple: str

    def dockerfile_for(self, engine_arch: str) -> str:
        return "native.Dockerfile" if engine_arch == self.debian_arch else "cross.Dockerfile"

    def build_args(self, engine_arch: str) -> dict[str, str]:
        if engine_arch == self.debian_arch:
            return {}
        return {
            "DEB_ARCH": self.debian_arch,
            "GCC_TRIPLE": self.gnu_triple,
            "RUST_TARGET": self.rust_target,
        }


RECIPES: dict[str, ToolchainRecipe] = {
    recipe.rust_target: recipe
    for recipe in (
        ToolchainRecipe("x86_64-unknown-linux-gnu", "amd64", "x86_64-linux-gnu"),
        ToolchainRecipe("aarch64-unknown-linux-gnu", "arm64", "aarch64-linux-gnu"),
        ToolchainRecipe("armv7-unknown-linux-gnueabihf", "armhf", "arm-linux-gnueabihf"),
    )
}


def recipe_for(triple: str) -> ToolchainRecipe:
    try:
        return RECIPES[triple]
    except KeyError:
        raise UsageError(
            f"xcargo cannot bootstrap a toolchain image for {triple!r} yet",
            hint=f"bootstrappable targets: {', '.join(sorted(RECIPES))}; "
            "for others pass --container-image with an image that has the target installed",
        ) from None


def dockerfile_text(name: str) -> str:
    """The text of a Dockerfile shipped in `runtimes/dockerfiles/`."""
    return resources.files("runtimes").joinpath("dockerfiles", name).read_text(encoding="utf-8")
