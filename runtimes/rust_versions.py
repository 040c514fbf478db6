"""Rust versions as people and Cargo write them: "1.96", "1.96.0", a `rust-version` field.

One parser for every place a version comes from (--toolchain, xcargo.toml, rust-toolchain.toml,
a crate's `rust-version`, an image's rustc label), so that "1.96" and "1.96.0" compare the way
cargo compares them: a requirement without a patch accepts every patch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtimes.errors import UsageError

_VERSION = re.compile(r"(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})(?:\.(0|[1-9][0-9]{0,3}))?")


@dataclass(frozen=True, order=True)
class RustVersion:
    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> RustVersion:
        """Parse "1.96" or "1.96.1"; a rustc label such as "1.96.0 (ac68faa20 …)" too."""
        found = _VERSION.fullmatch(text.strip().split(" ", 1)[0]) if isinstance(text, str) else None
        if found is None:
            raise UsageError(
                f"{str(text)[:40]!r} is not a Rust version",
                hint='write a version as MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. "1.96"',
            )
        major, minor, patch = found.groups()
        return cls(int(major), int(minor), int(patch or 0))

    @property
    def channel(self) -> str:
        """The MAJOR.MINOR a toolchain image is named by."""
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"
