"""Zig and cargo-zigbuild for the toolchain images, taken from the Python packages xcargo is
installed with (`ziglang` and `cargo-zigbuild` are PyPI wheels, pinned with their hashes in
requirements.lock), so that making an image needs no download and every image links with the
same, locked zig.
"""

from __future__ import annotations

import platform
import shutil
import sysconfig
from importlib import metadata, util
from pathlib import Path

from runtimes.errors import XcargoError

# The C libraries and headers zig has for systems no toolchain image builds for (macOS needs
# Apple's SDK, the BSDs sysroots of their own), in lib/libc/ and lib/libc/include/ only: zig's
# own standard library must stay whole. Left out to keep the images small.
_UNUSED_LIBC = ("*-freebsd*", "*-netbsd*", "*-openbsd*", "generic-freebsd", "generic-netbsd",
                "generic-openbsd", "any-darwin-any", "darwin")  # fmt: skip
_LIBC_DIRS = (Path("lib", "libc"), Path("lib", "libc", "include"))

_DEBIAN_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class ZigMissing(XcargoError):
    """zig or cargo-zigbuild cannot be put into an image."""


def versions() -> dict[str, str]:
    """What is baked into an image, as build arguments: part of the image's recipe, so that a
    new zig in requirements.lock, or another choice of what to leave out, makes it again.
    """
    return {
        "ZIG_VERSION": metadata.version("ziglang"),
        "CARGO_ZIGBUILD_VERSION": metadata.version("cargo-zigbuild"),
        "ZIG_LEFT_OUT": " ".join(_UNUSED_LIBC),
    }


def copy_into(context: Path, engine_arch: str) -> None:
    """Put `zig/` and `cargo-zigbuild` into a build context. The wheels are this machine's, so
    the engine must run containers of the same architecture.
    """
    host_arch = _DEBIAN_ARCH.get(platform.machine().lower(), platform.machine())
    if host_arch != engine_arch:
        raise ZigMissing(
            f"zig here is built for {host_arch}, but the engine runs {engine_arch} containers",
            hint="make the toolchain images on a machine of the engine's architecture",
        )
    spec = util.find_spec("ziglang")
    zigbuild = Path(sysconfig.get_path("scripts"), "cargo-zigbuild")
    if spec is None or spec.origin is None or not zigbuild.is_file():
        raise ZigMissing(
            "the ziglang and cargo-zigbuild packages are not installed",
            hint="install xcargo-web's locked requirements (scripts/setup.sh run)",
        )
    package = Path(spec.origin).parent
    unused_libc = shutil.ignore_patterns(*_UNUSED_LIBC)
    python_files = shutil.ignore_patterns("__pycache__", "*.py")

    def unused(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(package)
        if relative == Path("."):
            return python_files(directory, names)
        return unused_libc(directory, names) if relative in _LIBC_DIRS else set()

    shutil.copytree(package, context / "zig", ignore=unused)
    shutil.copy2(zigbuild, context / "cargo-zigbuild")
