"""The toolchains and targets xcargo can make images for, from Debian's packages alone.

Debian ships more than one rustc: trixie's `rustc` (1.85), trixie's `rustc-web` (1.96, kept
current for the browsers) and trixie-backports' `rustc` (1.98). Each comes with its standard
library for other architectures through multiarch (`libstd-rust-dev:<arch>` or
`libstd-rust-web-dev:<arch>`), so an image is the shared base, one rustc layer per toolchain,
and one target layer on top. Which Dockerfile a target needs depends on the engine: a target of
the engine's own architecture is native, every other one is cross. For musl and Windows Debian
ships no standard library of a current rustc: builds compile it from the source of
trixie-backports' `rust-src` (`-Zbuild-std`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from runtimes.errors import UsageError
from runtimes.rust_versions import RustVersion


@dataclass(frozen=True)
class DebianToolchain:
    """One rustc Debian offers: the channel people name ("1.96") and the packages behind it."""

    channel: str
    suite: str
    compiler_packages: tuple[str, str]
    std_package: str
    # The Debian architectures whose standard library the archive serves; None: all of them.
    architectures: frozenset[str] | None = None
    # Its WebAssembly standard library (one package for every wasm32 target); None: none.
    wasm_std_package: str | None = None
    # Whether the suite has the `rust-src` of exactly this rustc, for -Zbuild-std targets.
    has_std_source: bool = False

    def builds_for(self, triple: str) -> bool:
        """Whether this toolchain can make an image of `triple` (a bootstrappable target)."""
        recipe = RECIPES.get(triple)
        if recipe is None:
            return True
        if recipe.family == WASM:
            return self.wasm_std_package is not None
        if recipe.family == BUILD_STD:
            return self.has_std_source
        return self.architectures is None or recipe.debian_arch in self.architectures

    @property
    def version(self) -> RustVersion:
        return RustVersion.parse(self.channel)

    def rustc_args(self) -> dict[str, str]:
        """The build arguments of its rustc layer (`rustc.Dockerfile`)."""
        return {
            "SUITE": self.suite,
            "COMPILER_PACKAGES": " ".join(self.compiler_packages),
            "CHANNEL": self.channel,
        }


TOOLCHAINS: dict[str, DebianToolchain] = {
    toolchain.channel: toolchain
    for toolchain in (
        DebianToolchain(
            "1.85",
            "trixie",
            ("rustc", "cargo"),
            "libstd-rust-dev",
            wasm_std_package="libstd-rust-dev-wasm32",
        ),
        # rustc-web has no WebAssembly standard library: wasm32 builds on 1.85 or 1.98. The
        # archive lists its armel standard library but does not serve it (404, checked
        # 2026-12-02): 32-bit ARM soft-float builds on 1.85.
        DebianToolchain(
            "1.96",
            "trixie",
            ("rustc-web", "cargo-web"),
            "libstd-rust-web-dev",
            frozenset({"amd64", "arm64", "armhf", "i386", "riscv64", "ppc64el", "s390x"}),
        ),
        # trixie-backports lists 1.98's standard library for the other architectures, but the
        # archive does not serve it (404 for each, checked 2026-12-02): those build on 1.96.
        DebianToolchain(
            "1.98",
            "trixie-backports",
            ("rustc", "cargo"),
            "libstd-rust-dev",
            frozenset({"amd64", "arm64"}),
            wasm_std_package="libstd-rust-dev-wasm32",
            has_std_source=True,
        ),
    )
}
NEWEST_CHANNEL = max(TOOLCHAINS, key=lambda channel: TOOLCHAINS[channel].version)


def toolchain_for(channel: str) -> DebianToolchain:
    """The Debian toolchain of a channel, "1.96" or "1.96.0" (Debian has one patch of each)."""
    hint = f"the toolchains xcargo can make: {', '.join(TOOLCHAINS)}"
    try:
        version = RustVersion.parse(channel)
    except UsageError as error:
        raise UsageError(error.message, hint=hint) from None
    found = TOOLCHAINS.get(version.channel)
    if found is None:
        raise UsageError(f"Debian offers no rustc {channel}", hint=hint)
    return found


# How a target's image is made: Debian's multiarch standard library with a GNU cross
# compiler (or none for the engine's own architecture), the WebAssembly standard library, or
# the standard library's source, which each build compiles (-Zbuild-std).
GNU, WASM, BUILD_STD = "gnu", "wasm", "build-std"
# What -Zbuild-std compiles: panic_abort too, so that a profile's `panic = "abort"` links.
STD_CRATES = "std,panic_abort"


@dataclass(frozen=True)
class ToolchainRecipe:
    """How Debian names a Rust target: its dpkg architecture and its GNU triple (empty where
    Debian has no cross compiler for it); for a build-std target, the packages of its linker
    and its settings in /.cargo/config.toml.
    """

    rust_target: str
    debian_arch: str
    gnu_triple: str
    family: str = GNU
    packages: tuple[str, ...] = ()
    cargo_config: str = ""

    def dockerfile_for(self, engine_arch: str) -> str:
        if self.family == WASM:
            return "wasm.Dockerfile"
        if self.family == BUILD_STD:
            return "build-std.Dockerfile"
        return "native.Dockerfile" if engine_arch == self.debian_arch else "cross.Dockerfile"

    def image_labels(self) -> dict[str, str]:
        """What its image says of itself beyond the toolchain (`managed_labels` keys)."""
        return {"build_std": STD_CRATES} if self.family == BUILD_STD else {}

    def pkg_config_environment(self, engine_arch: str) -> dict[str, str]:
        """pkg-config for a cross target: the target architecture's `.pc` files (a pre-build's
        `libssl-dev:arm64`), never the engine's own, as the pkg-config crate reads its
        target-scoped variables; nothing for the engine's own architecture.
        """
        if self.family != GNU or engine_arch == self.debian_arch:
            return {}
        scoped = self.rust_target.replace("-", "_").replace(".", "_")
        # Debian's multiarch directory is the GNU triple, but for i386 ("i686-linux-gnu").
        multiarch = "i386-linux-gnu" if self.debian_arch == "i386" else self.gnu_triple
        return {
            f"PKG_CONFIG_ALLOW_CROSS_{scoped}": "1",
            f"PKG_CONFIG_LIBDIR_{scoped}": f"/usr/lib/{multiarch}/pkgconfig:/usr/share/pkgconfig",
        }

    def build_args(self, engine_arch: str, toolchain: DebianToolchain) -> dict[str, str]:
        if self.family == WASM:
            assert toolchain.wasm_std_package is not None, "checked by check_builds_for"
            return {"STD_PACKAGE": toolchain.wasm_std_package, "SUITE": toolchain.suite}
        if self.family == BUILD_STD:
            return {
                "CARGO_CONFIG": self.cargo_config,
                "PACKAGES": " ".join(self.packages),
                "RUST_TARGET": self.rust_target,
            }
        if engine_arch == self.debian_arch:
            return {}
        return {
            "DEB_ARCH": self.debian_arch,
            "GCC_TRIPLE": self.gnu_triple,
            "RUST_TARGET": self.rust_target,
            "STD_PACKAGE": toolchain.std_package,
            "SUITE": toolchain.suite,
        }


def _musl(rust_target: str) -> ToolchainRecipe:
    """A static musl target, linked by zig: zig brings musl's C library, start files and
    libunwind, so rustc must not add its own self-contained copies (which rust-src lacks).
    """
    return ToolchainRecipe(
        rust_target,
        "",
        "",
        family=BUILD_STD,
        cargo_config=f'[target.{rust_target}]\nrustflags = ["-C", "link-self-contained=no"]',
    )


RECIPES: dict[str, ToolchainRecipe] = {
    recipe.rust_target: recipe
    for recipe in (
        ToolchainRecipe("x86_64-unknown-linux-gnu", "amd64", "x86_64-linux-gnu"),
        ToolchainRecipe("aarch64-unknown-linux-gnu", "arm64", "aarch64-linux-gnu"),
        ToolchainRecipe("armv7-unknown-linux-gnueabihf", "armhf", "arm-linux-gnueabihf"),
        ToolchainRecipe("armv5te-unknown-linux-gnueabi", "armel", "arm-linux-gnueabi"),
        ToolchainRecipe("riscv64gc-unknown-linux-gnu", "riscv64", "riscv64-linux-gnu"),
        ToolchainRecipe("i686-unknown-linux-gnu", "i386", "i686-linux-gnu"),
        ToolchainRecipe("powerpc64le-unknown-linux-gnu", "ppc64el", "powerpc64le-linux-gnu"),
        ToolchainRecipe("s390x-unknown-linux-gnu", "s390x", "s390x-linux-gnu"),
        ToolchainRecipe("wasm32-unknown-unknown", "", "", family=WASM),
        ToolchainRecipe("wasm32-wasip1", "", "", family=WASM),
        _musl("x86_64-unknown-linux-musl"),
        _musl("aarch64-unknown-linux-musl"),
        ToolchainRecipe(
            "x86_64-pc-windows-gnu",
            "",
            "",
            family=BUILD_STD,
            # posix: the thread model Rust's std is made for (winpthreads), as rustup's is.
            packages=("gcc-mingw-w64-x86-64-posix",),
            cargo_config=(
                '[target.x86_64-pc-windows-gnu]\nlinker = "x86_64-w64-mingw32-gcc"\n\n'
                '[env]\nCC_x86_64_pc_windows_gnu = "x86_64-w64-mingw32-gcc"'
            ),
        ),
    )
}

# Targets teams ask for that no image made here can serve, and why.
UNAVAILABLE: dict[str, str] = {
    "arm-unknown-linux-gnueabi": (
        "Debian's armel standard library is built for armv5te-unknown-linux-gnueabi, which "
        "runs on the same ARMv6 boards (Raspberry Pi 1 and Zero): build for that target"
    ),
}


def recipe_for(triple: str) -> ToolchainRecipe:
    try:
        return RECIPES[triple]
    except KeyError:
        why = UNAVAILABLE.get(triple)
        raise UsageError(
            f"xcargo cannot bootstrap a toolchain image for {triple!r}"
            + (f": {why}" if why else " yet"),
            hint=f"bootstrappable targets: {', '.join(sorted(RECIPES))}; "
            "for others pass --container-image with an image that has the target installed",
        ) from None


def dockerfile_text(name: str) -> str:
    """The text of a Dockerfile shipped in `runtimes/dockerfiles/`."""
    return resources.files("runtimes").joinpath("dockerfiles", name).read_text(encoding="utf-8")


def toolchains_for(triple: str, offered: Sequence[str] = tuple(TOOLCHAINS)) -> tuple[str, ...]:
    """The offered toolchains that can make an image of `triple`, oldest first."""
    return tuple(channel for channel in offered if toolchain_for(channel).builds_for(triple))


def newest_for(triple: str) -> str:
    """The newest toolchain that can make an image of `triple`: what a bootstrap makes when
    no toolchain is named.
    """
    return max(toolchains_for(triple), key=lambda channel: TOOLCHAINS[channel].version)


def check_builds_for(toolchain: DebianToolchain, triple: str) -> None:
    if not toolchain.builds_for(triple):
        raise UsageError(
            f"Debian's {toolchain.suite} has no rustc {toolchain.channel} standard library "
            f"for {triple}",
            hint=f"use one that has: {', '.join(toolchains_for(triple))} (--toolchain)",
        )


def offered_toolchains(listed: str | None) -> tuple[str, ...]:
    """The toolchains a machine offers: XCARGO_TOOLCHAINS ("1.85,1.98"), else all of Debian's.
    A team pins its server to the ones it supports; each must be one Debian has.
    """
    if not listed or not listed.strip():
        return tuple(TOOLCHAINS)
    return tuple(dict.fromkeys(toolchain_for(part.strip()).channel for part in listed.split(",")))
