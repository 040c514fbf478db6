"""How a build in a container links: with zig, against the glibc floor its artifacts must run
on, or with the image's own GNU toolchain.

Debian trixie's images link against glibc 2.41, whose binaries need symbols (GLIBC_2.39's
`pidfd_spawnp`…) that Debian 12, Ubuntu 22.04 and RHEL 8/9 lack. cargo-zigbuild links against
any older glibc instead, C dependencies built by the `cc` crate included, so every
`*-linux-gnu` target gets a floor (2.28 unless someone chose another) and zig meets it. zig
also brings musl's C library, so a `*-linux-musl` target links with it into a static binary.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtimes.config import XcargoConfig
from runtimes.errors import UsageError
from runtimes.glibc import (
    DEFAULT_FLOOR,
    NEWEST_FLOOR,
    GlibcVersion,
    architecture_floor,
    takes_floor,
)
from runtimes.placement import CONTAINER, ZIG, StrategyChoice
from runtimes.targets import Triple


@dataclass(frozen=True)
class Floor:
    """The oldest glibc a build's artifacts must run on, and who chose it."""

    version: GlibcVersion
    where: str


def choose_floor(
    triple: str,
    config: XcargoConfig,
    *,
    named: GlibcVersion | None = None,
    named_by: str = "the target's suffix",
    default: GlibcVersion = DEFAULT_FLOOR,
    default_by: str = "the default: RHEL 8, Debian 10, Ubuntu 20.04 and newer",
) -> Floor | None:
    """The floor of a target: the one named with the build (a `.2.17` suffix), else the
    target's `glibc` in xcargo.toml (or its `zig` in Cross.toml), else the project's, else
    `default` (raised to the lowest its architecture links at). None for a target that does
    not link glibc (musl, Windows, bare metal); a floor someone chose below its
    architecture's lowest is refused.
    """
    if not takes_floor(triple):
        return None
    lowest = architecture_floor(triple)
    if named is not None:
        chosen = Floor(named, named_by)
    elif (found := config.setting_for(triple, "glibc")) is not None:
        chosen = Floor(*found)
    elif lowest is not None and default < lowest.version:
        return Floor(lowest.version, f"{default_by}, raised for {triple}: {lowest.reason}")
    else:
        return Floor(default, default_by)
    if lowest is not None and chosen.version < lowest.version:
        raise UsageError(
            f"glibc floor {chosen.version} ({chosen.where}) is below {lowest.version}, the "
            f"lowest {triple} can be linked at: {lowest.reason}",
            hint=f"ask for {lowest.version} or higher, or leave the floor to the default",
        )
    return chosen


def choose_linking(
    placement: StrategyChoice,
    floor: Floor | None,
    *,
    triple: str,
    image: str,
    zig: str | None,
) -> StrategyChoice:
    """Zig when the floor is below the image's glibc and the image has zig (every image xcargo
    makes does); else the image's own linker, whose artifacts are still checked against the
    floor afterwards. A musl target links with zig whenever the image has it.
    """
    if floor is None:
        if zig and Triple.parse(triple).env.startswith("musl"):
            return StrategyChoice(
                ZIG,
                f"{placement.reason}; {triple}: linked by zig {zig} (cargo-zigbuild) with its "
                "own musl C library, into a static binary",
            )
        return placement
    if floor.version >= NEWEST_FLOOR:
        return StrategyChoice(
            CONTAINER,
            f"{placement.reason}; glibc floor {floor.version} ({floor.where}) is the image's "
            "own glibc: its GNU linker",
        )
    if zig:
        return StrategyChoice(
            ZIG,
            f"{placement.reason}; glibc floor {floor.version} ({floor.where}): linked by zig "
            f"{zig} (cargo-zigbuild), below the image's glibc {NEWEST_FLOOR}",
        )
    return StrategyChoice(
        CONTAINER,
        f"{placement.reason}; {image} has no zig (not an image xcargo made): its own linker, "
        f"and the artifacts are checked against the glibc floor {floor.version}",
    )
