"""The glibc a Linux binary needs, as data: the floor a user chooses, and what an ELF file asks for.

A Rust binary cross-built for a `*-linux-gnu` target links against the build image's glibc
(Debian trixie, 2.41) and then asks for symbols such as `pidfd_spawnp@GLIBC_2.39`: it builds
fine and does not start on Debian 12 or RHEL 8. So the user chooses a floor, the lowest glibc the
binary must run on; the build links against that floor (cargo-zigbuild's
`<triple>.<major>.<minor>` syntax), and every artifact's symbol versions are read back to check
that the promise holds. Reading uses pyelftools, the library made for ELF, on the artifact as
it is: nothing is run.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runtimes.errors import UsageError, XcargoError
from runtimes.targets import Triple

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

_MAX_TEXT = 32
_SHOWN = 40
_DETAIL = 120
_NAMED_SYMBOLS = 5
# Two or three parts of ASCII digits (`\d` takes fullwidth ones), no leading zeros: 2.2.5.
_VERSION_SYNTAX = re.compile(r"(?:0|[1-9][0-9]{0,3})(?:\.(?:0|[1-9][0-9]{0,3})){1,2}")
# The suffix cargo-zigbuild reads after a triple; anything else after the env is malformed.
_SUFFIX_SYNTAX = re.compile(r"[0-9][0-9.]*")
_ELF_MAGIC = b"\x7fELF"
# Versions glibc's loader checks that no symbol carries: a binary linked with
# `-z pack-relative-relocs` asks for GLIBC_ABI_DT_RELR, which glibc has since 2.36.
_FEATURE_VERSIONS = {"GLIBC_ABI_DT_RELR": (2, 36)}


@dataclass(frozen=True, order=True)
class GlibcVersion:
    """A glibc version as its symbol versions spell it: 2.2.5, 2.17, 2.39 (compared by parts)."""

    parts: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> GlibcVersion:
        """Read "2.28" or "2.2.5" exactly: no spaces, signs, prefixes or non-ASCII digits."""
        if len(text) > _MAX_TEXT or not _VERSION_SYNTAX.fullmatch(text):
            raise UsageError(
                f"{_shown(text)} is not a glibc version",
                hint='a glibc version is numbers joined by dots, e.g. "2.28"',
            )
        return cls(tuple(int(part) for part in text.split(".")))

    def __str__(self) -> str:
        return ".".join(str(part) for part in self.parts)


# The glibc of RHEL 8, Debian 10 and Ubuntu 20.04: binaries built against it start on those
# and every newer release, which covers the servers still supported today.
DEFAULT_FLOOR = GlibcVersion((2, 28))
# The lowest glibc cargo-zigbuild (zig) can link against.
LOWEST_FLOOR = GlibcVersion((2, 17))
# The glibc of Debian trixie, the build images' base: a higher floor could not be linked.
NEWEST_FLOOR = GlibcVersion((2, 41))


@dataclass(frozen=True)
class ArchitectureFloor:
    """An architecture whose binaries cannot be linked against glibcs below `version`."""

    version: GlibcVersion
    reason: str


# Found by linking the fixture crate with zig at lower floors; every other architecture links
# down to LOWEST_FLOOR.
ARCHITECTURE_FLOORS = {
    "powerpc64le": ArchitectureFloor(
        GlibcVersion((2, 32)),
        "glibc 2.32 is the first with the IEEE 128-bit long double functions "
        "(__fprintfieee128…) that zig's libunwind calls on powerpc64le",
    ),
    "riscv64gc": ArchitectureFloor(
        GlibcVersion((2, 27)), "glibc 2.27 is the first release for riscv64"
    ),
}


def architecture_floor(triple: str) -> ArchitectureFloor | None:
    """The lowest floor a target's architecture can be linked at, when it is above zig's own."""
    return ARCHITECTURE_FLOORS.get(Triple.parse(triple).arch)


_FLOOR_HINT = (
    f"write the floor as MAJOR.MINOR in quotes, from {LOWEST_FLOOR} to {NEWEST_FLOOR}, "
    f'e.g. glibc = "{DEFAULT_FLOOR}"'
)


def parse_floor(text: str) -> GlibcVersion:
    """A floor the build images and zig can honour, written MAJOR.MINOR ("2.28").

    "2.28.1" is refused rather than rounded: glibc's point releases add no symbol versions, so
    a third part can only be a mistake.
    """
    try:
        version = GlibcVersion.parse(text)
    except UsageError:
        version = None
    if version is None or len(version.parts) != 2:
        raise UsageError(f"{_shown(text)} is not a glibc floor", hint=_FLOOR_HINT)
    if version < LOWEST_FLOOR:
        raise UsageError(
            f"glibc {version} is below {LOWEST_FLOOR}, the lowest zig can link against",
            hint=_FLOOR_HINT,
        )
    if version > NEWEST_FLOOR:
        raise UsageError(
            f"glibc {version} is newer than {NEWEST_FLOOR}, the glibc of the build images",
            hint=_FLOOR_HINT,
        )
    return version


def takes_floor(triple: str) -> bool:
    """Whether a glibc floor applies: a Linux target whose env is glibc's (gnu, gnueabihf, ...).

    Raises UsageError for text not shaped like a triple. A triple that still carries a
    floor suffix ("...-linux-gnu.2.17") does not take another one.
    """
    return _links_glibc(Triple.parse(triple))


def split_floor_suffix(text: str) -> tuple[str, GlibcVersion | None]:
    """Split cargo-zigbuild's `aarch64-unknown-linux-gnu.2.17` into the triple and its floor.

    Text with no suffix comes back unchanged with None, dots of a triple's own included
    (`thumbv8m.main-none-eabi`); so does text that is no triple at all, for the triple check to
    refuse. A malformed suffix on a linux-gnu triple, and a version suffix on a target that
    does not link glibc (musl, windows-gnu), are UsageErrors naming the right form.
    """
    head, dash, last = text.rpartition("-")
    env, dot, suffix = last.partition(".")
    if not dash or not dot:
        return text, None
    triple = f"{head}-{env}"
    try:
        parsed = Triple.parse(triple)
    except UsageError:
        return text, None
    if not _links_glibc(parsed):
        if _SUFFIX_SYNTAX.fullmatch(suffix):
            raise UsageError(
                f"{_shown(text)}: {triple} does not link glibc, so it takes no glibc floor",
                hint=f"write the target as {triple}; a floor applies to *-linux-gnu* targets",
            )
        return text, None
    try:
        return triple, parse_floor(suffix)
    except UsageError as err:
        raise UsageError(
            f"{_shown(text)}: {err.message}",
            hint=(
                f"write the target as {triple}.MAJOR.MINOR with a floor from {LOWEST_FLOOR} "
                f"to {NEWEST_FLOOR}, e.g. {triple}.{DEFAULT_FLOOR}, or {triple} alone"
            ),
        ) from err


class UnreadableElf(XcargoError):
    """An ELF file whose symbol versions cannot be read: truncated, corrupt or unreadable.

    An artifact copied out of a build is whole unless something went wrong on the way, so this
    is the engine's kind of error (the default), and it names the file.
    """


@dataclass(frozen=True)
class GlibcNeeds:
    """The GLIBC_* versions an ELF file asks for, and which undefined symbols ask for each.

    A version no symbol carries (a loader feature such as GLIBC_ABI_DT_RELR) has an empty tuple.
    """

    highest: GlibcVersion
    symbols: dict[GlibcVersion, tuple[str, ...]]

    def above(self, floor: GlibcVersion) -> list[tuple[str, GlibcVersion]]:
        """The symbols that need a glibc newer than the floor, highest version first."""
        return [
            (name, version)
            for version in sorted(self.symbols, reverse=True)
            if version > floor
            for name in self.symbols[version]
        ]

    def describe_above(self, floor: GlibcVersion) -> str | None:
        """A short message for a build log, or None when the file keeps to the floor:
        "needs GLIBC_2.39 (pidfd_getpid, pidfd_spawnp), above its floor 2.28".
        """
        versions = [version for version in sorted(self.symbols, reverse=True) if version > floor]
        if not versions:
            return None
        parts, named = [], 0
        for version in versions:
            if not self.symbols[version]:
                parts.append(f"GLIBC_{version} (a loader feature, not a symbol)")
            elif named < _NAMED_SYMBOLS:
                names = self.symbols[version][: _NAMED_SYMBOLS - named]
                named += len(names)
                parts.append(f"GLIBC_{version} ({', '.join(names)})")
        rest = len(self.above(floor)) - named
        more = f" and {rest} more symbol{'s' if rest > 1 else ''}" if rest else ""
        return f"needs {', '.join(parts)}{more}, above its floor {floor}"


def needed_glibc(path: Path) -> GlibcNeeds | None:
    """The glibc versions an ELF file needs, read from its version requirements (.gnu.version_r)
    and the versions of its undefined dynamic symbols (.gnu.version).

    None when the file is not ELF (an empty file included), has no version requirements (a
    static binary) or needs no GLIBC version (a musl binary). A truncated or corrupt ELF
    file, one that cannot be opened, and one stripped of the section headers that locate its
    versions raise UnreadableElf naming the file: None would read as "needs nothing".
    """
    # pyelftools is imported here, when a file is read: a warm rebuild whose artifacts were
    # not copied again reads none, and a CLI run does not pay for its import.
    from elftools.common.exceptions import ELFError
    from elftools.construct import ConstructError
    from elftools.elf.elffile import ELFFile

    try:
        with path.open("rb") as stream:
            if stream.read(len(_ELF_MAGIC)) != _ELF_MAGIC:
                return None
            stream.seek(0)
            return _read_needs(ELFFile(stream), path)
    except OSError as err:
        raise UnreadableElf(f"cannot read {path}: {err.strerror or err}") from err
    except (ELFError, ConstructError, struct.error, ValueError, IndexError, KeyError) as err:
        # pyelftools reports a file cut short or corrupt in all of these ways.
        raise UnreadableElf(
            f"{path} is a truncated or corrupt ELF file ({str(err)[:_DETAIL]})",
            hint="copy the artifact again; rebuild it if the copy is damaged too",
        ) from err


def _read_needs(elf: ELFFile, path: Path) -> GlibcNeeds | None:
    sections = list(elf.iter_sections())
    if not sections and any(seg["p_type"] == "PT_DYNAMIC" for seg in elf.iter_segments()):
        raise UnreadableElf(
            f"{path} has no section headers, so its symbol versions cannot be read",
            hint="check the artifact before it is stripped with tools such as sstrip",
        )
    from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection

    required: dict[int, GlibcVersion] = {}
    symbols: dict[GlibcVersion, set[str]] = {}
    for section in sections:
        if isinstance(section, GNUVerNeedSection):
            for _needed, auxiliaries in section.iter_versions():
                for auxiliary in auxiliaries:
                    version = _glibc_version(auxiliary.name)
                    if version is not None:
                        required[auxiliary["vna_other"]] = version
                        symbols.setdefault(version, set())
    if not symbols:
        return None
    for section in sections:
        if isinstance(section, GNUVerSymSection):
            table = elf.get_section(section["sh_link"])  # .dynsym, entry for entry
            for symbol, entry in zip(table.iter_symbols(), section.iter_symbols(), strict=True):
                ndx = entry["ndx"]  # pyelftools names 0 and 1 (local, global): no version
                version = required.get(ndx & 0x7FFF) if isinstance(ndx, int) else None
                if version is not None and symbol["st_shndx"] == "SHN_UNDEF":
                    symbols[version].add(symbol.name)
    return GlibcNeeds(
        highest=max(symbols),
        symbols={version: tuple(sorted(names)) for version, names in sorted(symbols.items())},
    )


def _glibc_version(name: str) -> GlibcVersion | None:
    """GLIBC_2.17 → 2.17; GLIBC_PRIVATE and other libraries' versions → None."""
    if name in _FEATURE_VERSIONS:
        return GlibcVersion(_FEATURE_VERSIONS[name])
    if not name.startswith("GLIBC_"):
        return None
    try:
        return GlibcVersion.parse(name.removeprefix("GLIBC_"))
    except UsageError:
        return None


def _links_glibc(triple: Triple) -> bool:
    return triple.os == "linux" and re.fullmatch(r"gnu[a-z0-9_]*", triple.env) is not None


def _shown(text: str) -> str:
    return repr(text[:_SHOWN]) + ("..." if len(text) > _SHOWN else "")
