"""The typed configuration: what xcargo.toml may hold, checked strictly (`true` is not `"yes"`),
paths kept inside the project, triples and images well formed. Every field check raises a
located pydantic error, so that every problem in a file is reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from runtimes.build_env import check_env_name, check_env_value
from runtimes.config.notices import ConfigNotice
from runtimes.engine import RuntimeChoice
from runtimes.errors import UsageError
from runtimes.glibc import GlibcVersion, parse_floor
from runtimes.images.custom import check_build_arg_name, check_build_arg_value
from runtimes.images.references import ImageReference, parse_image_reference, validate_registry_host
from runtimes.rust_versions import RustVersion
from runtimes.smoke import SmokePolicy
from runtimes.targets import validate_triple
from runtimes.use_when import UseWhen

_SHOWN_LENGTH = 60
# Podman's NameRegex, which `podman machine init` checks a machine name against.
_MACHINE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")

_Checked = TypeVar("_Checked")


# --- Field checks. They raise PydanticCustomError so that every problem in the file is
# --- collected with its location, instead of stopping at the first one.


def _refusal(message: str, hint: str | None = None) -> PydanticCustomError:
    """A problem pydantic reports with its location; the message and hint reach ConfigError."""
    return PydanticCustomError("xcargo", "{message}", {"message": message, "hint": hint})


def shown(value: object) -> str:
    """Describe a TOML value in a message, quoting strings safely and cutting long ones."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        cut = value[:_SHOWN_LENGTH]
        return repr(cut) + ("..." if len(value) > _SHOWN_LENGTH else "")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return "a date or time"


def _project_dir(info: ValidationInfo) -> Path:
    """The resolved project directory the loader validates against (the cwd when built by hand)."""
    context = info.context or {}
    return context.get("project_dir") or Path.cwd().resolve()


def _resolved_path(value: object, info: ValidationInfo) -> Path:
    """Expand `~`, resolve relative to the project, and follow symlinks to the real location."""
    if not isinstance(value, str | Path):
        raise _refusal(f"expected a path string, got {shown(value)}")
    text = str(value)
    if not text:
        raise _refusal("expected a path, got an empty string")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise _refusal(f"path {shown(text)} contains a control character")
    try:
        return (_project_dir(info) / Path(text).expanduser()).resolve()
    except (OSError, RuntimeError) as err:  # an unknown ~user, a symlink loop
        raise _refusal(f"path {shown(text)} cannot be resolved") from err


def _inside_project(value: object, info: ValidationInfo) -> Path:
    """Dockerfiles and build contexts are read by the build, so they must not leave the project."""
    path = _resolved_path(value, info)
    if not path.is_relative_to(_project_dir(info)):
        raise _refusal(
            f"{shown(str(value))} is outside the project directory",
            hint="use a path inside the project, relative to its root: ./docker/Dockerfile",
        )
    return path


def _cache_dir(value: object, info: ValidationInfo) -> Path:
    """Caches are written by builds, so they must not be `/` nor land in the project's sources."""
    path = _resolved_path(value, info)
    if path == Path(path.anchor):
        raise _refusal("a cache directory cannot be the filesystem root")
    if path.is_relative_to(_project_dir(info)):
        raise _refusal(
            f"{shown(str(value))} is inside the project directory",
            hint="keep caches outside the sources, e.g. ~/.cache/xcargo/cargo-registry",
        )
    return path


def _from_usage_error(check: Callable[[str], _Checked], value: object) -> _Checked:
    """Run a runtimes check on a string and report its UsageError as a located config problem."""
    if not isinstance(value, str):
        raise _refusal(f"expected a string, got {shown(value)}")
    try:
        return check(value)
    except UsageError as err:
        raise _refusal(err.message, err.hint) from err


def _target_key(value: object) -> str:
    """A `[targets."<triple>"]` name must be a triple rustc knows; it is kept as written."""
    return str(_from_usage_error(validate_triple, value))


def _registry_host(value: object) -> str:
    return _from_usage_error(validate_registry_host, value)


def _use_when(value: object) -> UseWhen:
    """A use_when expression, checked once; the located key already says "use_when"."""
    if isinstance(value, UseWhen):
        return value
    return _from_usage_error(lambda text: UseWhen.parse(text, prefix=""), value)


def _toolchain(value: object) -> str:
    """A toolchain is "stable" or a Rust version ("1.96"); kept as written."""
    if value == "stable":
        return "stable"
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise _refusal(
            f"expected a string, got {shown(value)}", hint=f'quote it: toolchain = "{value}"'
        )
    return str(_from_usage_error(lambda text: RustVersion.parse(text) and text, value))


def _glibc_floor(value: object) -> GlibcVersion:
    """A glibc floor is a quoted "MAJOR.MINOR": unquoted, TOML reads 2.30 as the number 2.3."""
    if isinstance(value, GlibcVersion):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise _refusal(
            f"expected a string, got {shown(value)}",
            hint=f'quote it: glibc = "{value}" (unquoted, TOML reads 2.30 as the number 2.3)',
        )
    return _from_usage_error(parse_floor, value)


def _build_arg_name(name: str) -> str:
    return _from_usage_error(check_build_arg_name, name)


def _build_arg_value(value: object) -> str:
    """Build arguments are strings for Docker; integers and booleans are written out for it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return _from_usage_error(check_build_arg_value, str(value))
    raise _refusal(
        f"expected a string, integer or boolean, got {shown(value)}",
        hint='quote numbers with a dot, e.g. RUST_VERSION = "1.75"',
    )


def _env_value(value: object) -> str:
    """Environment values are strings; integers and booleans are written out as a shell would."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return _from_usage_error(check_env_value, str(value))
    raise _refusal(f"expected a string, integer or boolean, got {shown(value)}")


def _passthrough_entry(value: object) -> str:
    """A name to pass through, or "NAME=VALUE" (cross's way of giving a value with it)."""
    if not isinstance(value, str):
        raise _refusal(f"expected a variable name, got {shown(value)}")
    name, equals, given = value.partition("=")
    _from_usage_error(check_env_name, name)
    if equals:
        _from_usage_error(check_env_value, given)
    return value


_MAX_PRE_BUILD_COMMANDS = 64


def _pre_build(value: object, info: ValidationInfo) -> tuple[str, ...] | Path:
    """Commands run on top of the image into a derived one, or a script of the project (run
    with the target triple as its argument), as cross's pre-build.
    """
    if isinstance(value, str):
        return _inside_project(value, info)
    if not isinstance(value, list | tuple) or not value:
        raise _refusal(
            f"expected an array of commands or a script's path, got {shown(value)}",
            hint='commands: ["apt-get update", "apt-get install --assume-yes libssl-dev"]',
        )
    if len(value) > _MAX_PRE_BUILD_COMMANDS:
        raise _refusal(f"at most {_MAX_PRE_BUILD_COMMANDS} commands, got {len(value)}")
    for command in value:
        if not isinstance(command, str) or not command.strip():
            raise _refusal(f"expected a command, got {shown(command)}")
        if any(char in command for char in "\x00\r\n"):
            raise _refusal(
                "a command must be one line",
                hint="join commands with && in one entry, or run a script of the project",
            )
    return tuple(value)


TargetKey = Annotated[str, PlainValidator(_target_key)]
RegistryHost = Annotated[str, PlainValidator(_registry_host)]
Toolchain = Annotated[str, PlainValidator(_toolchain)]
GlibcFloor = Annotated[GlibcVersion, PlainValidator(_glibc_floor)]
UseWhenExpression = Annotated[UseWhen, PlainValidator(_use_when)]
BuildArgName = Annotated[str, AfterValidator(_build_arg_name)]
BuildArgValue = Annotated[str, PlainValidator(_build_arg_value)]
EnvName = Annotated[str, AfterValidator(lambda name: _from_usage_error(check_env_name, name))]
EnvValue = Annotated[str, PlainValidator(_env_value)]
PassthroughEntry = Annotated[str, PlainValidator(_passthrough_entry)]


# --- The typed configuration.


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CacheConfig(_Frozen):
    """`[container.cache]`: whether builds keep caches, the shared compiler cache, how long a
    target cache keeps what no build uses (runtimes.target_sweep), and host directories kept
    between builds for Cargo's downloads.
    """

    enabled: StrictBool = True
    compiler_cache: StrictBool = True
    target_unused_days: int = Field(default=14, ge=1, le=3650, strict=True)
    registry_path: Path | None = None
    git_path: Path | None = None

    @field_validator("registry_path", "git_path", mode="plain")
    @classmethod
    def _check_cache_dir(cls, value: object, info: ValidationInfo) -> Path | None:
        return None if value is None else _cache_dir(value, info)


class PodmanMachineConfig(_Frozen):
    """`[container.podman_machine]`: the VM Podman needs on macOS (`runtimes.podman_machine`).
    Without a `name`, builds use Podman's default machine and create `podman-machine-default`.
    """

    name: str | None = None
    auto_create: StrictBool = True
    auto_start: StrictBool = True
    cpus: int = Field(default=4, ge=1, le=256, strict=True)
    memory: int = Field(default=4096, ge=512, le=1_048_576, strict=True, description="MB")
    disk_size: int = Field(default=20, ge=5, le=10_000, strict=True, description="GB")

    @field_validator("name", mode="plain")
    @classmethod
    def _check_name(cls, value: object) -> str | None:
        """Podman's own rule for machine names (`podman machine init` refuses others)."""
        if value is None:
            return None
        if not isinstance(value, str):
            raise _refusal(f"expected a machine name (a string), got {shown(value)}")
        if not _MACHINE_NAME.fullmatch(value) or len(value) > 30:
            raise _refusal(
                f"{shown(value)} is not a Podman machine name",
                hint="up to 30 letters, digits, '_', '.' or '-', starting with a letter or digit",
            )
        return value


class EnvConfig(_Frozen):
    """`env`: the variables a build sees. `passthrough` names take their value from where
    xcargo runs (the CLI's environment; on the server, the variables its admins set, never the
    worker's own); `values` are fixed. A target's table adds to the project's and wins.
    """

    passthrough: tuple[PassthroughEntry, ...] = ()
    values: dict[EnvName, EnvValue] = Field(default_factory=dict)


class ContainerConfig(_Frozen):
    """`[container]`: which engine runs builds, and how."""

    runtime: RuntimeChoice = "auto"
    toolchain: Toolchain | None = None
    glibc: GlibcFloor | None = None  # the whole project's floor; a target's own one wins
    use_when: UseWhenExpression | None = None
    smoke: SmokePolicy | None = None  # every target's; a target's own one wins
    cache: CacheConfig = Field(default_factory=CacheConfig)
    image_registry: tuple[RegistryHost, ...] = ("ghcr.io", "docker.io")
    podman_machine: PodmanMachineConfig = Field(default_factory=PodmanMachineConfig)
    env: EnvConfig = Field(default_factory=EnvConfig)

    @field_validator("image_registry")
    @classmethod
    def _no_duplicates(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for host in hosts:
            if host.lower() in seen:
                raise _refusal(f"{shown(host)} is listed more than once")
            seen.add(host.lower())
        return hosts


class TargetContainerConfig(_Frozen):
    """`[targets."<triple>".container]`: the image one target builds in."""

    image: ImageReference | None = None
    toolchain: Toolchain | None = None
    glibc: GlibcFloor | None = None
    use_when: UseWhenExpression | None = None  # wins over [container] use_when
    smoke: SmokePolicy | None = None
    dockerfile: Path | None = None
    context: Path | None = None
    build_args: dict[BuildArgName, BuildArgValue] = Field(default_factory=dict)
    # Commands, or a script of the project, run on top of the image into a derived image.
    pre_build: tuple[str, ...] | Path | None = None
    env: EnvConfig = Field(default_factory=EnvConfig)

    @field_validator("image", mode="plain")
    @classmethod
    def _parse_image(cls, value: object) -> ImageReference | None:
        if value is None or isinstance(value, ImageReference):
            return value
        return _from_usage_error(parse_image_reference, value)

    @field_validator("pre_build", mode="plain")
    @classmethod
    def _check_pre_build(cls, value: object, info: ValidationInfo) -> tuple[str, ...] | Path | None:
        return None if value is None else _pre_build(value, info)

    @field_validator("dockerfile", "context", mode="plain")
    @classmethod
    def _check_inside_project(cls, value: object, info: ValidationInfo) -> Path | None:
        return None if value is None else _inside_project(value, info)


class TargetTable(_Frozen):
    container: TargetContainerConfig = Field(default_factory=TargetContainerConfig)


class Document(_Frozen):
    container: ContainerConfig = Field(default_factory=ContainerConfig)
    targets: dict[TargetKey, TargetTable] = Field(default_factory=dict)


# A target's fields that say which image it builds in: its own image or Dockerfile replaces a
# project-wide one (a Dockerfile under an inherited image would never be built).
IMAGE_KEYS = frozenset({"image", "dockerfile"})


@dataclass(frozen=True)
class DefaultTarget:
    """The target a command builds for when it names none (cross's `default-target`)."""

    triple: str  # as written, a glibc suffix (`.2.17`) included
    where: str  # "Cross.toml: [build] default-target", "environment: CARGO_BUILD_TARGET"


@dataclass(frozen=True)
class XcargoConfig:
    """Everything xcargo-web takes from xcargo.toml and cross-rs's configuration (Cross.toml,
    Cargo.toml's metadata, CROSS_* variables), plus what it had to say about them.
    """

    path: Path | None = None
    container: ContainerConfig = field(default_factory=ContainerConfig)
    targets: dict[str, TargetContainerConfig] = field(default_factory=dict)
    # Per-target settings every target has unless its own table sets them (cross's [build]).
    every_target: TargetContainerConfig = field(default_factory=TargetContainerConfig)
    default_target: DefaultTarget | None = None
    # Where the settings that did not come from xcargo.toml were set, by their xcargo.toml key
    # path: ("targets", triple, "container", "glibc") -> "Cross.toml: [target.<triple>] zig".
    # An "every_target" path stands for a key of `every_target`.
    origins: dict[tuple[str, ...], str] = field(default_factory=dict)
    warnings: tuple[ConfigNotice, ...] = ()
    unsupported: tuple[ConfigNotice, ...] = ()

    def for_target(self, triple: str) -> TargetContainerConfig:
        """The settings for one target: its own table's, over `every_target`'s; a target
        nothing mentions gets `every_target` (the defaults when that is empty).
        """
        own = self.targets.get(triple)
        inherited = self.every_target.model_fields_set
        if own is None:
            return self.every_target
        if not inherited:
            return own
        if IMAGE_KEYS & own.model_fields_set:
            inherited = inherited - IMAGE_KEYS
        update = {name: getattr(own, name) for name in own.model_fields_set}
        if "build_args" in own.model_fields_set:  # as cross merges them: the target's win
            update["build_args"] = {**self.every_target.build_args, **own.build_args}
        base = self.every_target.model_construct(
            _fields_set=set(inherited),
            **{name: getattr(self.every_target, name) for name in inherited},
        )
        return base.model_copy(update=update)

    def env_for(self, triple: str) -> EnvConfig:
        """The project's `env` with the target's added over it."""
        project, own = self.container.env, self.for_target(triple).env
        return EnvConfig(
            passthrough=(*project.passthrough, *own.passthrough),
            values={**project.values, **own.values},
        )

    def setting_for(self, triple: str, key: str) -> tuple[Any, str] | None:
        """A setting both tables may hold (toolchain, glibc, use_when, smoke) that decides for one
        target, and where it was set (`where`): the target's own, else the project's, else None
        (the caller's default).
        """
        if (own := getattr(self.for_target(triple), key)) is not None:
            return own, self.where(triple, key)
        if (project := getattr(self.container, key)) is not None:
            return project, self.where(triple, key)
        return None

    def where(self, triple: str, key: str) -> str:
        """Where the `key` that `for_target(triple)`, else `[container]`, holds was set, as a
        person finds it: 'xcargo.toml: [targets."<triple>".container] glibc',
        "Cross.toml: [target.<triple>] zig", "environment: CROSS_BUILD_ZIG_VERSION".
        """
        own = self.targets.get(triple)
        if own is not None and key in own.model_fields_set:
            path: tuple[str, ...] = ("targets", triple, "container", key)
            return self.origins.get(path, f'xcargo.toml: [targets."{triple}".container] {key}')
        if key in self.for_target(triple).model_fields_set:
            return self.origins.get(("every_target", key), f"every target's {key}")
        return self.origins.get(("container", key), f"xcargo.toml: [container] {key}")
