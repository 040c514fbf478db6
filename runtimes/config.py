"""Load `xcargo.toml`: the `[container]` and `[targets."<triple>".container]` tables.

The file is shared with the rest of xcargo, so keys this server does not use are reported as
warnings instead of failing the build, and keys it accepts but cannot act on yet are reported as
"unsupported" notices that say what happens instead. Everything that is used is checked strictly
(`true` is not `"yes"`) and located by file, line and key, because the file may come from an
untrusted project: paths may not leave the project, triples and images must be well formed.

Typing and range checks are pydantic models; the loader turns pydantic's errors into messages a
person can act on.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from runtimes.errors import ConfigError, UsageError
from runtimes.references import ImageReference, parse_image_reference, validate_registry_host
from runtimes.targets import validate_triple

CONFIG_FILE_NAME = "xcargo.toml"
MAX_CONFIG_BYTES = 1024 * 1024

_BUILD_ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOML_POSITION = re.compile(r" \(at line (\d+), column (\d+)\)$")
_SHOWN_LENGTH = 60

_Checked = TypeVar("_Checked")


@dataclass(frozen=True)
class ConfigNotice:
    """A located remark about the file: an ignored key, or a key that is not acted on yet."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}"


# --- Field checks. They raise PydanticCustomError so that every problem in the file is
# --- collected with its location, instead of stopping at the first one.


def _refusal(message: str, hint: str | None = None) -> PydanticCustomError:
    """A problem pydantic reports with its location; the message and hint reach ConfigError."""
    return PydanticCustomError("xcargo", "{message}", {"message": message, "hint": hint})


def _shown(value: object) -> str:
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
        raise _refusal(f"expected a path string, got {_shown(value)}")
    text = str(value)
    if not text:
        raise _refusal("expected a path, got an empty string")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise _refusal(f"path {_shown(text)} contains a control character")
    try:
        return (_project_dir(info) / Path(text).expanduser()).resolve()
    except (OSError, RuntimeError) as err:  # an unknown ~user, a symlink loop
        raise _refusal(f"path {_shown(text)} cannot be resolved") from err


def _inside_project(value: object, info: ValidationInfo) -> Path:
    """Dockerfiles and build contexts are read by the build, so they must not leave the project."""
    path = _resolved_path(value, info)
    if not path.is_relative_to(_project_dir(info)):
        raise _refusal(
            f"{_shown(str(value))} is outside the project directory",
            hint="use a path inside the project, relative to xcargo.toml: ./docker/Dockerfile",
        )
    return path


def _cache_dir(value: object, info: ValidationInfo) -> Path:
    """Caches are written by builds, so they must not be `/` nor land in the project's sources."""
    path = _resolved_path(value, info)
    if path == Path(path.anchor):
        raise _refusal("a cache directory cannot be the filesystem root")
    if path.is_relative_to(_project_dir(info)):
        raise _refusal(
            f"{_shown(str(value))} is inside the project directory",
            hint="keep caches outside the sources, e.g. ~/.cache/xcargo/cargo-registry",
        )
    return path


def _from_usage_error(check: Callable[[str], _Checked], value: object) -> _Checked:
    """Run a runtimes check on a string and report its UsageError as a located config problem."""
    if not isinstance(value, str):
        raise _refusal(f"expected a string, got {_shown(value)}")
    try:
        return check(value)
    except UsageError as err:
        raise _refusal(err.message, err.hint) from err


def _target_key(value: object) -> str:
    """A `[targets."<triple>"]` name must be a triple rustc knows; it is kept as written."""
    return str(_from_usage_error(validate_triple, value))


def _registry_host(value: object) -> str:
    return _from_usage_error(validate_registry_host, value)


def _build_arg_name(name: str) -> str:
    if not _BUILD_ARG_NAME.fullmatch(name):
        raise _refusal(
            f"{_shown(name)} is not a valid build argument name",
            hint="use letters, digits and '_', not starting with a digit, e.g. RUST_VERSION",
        )
    return name


def _build_arg_value(value: object) -> str:
    """Build arguments are strings for Docker; integers and booleans are written out for it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        text = str(value)
        if "\x00" in text:
            raise _refusal("a build argument cannot contain a NUL character")
        return text
    raise _refusal(
        f"expected a string, integer or boolean, got {_shown(value)}",
        hint='quote numbers with a dot, e.g. RUST_VERSION = "1.75"',
    )


TargetKey = Annotated[str, PlainValidator(_target_key)]
RegistryHost = Annotated[str, PlainValidator(_registry_host)]
BuildArgName = Annotated[str, AfterValidator(_build_arg_name)]
BuildArgValue = Annotated[str, PlainValidator(_build_arg_value)]


# --- The typed configuration.


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CacheConfig(_Frozen):
    """`[container.cache]`: host directories kept between builds for Cargo's downloads."""

    enabled: StrictBool = True
    registry_path: Path | None = None
    git_path: Path | None = None

    @field_validator("registry_path", "git_path", mode="plain")
    @classmethod
    def _check_cache_dir(cls, value: object, info: ValidationInfo) -> Path | None:
        return None if value is None else _cache_dir(value, info)


class PodmanMachineConfig(_Frozen):
    """`[container.podman_machine]`: the VM Podman needs on macOS and Windows."""

    auto_create: StrictBool = True
    auto_start: StrictBool = True
    cpus: int = Field(default=4, ge=1, le=256, strict=True)
    memory: int = Field(default=4096, ge=512, le=1_048_576, strict=True, description="MB")
    disk_size: int = Field(default=20, ge=5, le=10_000, strict=True, description="GB")


class ContainerConfig(_Frozen):
    """`[container]`: which engine runs builds, and how."""

    runtime: Literal["auto", "docker", "podman", "none"] = "auto"
    use_when: StrictStr | None = None
    cache: CacheConfig = Field(default_factory=CacheConfig)
    image_registry: tuple[RegistryHost, ...] = ("ghcr.io", "docker.io")
    podman_machine: PodmanMachineConfig = Field(default_factory=PodmanMachineConfig)

    @field_validator("image_registry")
    @classmethod
    def _no_duplicates(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for host in hosts:
            if host.lower() in seen:
                raise _refusal(f"{_shown(host)} is listed more than once")
            seen.add(host.lower())
        return hosts


class TargetContainerConfig(_Frozen):
    """`[targets."<triple>".container]`: the image one target builds in."""

    image: ImageReference | None = None
    dockerfile: Path | None = None
    context: Path | None = None
    build_args: dict[BuildArgName, BuildArgValue] = Field(default_factory=dict)

    @field_validator("image", mode="plain")
    @classmethod
    def _parse_image(cls, value: object) -> ImageReference | None:
        if value is None or isinstance(value, ImageReference):
            return value
        return _from_usage_error(parse_image_reference, value)

    @field_validator("dockerfile", "context", mode="plain")
    @classmethod
    def _check_inside_project(cls, value: object, info: ValidationInfo) -> Path | None:
        return None if value is None else _inside_project(value, info)


class _TargetTable(_Frozen):
    container: TargetContainerConfig = Field(default_factory=TargetContainerConfig)


class _Document(_Frozen):
    container: ContainerConfig = Field(default_factory=ContainerConfig)
    targets: dict[TargetKey, _TargetTable] = Field(default_factory=dict)


@dataclass(frozen=True)
class XcargoConfig:
    """Everything xcargo-web takes from xcargo.toml, plus what it had to say about the file."""

    path: Path | None = None
    container: ContainerConfig = field(default_factory=ContainerConfig)
    targets: dict[str, TargetContainerConfig] = field(default_factory=dict)
    warnings: tuple[ConfigNotice, ...] = ()
    unsupported: tuple[ConfigNotice, ...] = ()

    def for_target(self, triple: str) -> TargetContainerConfig:
        """The settings for one target; a target the file does not mention gets the defaults."""
        return self.targets.get(triple) or TargetContainerConfig()


# --- Loading.


def load_config(project_dir: Path) -> XcargoConfig:
    """Read `project_dir/xcargo.toml`; a project without one gets the defaults."""
    path = project_dir / CONFIG_FILE_NAME
    if not path.exists() and not path.is_symlink():
        return XcargoConfig()
    config = load_config_text(_read_text(path, project_dir), base_dir=project_dir)
    return dataclasses.replace(config, path=path)


def load_config_text(text: str, *, file: str = CONFIG_FILE_NAME, base_dir: Path) -> XcargoConfig:
    """Parse and check xcargo.toml text; `base_dir` is the project directory holding the file."""
    if (
        len(text) > MAX_CONFIG_BYTES
        or len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES
    ):
        raise _too_large(file)
    data = _parse_toml(text, file)
    lines = _KeyLines(text)
    document, warnings = _validate(data, base_dir.resolve(), file, lines)
    return XcargoConfig(
        container=document.container,
        targets={triple: table.container for triple, table in document.targets.items()},
        warnings=tuple(warnings),
        unsupported=_unsupported_notices(data, file, lines),
    )


def _read_text(path: Path, project_dir: Path) -> str:
    """Read at most the size limit, from a regular file inside the project, as UTF-8."""
    try:
        real = path.resolve()
        if not real.is_relative_to(project_dir.resolve()):
            raise ConfigError("is a symlink to a file outside the project", file=CONFIG_FILE_NAME)
        if not real.is_file():
            raise ConfigError("is not a regular file", file=CONFIG_FILE_NAME)
        with real.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"cannot be read: {err.strerror or err}", file=CONFIG_FILE_NAME) from err
    except RuntimeError as err:  # Python 3.11 reports symlink loops this way
        raise ConfigError("cannot be read: symlink loop", file=CONFIG_FILE_NAME) from err
    if len(data) > MAX_CONFIG_BYTES:
        raise _too_large(CONFIG_FILE_NAME)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"is not UTF-8 text (invalid byte at offset {err.start})",
            file=CONFIG_FILE_NAME,
            line=line,
            hint="save xcargo.toml as UTF-8",
        ) from err


def _too_large(file: str) -> ConfigError:
    return ConfigError(
        f"is larger than {MAX_CONFIG_BYTES // 1024} KiB",
        file=file,
        hint="xcargo.toml holds settings only; keep it small",
    )


def _parse_toml(text: str, file: str) -> dict[str, Any]:
    """Parse TOML, moving tomllib's "(at line N, column M)" into the error's line."""
    try:
        return tomllib.loads(text)
    except RecursionError as err:  # tomllib recurses once per level of nested arrays and tables
        raise ConfigError("invalid TOML: values are nested too deeply", file=file) from err
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        position = _TOML_POSITION.search(message)
        if position:
            line = int(position[1])
            detail = f"{message[: position.start()]} (column {position[2]})"
        else:
            line = max(1, len(text.splitlines()))
            detail = message.replace("(at end of document)", "(at the end of the file)")
        raise ConfigError(
            f"invalid TOML: {detail}",
            file=file,
            line=line,
            hint="see https://toml.io for the syntax; strings need quotes",
        ) from err


def _validate(
    data: dict[str, Any], project_dir: Path, file: str, lines: _KeyLines
) -> tuple[_Document, list[ConfigNotice]]:
    """Validate, turning unknown keys into warnings and dropping them until only errors remain."""
    warnings: list[ConfigNotice] = []
    while True:
        try:
            document = _Document.model_validate(data, context={"project_dir": project_dir})
        except ValidationError as err:
            errors = err.errors(include_url=False)
        else:
            return document, sorted(warnings, key=_file_order)
        unknown = [error for error in errors if error["type"] == "extra_forbidden"]
        if not unknown:
            raise _config_error(errors, file, lines)
        for error in unknown:
            warnings.append(_unknown_key_notice(error["loc"], file, lines))
            _remove(data, error["loc"])


def _remove(data: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    """Drop an ignored key so the next validation pass does not report it again."""
    table = data
    for part in loc[:-1]:
        table = table[part]
    del table[loc[-1]]


def _file_order(notice: ConfigNotice) -> tuple[bool, int]:
    """Sort by line, so people read about the file top to bottom; unlocated notices last."""
    return notice.line is None, notice.line or 0


# --- Messages.

# The tables of the file, by key path with '*' for the triple: where a key was unknown.
_TABLES: dict[tuple[int | str, ...], type[BaseModel]] = {
    (): _Document,
    ("container",): ContainerConfig,
    ("container", "cache"): CacheConfig,
    ("container", "podman_machine"): PodmanMachineConfig,
    ("targets", "*"): _TargetTable,
    ("targets", "*", "container"): TargetContainerConfig,
}
# Tables other parts of xcargo read too: an unknown key there is a feature xcargo-web does not
# use rather than a typo.
_SHARED_TABLES = frozenset({(), ("targets", "*")})

_NOT_IMPLEMENTED = {
    ("container", "use_when"): (
        "strategies are not implemented yet: every target builds in a container"
    ),
    ("container", "image_registry"): (
        "image selection from registries is not implemented yet: images come from "
        "`xcargo images bootstrap` or --container-image"
    ),
    ("container", "podman_machine"): (
        "Podman machine management is not implemented yet: create and start the machine "
        "yourself (`podman machine init`, `podman machine start`)"
    ),
}
_NOT_IMPLEMENTED_PER_TARGET = {
    "dockerfile": (
        "custom Dockerfiles are not supported yet: build the image yourself and set `image` "
        "(or pass --container-image)"
    ),
    "context": "custom Dockerfiles are not supported yet: the build context is not used",
    "build_args": "custom Dockerfiles are not supported yet: build arguments are not used",
}


def _unknown_key_notice(loc: tuple[int | str, ...], file: str, lines: _KeyLines) -> ConfigNotice:
    """Warn about a key xcargo-web ignores, suggesting the known key it most looks like."""
    parent, key = _generic(loc[:-1]), str(loc[-1])
    known = list(_TABLES[parent].model_fields)
    suggestion = difflib.get_close_matches(key, known, n=1)
    if suggestion:
        message = f"unknown key (did you mean {suggestion[0]!r}?), ignored"
    elif parent in _SHARED_TABLES:
        message = "not used by xcargo-web, ignored"
    else:
        message = f"unknown key, ignored (known keys: {', '.join(known)})"
    return ConfigNotice(file, lines.line_of(loc), _dotted(loc), message)


def _generic(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Replace the triple in a `targets.<triple>...` path by '*'."""
    return ("targets", "*", *loc[2:]) if loc[:1] == ("targets",) and len(loc) > 1 else loc


def _unsupported_notices(
    data: dict[str, Any], file: str, lines: _KeyLines
) -> tuple[ConfigNotice, ...]:
    """Notices for the keys present in the file that are accepted but not acted on yet."""
    container = data.get("container", {})
    present = {path: text for path, text in _NOT_IMPLEMENTED.items() if path[1] in container}
    for triple, table in data.get("targets", {}).items():
        for key, text in _NOT_IMPLEMENTED_PER_TARGET.items():
            if key in table.get("container", {}):
                present["targets", triple, "container", key] = text
    notices = [
        ConfigNotice(file, lines.line_of(path), _dotted(path), text)
        for path, text in present.items()
    ]
    return tuple(sorted(notices, key=_file_order))


def _config_error(errors: list[ErrorDetails], file: str, lines: _KeyLines) -> ConfigError:
    """One ConfigError located at the first problem in the file, listing the others after it."""
    problems = [_problem(error, file, lines) for error in errors]
    problems.sort(key=lambda problem: _file_order(problem[0]))
    first, hint = problems[0]
    message = "\n".join([first.message, *(str(notice) for notice, _ in problems[1:])])
    return ConfigError(message, file=file, line=first.line, key=first.key, hint=hint)


def _problem(error: ErrorDetails, file: str, lines: _KeyLines) -> tuple[ConfigNotice, str | None]:
    """Locate one pydantic error; "[key]" marks a bad dict key, which is located like its value."""
    loc = tuple(part for part in error["loc"] if part != "[key]")
    hint = error.get("ctx", {}).get("hint") if error["type"] == "xcargo" else None
    return ConfigNotice(file, lines.line_of(loc), _dotted(loc), _human(error)), hint


def _human(error: ErrorDetails) -> str:
    """Say what pydantic found wrong in TOML terms ("true or false", "a table")."""
    kind, ctx, got = error["type"], error.get("ctx", {}), _shown(error["input"])
    if kind == "xcargo":
        return str(ctx["message"])
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {got}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, got {got}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, got {got}"
    expected = {
        "bool_type": "true or false",
        "int_type": "a whole number",
        "string_type": "a string",
        "model_type": "a table",
        "dict_type": "a table",
        "tuple_type": "an array",
    }.get(kind)
    return f"expected {expected}, got {got}" if expected else error["msg"]


def _dotted(loc: tuple[int | str, ...]) -> str:
    """Write a key path as TOML would, quoting parts that are not bare keys: a."b.c".d[0]."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        bare = re.fullmatch(r"[A-Za-z0-9_-]+", part)
        text += ("." if text else "") + (part if bare else json.dumps(part))
    return text


# --- Where keys are: tomllib reports no positions for values, so lines are found separately.


class _KeyLines:
    """Map key paths to the line that defines them, by parsing each line of the file on its own.

    A table header (`[targets."x".container]`) parses alone to a nested table naming the current
    table; a `key = value`, `cache.enabled = true` or `args = { A = "1" }` line parses to key paths
    inside it. Lines that do not parse alone (the inside of a multi-line array or string) are
    skipped, except that the key before '=' on the first line of such a value is still recorded.
    Keys under `[[array.of.tables]]` headers are not mapped. This is best effort: a wrong guess
    only makes a message point at a nearby line, it never changes what is accepted.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] | None = ()
        for number, line in enumerate(text.splitlines(), start=1):
            parsed = _parse_line(line)
            if parsed is None:
                continue
            if line.lstrip().startswith("["):
                table = self._header(parsed, number)
            elif table is not None:
                for path in _key_paths(parsed):
                    self._record(table + path, number)

    def line_of(self, loc: tuple[int | str, ...]) -> int | None:
        """The line of the longest known prefix of `loc`, or None when nothing matches."""
        keys: list[str] = []
        for part in loc:
            if isinstance(part, int):
                break
            keys.append(part)
        for end in range(len(keys), 0, -1):
            if tuple(keys[:end]) in self._lines:
                return self._lines[tuple(keys[:end])]
        return None

    def _header(self, parsed: dict[str, Any], number: int) -> tuple[str, ...] | None:
        """Record a table header; return the new current table (None for array-of-tables)."""
        path: tuple[str, ...] = ()
        node: Any = parsed
        while isinstance(node, dict) and len(node) == 1:
            key, node = next(iter(node.items()))
            path += (key,)
            self._record(path, number)
        return path if isinstance(node, dict) else None

    def _record(self, path: tuple[str, ...], number: int) -> None:
        self._lines.setdefault(path, number)


def _parse_line(line: str) -> dict[str, Any] | None:
    """Parse one line as a TOML document; for `key = [` (a value going on) parse the key alone."""
    try:
        return tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        pass
    key, equals, _ = line.partition("=")
    if not equals:
        return None
    try:
        return tomllib.loads(f"{key}= 0")
    except tomllib.TOMLDecodeError:
        return None


def _key_paths(table: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    """Every key path a line defines: `a.b = { c = 1 }` defines a, a.b and a.b.c."""
    for key, value in table.items():
        yield (key,)
        if isinstance(value, dict):
            for path in _key_paths(value):
                yield (key, *path)
