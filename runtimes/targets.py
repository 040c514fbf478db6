"""Rust target triples: the names people pass to `--target` and write in xcargo.toml.

A triple ends up in container names, image tags, cache paths and command lines, so it is checked
against a strict character set before anything else sees it, and then against the targets rustc
ships a standard library for, so a typo fails in a second with a suggestion instead of after an
image pull.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from runtimes.errors import UsageError

#: Every target `rustup target list` offers with Rust 1.95: tier 1 and tier 2, the ones with a
#: prebuilt standard library. Tier 3 targets need `-Zbuild-std` and are out of scope.
KNOWN_TARGETS: frozenset[str] = frozenset(
    {
        # Apple
        "aarch64-apple-darwin",
        "aarch64-apple-ios",
        "aarch64-apple-ios-macabi",
        "aarch64-apple-ios-sim",
        "aarch64-apple-tvos",
        "aarch64-apple-tvos-sim",
        "aarch64-apple-visionos",
        "aarch64-apple-visionos-sim",
        "aarch64-apple-watchos",
        "aarch64-apple-watchos-sim",
        "x86_64-apple-darwin",
        "x86_64-apple-ios",
        "x86_64-apple-ios-macabi",
        # Android
        "aarch64-linux-android",
        "arm-linux-androideabi",
        "armv7-linux-androideabi",
        "i686-linux-android",
        "thumbv7neon-linux-androideabi",
        "x86_64-linux-android",
        # Windows
        "aarch64-pc-windows-gnullvm",
        "aarch64-pc-windows-msvc",
        "arm64ec-pc-windows-msvc",
        "i686-pc-windows-gnu",
        "i686-pc-windows-gnullvm",
        "i686-pc-windows-msvc",
        "x86_64-pc-windows-gnu",
        "x86_64-pc-windows-gnullvm",
        "x86_64-pc-windows-msvc",
        # Linux
        "aarch64-unknown-linux-gnu",
        "aarch64-unknown-linux-musl",
        "aarch64-unknown-linux-ohos",
        "arm-unknown-linux-gnueabi",
        "arm-unknown-linux-gnueabihf",
        "arm-unknown-linux-musleabi",
        "arm-unknown-linux-musleabihf",
        "armv5te-unknown-linux-gnueabi",
        "armv5te-unknown-linux-musleabi",
        "armv7-unknown-linux-gnueabi",
        "armv7-unknown-linux-gnueabihf",
        "armv7-unknown-linux-musleabi",
        "armv7-unknown-linux-musleabihf",
        "armv7-unknown-linux-ohos",
        "i586-unknown-linux-gnu",
        "i586-unknown-linux-musl",
        "i686-unknown-linux-gnu",
        "i686-unknown-linux-musl",
        "loongarch64-unknown-linux-gnu",
        "loongarch64-unknown-linux-musl",
        "powerpc-unknown-linux-gnu",
        "powerpc64-unknown-linux-gnu",
        "powerpc64-unknown-linux-musl",
        "powerpc64le-unknown-linux-gnu",
        "powerpc64le-unknown-linux-musl",
        "riscv64a23-unknown-linux-gnu",
        "riscv64gc-unknown-linux-gnu",
        "riscv64gc-unknown-linux-musl",
        "s390x-unknown-linux-gnu",
        "sparc64-unknown-linux-gnu",
        "thumbv7neon-unknown-linux-gnueabihf",
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-gnuasan",
        "x86_64-unknown-linux-gnux32",
        "x86_64-unknown-linux-musl",
        "x86_64-unknown-linux-ohos",
        # BSD, illumos, Solaris, Fuchsia, Redox
        "i686-unknown-freebsd",
        "sparcv9-sun-solaris",
        "x86_64-pc-solaris",
        "x86_64-unknown-freebsd",
        "x86_64-unknown-fuchsia",
        "aarch64-unknown-fuchsia",
        "x86_64-unknown-illumos",
        "x86_64-unknown-netbsd",
        "x86_64-unknown-redox",
        # WebAssembly
        "wasm32-unknown-emscripten",
        "wasm32-unknown-unknown",
        "wasm32-wasip1",
        "wasm32-wasip1-threads",
        "wasm32-wasip2",
        "wasm32v1-none",
        # UEFI, SGX, GPU
        "aarch64-unknown-uefi",
        "i686-unknown-uefi",
        "x86_64-unknown-uefi",
        "x86_64-fortanix-unknown-sgx",
        "nvptx64-nvidia-cuda",
        # Bare metal
        "aarch64-unknown-none",
        "aarch64-unknown-none-softfloat",
        "armv7a-none-eabi",
        "armv7a-none-eabihf",
        "armv7r-none-eabi",
        "armv7r-none-eabihf",
        "armv8r-none-eabihf",
        "loongarch64-unknown-none",
        "loongarch64-unknown-none-softfloat",
        "riscv32i-unknown-none-elf",
        "riscv32im-unknown-none-elf",
        "riscv32imac-unknown-none-elf",
        "riscv32imafc-unknown-none-elf",
        "riscv32imc-unknown-none-elf",
        "riscv64gc-unknown-none-elf",
        "riscv64imac-unknown-none-elf",
        "thumbv6m-none-eabi",
        "thumbv7em-none-eabi",
        "thumbv7em-none-eabihf",
        "thumbv7m-none-eabi",
        "thumbv8m.base-none-eabi",
        "thumbv8m.main-none-eabi",
        "thumbv8m.main-none-eabihf",
        "x86_64-unknown-none",
    }
)

MAX_TRIPLE_LENGTH = 64

# Parts are lowercase alphanumerics and '_', joined by single dots ("thumbv8m.main"), so "..",
# a leading or trailing dot, '/', whitespace and shell metacharacters can never get through.
_PART = r"[a-z0-9_]+(?:\.[a-z0-9_]+)*"
_TRIPLE_SYNTAX = re.compile(rf"{_PART}(?:-{_PART}){{1,3}}")

# rustc leaves the vendor out of some names ("aarch64-linux-android", "thumbv7em-none-eabihf",
# "wasm32-wasip1-threads"); a second part that is one of these is the operating system.
_VENDORLESS_OSES = frozenset({"linux", "none", "wasip1", "wasip2"})

_TRIPLE_HINT = (
    "a target triple looks like x86_64-unknown-linux-gnu: lowercase "
    "arch-vendor-os[-env] parts joined by '-' (see `rustc --print target-list`)"
)


@dataclass(frozen=True)
class Triple:
    """A target triple split into its parts; `vendor` and `env` are "" when the name has none."""

    arch: str
    vendor: str
    os: str
    env: str = ""

    @classmethod
    def parse(cls, text: str) -> Triple:
        """Split a well-formed triple without asking whether rustc knows it.

        Raises UsageError for text that is not shaped like a triple, so callers that accept
        custom targets still never see hostile input.
        """
        _check_syntax(text)
        parts = text.split("-")
        if len(parts) == 2:
            return cls(parts[0], "", parts[1])
        if len(parts) == 3 and parts[1] in _VENDORLESS_OSES:
            return cls(parts[0], "", parts[1], parts[2])
        return cls(*parts)

    def __str__(self) -> str:
        return "-".join(part for part in (self.arch, self.vendor, self.os, self.env) if part)


def validate_triple(text: str) -> Triple:
    """Accept a triple rustc ships a standard library for, refusing anything else with a hint."""
    triple = Triple.parse(text)
    if text not in KNOWN_TARGETS:
        raise UsageError(f"unknown target {text!r}", hint=_suggest(text))
    return triple


def _check_syntax(text: str) -> None:
    """Refuse empty, oversized and malformed text; nothing is stripped or lowercased silently."""
    if not text:
        raise UsageError("empty target triple", hint=_TRIPLE_HINT)
    if len(text) > MAX_TRIPLE_LENGTH:
        raise UsageError(
            f"target triple is too long ({len(text)} characters, at most {MAX_TRIPLE_LENGTH})",
            hint=_TRIPLE_HINT,
        )
    if not _TRIPLE_SYNTAX.fullmatch(text):
        raise UsageError(f"invalid target triple {text!r}", hint=_TRIPLE_HINT)


def _suggest(text: str) -> str:
    """Name the closest known target (only one: a list of near-misses reads as noise)."""
    matches = difflib.get_close_matches(text, sorted(KNOWN_TARGETS), n=1)
    if not matches:
        return "run `rustup target list` to see the targets with a prebuilt standard library"
    return f"did you mean {matches[0]}?"
