"""Where cross-rs's configuration comes from, read as cross reads it, lowest precedence first:
`[workspace.metadata.cross]` (else `[package.metadata.cross]`) in the project's Cargo.toml;
Cross.toml in the project root, or the file CROSS_CONFIG names; the CROSS_BUILD_<KEY> and
CROSS_TARGET_<TRIPLE>_<KEY> variables. Each source becomes one layer of cross-shaped data
(`{"build": {...}, "target": {"<triple>": {...}}}`) that can point a person at its keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtimes.config.diagnostics import dotted
from runtimes.config.files import parse_toml, read_text
from runtimes.config.key_lines import KeyLines
from runtimes.config.notices import ConfigNotice
from runtimes.config.schema import shown
from runtimes.errors import ConfigError
from runtimes.targets import KNOWN_TARGETS

CROSS_FILE_NAME = "Cross.toml"
CARGO_FILE_NAME = "Cargo.toml"
ENVIRONMENT = "environment"
CROSS_CONFIG = "CROSS_CONFIG"
# cargo's own variable for the target to build; cross reads it too, over Cross.toml.
CARGO_BUILD_TARGET = "CARGO_BUILD_TARGET"

_METADATA = (("workspace", "metadata", "cross"), ("package", "metadata", "cross"))

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class CrossLayer:
    """One source of cross's settings and the way to point a person at one of its keys: a
    line of a file (its keys under `prefix`), or the variable that set it.
    """

    file: str
    data: dict[str, Any]
    lines: KeyLines | None = None  # None: the environment
    prefix: tuple[str, ...] = ()
    variables: dict[KeyPath, str] = field(default_factory=dict)
    warnings: tuple[ConfigNotice, ...] = ()
    unsupported: tuple[ConfigNotice, ...] = ()

    def notice(self, path: KeyPath, message: str) -> ConfigNotice:
        """A remark about the key at `path` of the cross table: file, line and key."""
        if self.lines is None:
            return ConfigNotice(self.file, None, self._variable(path), message)
        full = self.prefix + path
        return ConfigNotice(self.file, self.lines.line_of(full), dotted(full), message)

    def where(self, path: KeyPath) -> str:
        """The key at `path` as a reason names it: "Cross.toml: [target.<triple>] zig"."""
        if self.lines is None:
            return f"{self.file}: {self._variable(path)}"
        full = self.prefix + path
        return f"{self.file}: [{dotted(full[:-1])}] {dotted(full[-1:])}"

    def _variable(self, path: KeyPath) -> str:
        for end in range(len(path), 0, -1):
            if (name := self.variables.get(path[:end])) is not None:
                return name
        return "CROSS_*"


def cross_layers(project_dir: Path, environ: Mapping[str, str]) -> list[CrossLayer]:
    """The sources of cross's configuration the project has, lowest precedence first."""
    layers = [_cargo_layer(project_dir), _file_layer(project_dir, environ), _env_layer(environ)]
    return [layer for layer in layers if layer is not None]


def _cargo_layer(project_dir: Path) -> CrossLayer | None:
    """`[workspace.metadata.cross]` of the project's Cargo.toml, else its
    `[package.metadata.cross]` (cross reads the workspace's and ignores a package's then).
    """
    path = project_dir / CARGO_FILE_NAME
    if not path.is_file():
        return None
    text = read_text(path, file=CARGO_FILE_NAME, inside=project_dir)
    data = parse_toml(text, CARGO_FILE_NAME)
    present = [prefix for prefix in _METADATA if _dig(data, prefix) is not None]
    if not present:
        return None
    lines = KeyLines(text)
    prefix, table = present[0], _dig(data, present[0])
    if not isinstance(table, dict):
        raise ConfigError(
            f"expected a table, got {shown(table)}",
            file=CARGO_FILE_NAME,
            line=lines.line_of(prefix),
            key=dotted(prefix),
        )
    warnings = tuple(
        ConfigNotice(
            CARGO_FILE_NAME,
            lines.line_of(ignored),
            dotted(ignored),
            "ignored: [workspace.metadata.cross] is read instead, as cross does",
        )
        for ignored in present[1:]
    )
    return CrossLayer(CARGO_FILE_NAME, table, lines, prefix, warnings=warnings)


def _dig(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _file_layer(project_dir: Path, environ: Mapping[str, str]) -> CrossLayer | None:
    """Cross.toml of the project root, or the file CROSS_CONFIG names instead (anywhere: the
    user named it, but a regular file).
    """
    named = environ.get(CROSS_CONFIG)
    if named:
        path, file = Path(named), named
        if not path.exists():
            raise ConfigError(
                f"names {shown(named)}, which does not exist",
                file=ENVIRONMENT,
                key=CROSS_CONFIG,
                hint="point CROSS_CONFIG at the cross configuration file, or unset it",
            )
        text = read_text(path, file=file, inside=None)
    else:
        path, file = project_dir / CROSS_FILE_NAME, CROSS_FILE_NAME
        if not path.exists() and not path.is_symlink():
            return None
        text = read_text(path, file=file, inside=project_dir)
    return CrossLayer(file, parse_toml(text, file), KeyLines(text))


# --- The environment: CROSS_BUILD_<KEY> and CROSS_TARGET_<TRIPLE>_<KEY>, where TRIPLE is the
# --- triple in capitals with '-' as '_', and KEY the key's path the same way.

# Variable suffix → the key it sets, and how its text becomes the value.
_SPLIT_WORDS = "words"  # whitespace-separated names
_LINES = "lines"  # one command a line
_BOOL = "bool"
_TEXT = "text"
_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "ZIG": (("zig", "enable"), _BOOL),
    "ZIG_VERSION": (("zig", "version"), _TEXT),
    "ZIG_IMAGE": (("zig", "image", "name"), _TEXT),
    "ZIG_IMAGE_TOOLCHAIN": (("zig", "image", "toolchain"), _TEXT),
    "DOCKERFILE": (("dockerfile", "file"), _TEXT),
    "DOCKERFILE_CONTEXT": (("dockerfile", "context"), _TEXT),
    "PRE_BUILD": (("pre-build",), _LINES),
    "ENV_PASSTHROUGH": (("env", "passthrough"), _SPLIT_WORDS),
    "ENV_VOLUMES": (("env", "volumes"), _SPLIT_WORDS),
    "BUILD_STD": (("build-std",), _TEXT),  # true, false, or crate names separated by commas
    "XARGO": (("xargo",), _BOOL),
}
_TARGET_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    **_KEYS,
    "IMAGE": (("image", "name"), _TEXT),
    "IMAGE_TOOLCHAIN": (("image", "toolchain"), _TEXT),
    "RUNNER": (("runner",), _TEXT),
}
_BUILD = "CROSS_BUILD_"
_TARGET = "CROSS_TARGET_"
# cross's own name for the default target comes first; the documented pattern next.
_DEFAULT_TARGET = ("CROSS_BUILD_TARGET", "CROSS_BUILD_DEFAULT_TARGET")
_NOT_CONFIGURATION = {
    "CROSS_BUILD_OPTS": "extra flags for the engine's image builds: xcargo builds images with "
    "its own",
}


def _env_layer(environ: Mapping[str, str]) -> CrossLayer | None:
    """The CROSS_* variables that set cross's keys, as one layer; the triple of a variable
    for one target is one of the targets rustc knows.
    """
    by_name = {triple.upper().replace("-", "_"): triple for triple in KNOWN_TARGETS}
    data: dict[str, Any] = {}
    variables: dict[KeyPath, str] = {}
    warnings: list[ConfigNotice] = []
    unsupported: list[ConfigNotice] = []

    def put(path: tuple[str, ...], value: Any, name: str) -> None:
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        variables[path] = name

    for name in (name for name in _DEFAULT_TARGET if environ.get(name)):
        put(("build", "default-target"), environ[name], name)
        break
    for name in sorted(environ):
        text = environ[name]
        if name in _NOT_CONFIGURATION:
            unsupported.append(ConfigNotice(ENVIRONMENT, None, name, _NOT_CONFIGURATION[name]))
        elif name.startswith(_BUILD) and name not in _DEFAULT_TARGET:
            suffix = name.removeprefix(_BUILD)
            if suffix not in _KEYS:
                warnings.append(_unknown(name))
                continue
            key, kind = _KEYS[suffix]
            put(("build", *key), _value(text, kind), name)
        elif name.startswith(_TARGET):
            found = _target_key(name.removeprefix(_TARGET), by_name)
            if found is None:
                warnings.append(_unknown(name))
                continue
            triple, (key, kind) = found
            put(("target", triple, *key), _value(text, kind), name)
    for scope in _scopes(data):
        _image_tables(scope)
    if not data and not warnings and not unsupported:
        return None
    return CrossLayer(
        ENVIRONMENT,
        data,
        variables=variables,
        warnings=tuple(warnings),
        unsupported=tuple(unsupported),
    )


def _target_key(
    rest: str, by_name: dict[str, str]
) -> tuple[str, tuple[tuple[str, ...], str]] | None:
    """The triple and key a CROSS_TARGET_ variable names: the longest key it ends with whose
    remaining part is a target's name.
    """
    for suffix in sorted(_TARGET_KEYS, key=len, reverse=True):
        if rest.endswith(f"_{suffix}"):
            triple = by_name.get(rest.removesuffix(f"_{suffix}"))
            if triple is not None:
                return triple, _TARGET_KEYS[suffix]
    return None


def _unknown(name: str) -> ConfigNotice:
    return ConfigNotice(
        ENVIRONMENT,
        None,
        name,
        "not a key of cross's configuration (or no target rustc knows), ignored",
    )


def _value(text: str, kind: str) -> Any:
    if kind == _BOOL:
        return env_bool(text)
    if kind == _SPLIT_WORDS:
        return text.split()
    if kind == _LINES:
        return text.split("\n")
    return text


def env_bool(text: str) -> bool:
    """A boolean as cross reads one from a variable: true/false, a number (0 is false), else
    any text that is not empty.
    """
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text) != 0
    except ValueError:
        return bool(text)


def _scopes(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "build" in data:
        yield data["build"]
    yield from data.get("target", {}).values()


def _image_tables(scope: dict[str, Any]) -> None:
    """An image's platforms (comma-separated) count only with the image itself, as cross
    reads them.
    """
    for holder in (scope, scope.get("zig", {})):
        image = holder.get("image")
        if image is not None and "name" not in image:
            del holder["image"]
        elif image is not None and "toolchain" in image:
            image["toolchain"] = [part.strip() for part in image["toolchain"].split(",")]
