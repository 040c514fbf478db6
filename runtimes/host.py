"""Facts about the machine running xcargo (not the engine): its own Rust target, where it
keeps state, which CAs it trusts.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from runtimes.errors import UsageError
from runtimes.targets import Triple

# Where distributions keep the system CA bundle; the first one present is used.
_SYSTEM_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, BSDs
)

# `platform.machine()` spellings to Rust's architecture names, and the rest of the triple
# (vendor, os, env) by `sys.platform`. Linux hosts are taken as glibc ones.
_RUST_ARCH = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "i686": "i686",
    "i386": "i686",
    "armv7l": "armv7",
    "riscv64": "riscv64gc",
    "ppc64le": "powerpc64le",
    "s390x": "s390x",
}
_RUST_PLATFORM = {
    "linux": ("unknown", "linux", "gnu"),
    "darwin": ("apple", "darwin", ""),
    "win32": ("pc", "windows", "msvc"),
}


def host_triple(*, machine: str | None = None, system: str | None = None) -> Triple:
    """The Rust target of this machine (what `host.*` means in use_when), from
    `platform.machine()` and `sys.platform` unless given: x86_64-unknown-linux-gnu,
    aarch64-apple-darwin.
    """
    machine = platform.machine() if machine is None else machine
    system = sys.platform if system is None else system
    arch = _RUST_ARCH.get(machine.lower())
    rest = _RUST_PLATFORM.get(system)
    if arch is None or rest is None:
        raise UsageError(
            f"cannot tell this machine's Rust target (machine {machine!r}, platform {system!r})",
            hint="xcargo knows Linux, macOS and Windows on x86_64 and aarch64 (and a few more)",
        )
    vendor, os_name, env = rest
    if arch == "armv7" and os_name == "linux":
        env = "gnueabihf"
    return Triple(arch, vendor, os_name, env)


def state_dir() -> Path:
    """xcargo's own small state (fetch stamps): XCARGO_STATE_DIR, else the user's cache dir."""
    if explicit := os.environ.get("XCARGO_STATE_DIR"):
        return Path(explicit)
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "xcargo"


def ca_bundle() -> Path | None:
    """The CA bundle the fetch phase trusts: the host's, so that a TLS-inspecting proxy whose
    CA the host trusts works in containers too. XCARGO_CA_BUNDLE overrides; "none" disables.
    """
    explicit = os.environ.get("XCARGO_CA_BUNDLE")
    if explicit:
        return None if explicit == "none" else Path(explicit)
    candidates = [os.environ.get("SSL_CERT_FILE", ""), *_SYSTEM_CA_BUNDLES]
    return next((Path(path) for path in candidates if path and Path(path).is_file()), None)
