"""Which Rust toolchain a build uses: decided here, once, as a value that says which one and
why, so that the build records it and the CLI, the page and the API can tell it.

The order: the build's own (`--toolchain`, the API's or the dashboard's field); xcargo.toml (the
target's `toolchain`, then `[container] toolchain`); the project's `rust-toolchain.toml` or
`rust-toolchain`; else the server's pinned default, else the newest available. "stable" means
the newest available. Whatever is chosen must meet the `rust-version` of the workspace's
packages, checked before any container starts.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass

from runtimes.config import XcargoConfig
from runtimes.errors import UsageError
from runtimes.project import CargoProject, RustRequirement, rust_requirements
from runtimes.rust_versions import RustVersion
from runtimes.toolchains import TOOLCHAINS

STABLE = "stable"
_TOOLCHAIN_FILES = ("rust-toolchain.toml", "rust-toolchain")
_MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class ToolchainChoice:
    channel: str
    reason: str


@dataclass(frozen=True)
class _Request:
    """A toolchain someone asked for, and where they asked."""

    channel: str
    where: str


def choose_toolchain(
    project: CargoProject,
    config: XcargoConfig,
    triple: str,
    *,
    available: Sequence[str],
    named: str | None = None,
    named_by: str = "the build",
    default: str | None = None,
) -> ToolchainChoice:
    """The toolchain for a build among `available` channels (made here or makeable)."""
    requirements = rust_requirements(project)
    request = _request(project, config, triple, named=named, named_by=named_by, default=default)
    newest = max(available, key=RustVersion.parse, default=None)
    if request is None or request.channel == STABLE:
        if newest is None:
            raise UsageError("no Rust toolchain is available", hint=_how_to_add(triple))
        _check(newest, requirements, "the newest available", available, triple)
        where = request.where if request else "nothing asked for another"
        return ToolchainChoice(newest, f"the newest available ({where})")
    channel = _channel(request)
    if channel not in available:
        raise UsageError(
            f"toolchain {channel} ({request.where}) is not available here "
            f"(available: {', '.join(available) or 'none'})",
            hint=_how_to_add(triple, channel),
        )
    _check(channel, requirements, request.where, available, triple)
    return ToolchainChoice(channel, request.where)


def check_requirements(rustc: str, requirements: Sequence[RustRequirement], where: str) -> None:
    """Refuse a toolchain older than a package's `rust-version` (an image's own rustc too)."""
    version = RustVersion.parse(rustc)
    too_new = [
        item for item in requirements if (item.version.major, item.version.minor) > _key(version)
    ]
    if too_new:
        needed = max(too_new, key=lambda item: item.version)
        raise UsageError(
            f"{needed.package} needs rustc {needed.version.channel} (its rust-version), "
            f"but {where} is older",
        )


def _check(
    channel: str,
    requirements: Sequence[RustRequirement],
    where: str,
    available: Sequence[str],
    triple: str,
) -> None:
    try:
        check_requirements(channel, requirements, f"toolchain {channel} ({where})")
    except UsageError as error:
        needed = max(requirements, key=lambda item: item.version).version
        meeting = [c for c in available if _key(RustVersion.parse(c)) >= _key(needed)]
        hint = (
            f"choose one that does: {', '.join(meeting)} (--toolchain, or xcargo.toml's "
            "[container] toolchain)"
            if meeting
            else f"available here: {', '.join(available) or 'none'}; {_how_to_add(triple)}"
        )
        raise UsageError(error.message, hint=hint) from None


def _key(version: RustVersion) -> tuple[int, int]:
    return (version.major, version.minor)


def _how_to_add(triple: str, channel: str | None = None) -> str:
    makeable = ", ".join(TOOLCHAINS)
    wanted = channel or "VERSION"
    return (
        f"Debian offers {makeable}: `xcargo images bootstrap --toolchain {wanted} --target "
        f"{triple}` makes one (on a server, XCARGO_TOOLCHAINS lists the ones it offers)"
    )


def _channel(request: _Request) -> str:
    try:
        return RustVersion.parse(request.channel).channel
    except UsageError:
        raise UsageError(
            f"toolchain {request.channel[:40]!r} ({request.where}) is not one xcargo can use",
            hint=f"Debian offers stable releases: {', '.join(TOOLCHAINS)}, or say {STABLE!r}",
        ) from None


def _request(
    project: CargoProject,
    config: XcargoConfig,
    triple: str,
    *,
    named: str | None,
    named_by: str,
    default: str | None,
) -> _Request | None:
    if named:
        return _Request(named, f"named by {named_by}")
    if (found := config.setting_for(triple, "toolchain")) is not None:
        return _Request(*found)
    if (from_file := _toolchain_file(project)) is not None:
        return from_file
    if default:
        return _Request(default, "the server's default toolchain")
    return None


def _toolchain_file(project: CargoProject) -> _Request | None:
    """`rust-toolchain.toml`'s `[toolchain] channel`, or the old one-line `rust-toolchain`."""
    for name in _TOOLCHAIN_FILES:
        path = project.root / name
        if not path.is_file():
            continue
        text = path.read_bytes()[:_MAX_FILE_BYTES].decode("utf-8", "replace")
        try:
            table = tomllib.loads(text).get("toolchain")
        except tomllib.TOMLDecodeError:
            table = {"channel": text.strip()} if "\n" not in text.strip() else None
        channel = table.get("channel") if isinstance(table, dict) else None
        if not isinstance(channel, str) or not channel:
            raise UsageError(
                f"{name} names no channel",
                hint='write [toolchain] channel = "1.96" (or "stable") in rust-toolchain.toml',
            )
        return _Request(channel, f"{name}: channel {channel[:40]}")
    return None
