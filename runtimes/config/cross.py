"""cross-rs's configuration, read as it is: each source (`cross_sources`) is translated into
xcargo.toml's shape and checked by the same models, every problem located at the cross key
that caused it; keys xcargo cannot act on are named as not supported. The sources are then
merged as cross merges them, and xcargo.toml wins over them where both set a key.

The mapping, key by key (`[build]` keys apply to every target, `[target.<triple>]` keys to
one and win over `[build]`):

- `env.passthrough` → `[container.env]` / the target's `env` `passthrough`;
- `pre-build` → `pre_build`; `dockerfile` (a path, or `{ file, context, build-args }`) →
  `dockerfile`, `context`, `build_args`; `image` (a name, or `{ name, toolchain }`) → `image`;
- `zig`: `true` changes nothing (xcargo links `*-linux-gnu` with zig at a glibc floor
  already); a version (`"2.17"`, or `version`) is the glibc floor; `false` sets the floor to the
  image's own glibc (its GNU linker); `zig.image` → `image`;
- `default-target` → `XcargoConfig.default_target`; `runner = "qemu-user"` is what xcargo does;
- not supported, and said so: `env.volumes`, `build-std`, `xargo`, `image.toolchain`, another
  `runner`, an image named by tag or digest alone (one of cross-rs's own images).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from runtimes.config.cross_sources import CARGO_BUILD_TARGET, CrossLayer, KeyPath, cross_layers
from runtimes.config.diagnostics import (
    Problem,
    dotted,
    error_hint,
    error_location,
    error_text,
    located_error,
    unknown_key_message,
)
from runtimes.config.key_lines import KeyLines
from runtimes.config.notices import ConfigNotice, file_order
from runtimes.config.schema import (
    IMAGE_KEYS,
    ContainerConfig,
    DefaultTarget,
    Document,
    TargetContainerConfig,
    XcargoConfig,
    shown,
)
from runtimes.errors import UsageError
from runtimes.glibc import DEFAULT_FLOOR, NEWEST_FLOOR, split_floor_suffix
from runtimes.targets import validate_triple

_TOP_KEYS = ["build", "target"]
_COMMON_KEYS = ["env", "build-std", "xargo", "zig", "pre-build", "dockerfile"]
_BUILD_KEYS = [*_COMMON_KEYS, "default-target"]
_TARGET_KEYS = [*_COMMON_KEYS, "image", "runner"]
_RUNNER = "qemu-user"

_NOT_SUPPORTED = {
    "volumes": "a build sees only the project (read-only) and xcargo's own "
    "caches; pass a value with env.passthrough instead",
    "build-std": "xcargo builds the standard library from source exactly where "
    "its image has none for the target (musl, Windows), whatever build-std says",
    "xargo": "xargo is deprecated by cross itself; xcargo builds the standard "
    "library from source where its image has none for the target",
    "toolchain": "xcargo runs an image on the engine's own platform and builds "
    "with the Rust toolchain inside it",
    "runner": f"xcargo runs the programs of test, bench and run under the "
    f"target's emulator ({_RUNNER} for Linux targets), with no other runner",
    "cross image": "a tag or digest alone names one of cross-rs's own images, "
    "which hold no Rust toolchain (cross mounts the host's); name a whole image, or leave the "
    "image to xcargo",
}

# The fields of a target that choose its image: when xcargo.toml sets the image or the
# Dockerfile, cross's choice of image gives way as a whole.
_IMAGE_CHOICE = frozenset({"image", "dockerfile", "context", "build_args"})

_Model = TypeVar("_Model", bound=BaseModel)


class _CrossDocument(Document):
    """What one source of cross's configuration sets, in xcargo.toml's shape."""

    every_target: TargetContainerConfig = Field(default_factory=TargetContainerConfig)


@dataclass(frozen=True)
class _Origin:
    """Where a value from cross's configuration was set: to locate a notice, and in reasons."""

    notice_at: ConfigNotice  # its file, line and key; the message is filled in when needed
    where: str

    def notice(self, message: str) -> ConfigNotice:
        return dataclasses.replace(self.notice_at, message=message)


@dataclass(frozen=True)
class CrossConfig:
    """cross's configuration, all sources merged, in xcargo's typed shape."""

    container: ContainerConfig = field(default_factory=ContainerConfig)
    every_target: TargetContainerConfig = field(default_factory=TargetContainerConfig)
    targets: dict[str, TargetContainerConfig] = field(default_factory=dict)
    default_target: DefaultTarget | None = None
    # By xcargo.toml key path (`_CrossDocument`'s): where each value set here was set.
    origins: dict[KeyPath, _Origin] = field(default_factory=dict)
    # Targets whose zig is on without a version: they link with zig even where [build]
    # turned it off.
    zig_on: dict[str, _Origin] = field(default_factory=dict)
    warnings: tuple[ConfigNotice, ...] = ()
    unsupported: tuple[ConfigNotice, ...] = ()


def load_cross(project_dir: Path, environ: Mapping[str, str]) -> CrossConfig | None:
    """cross's configuration of the project, with `environ`'s variables; None when it has none."""
    layers = cross_layers(project_dir, environ)
    cargo_target = environ.get(CARGO_BUILD_TARGET)
    if not layers and not cargo_target:
        return None
    merged = CrossConfig()
    for layer in layers:
        merged = _merge(merged, _translate(layer, project_dir.resolve()))
    merged = _zig_enabled_again(_dockerfiles_under_images(merged))
    # cross reads cargo's variable over its files, under its own variables (the last layer).
    variables = layers[-1].data if layers and layers[-1].lines is None else {}
    if cargo_target and "default-target" not in variables.get("build", {}):
        where = f"environment: {CARGO_BUILD_TARGET}"
        merged = dataclasses.replace(merged, default_target=DefaultTarget(cargo_target, where))
    return merged


# --- One source into xcargo's shape.


def _translate(layer: CrossLayer, project_dir: Path) -> CrossConfig:
    """One source, checked: a ConfigError naming the source's file, line and key for every
    problem, else what it sets with where each value was set.
    """
    translation = _Translation(layer)
    translation.run()
    problems = translation.problems
    document = None
    try:
        document = _CrossDocument.model_validate(
            translation.data, context={"project_dir": project_dir}
        )
    except ValidationError as err:
        problems += [translation.problem_of(error) for error in err.errors(include_url=False)]
    if problems or document is None:
        raise located_error(problems)
    origins = {
        path: _Origin(layer.notice(cross_path, ""), layer.where(cross_path))
        for path, cross_path in translation.paths.items()
        if path[:1] != ("targets",) or len(path) > 2
    }
    return CrossConfig(
        container=document.container,
        every_target=document.every_target,
        targets={triple: table.container for triple, table in document.targets.items()},
        default_target=translation.default_target,
        origins=origins,
        zig_on={
            triple: _Origin(layer.notice(path, ""), layer.where(path))
            for triple, path in translation.zig_on.items()
        },
        warnings=tuple(sorted((*layer.warnings, *translation.warnings), key=file_order)),
        unsupported=tuple(sorted((*layer.unsupported, *translation.unsupported), key=file_order)),
    )


class _Translation:
    """Walks one source's cross table, writing xcargo.toml-shaped data and remembering, for
    each key it writes, the cross key it came from.
    """

    def __init__(self, layer: CrossLayer) -> None:
        self.layer = layer
        self.data: dict[str, Any] = {"container": {}, "every_target": {}, "targets": {}}
        self.paths: dict[KeyPath, KeyPath] = {}  # xcargo key path -> cross key path
        self.default_target: DefaultTarget | None = None
        self.zig_on: dict[str, KeyPath] = {}
        self.warnings: list[ConfigNotice] = []
        self.unsupported: list[ConfigNotice] = []
        self.problems: list[Problem] = []

    def run(self) -> None:
        for key, value in self.layer.data.items():
            if key == "build" and self._is_table(value, ("build",)):
                self._scope(value, ("build",), None)
            elif key == "target" and self._is_table(value, ("target",)):
                for triple, table in value.items():
                    self.data["targets"][triple] = {"container": {}}
                    self.paths[("targets", triple)] = ("target", triple)
                    if self._is_table(table, ("target", triple)):
                        self._scope(table, ("target", triple), triple)
            elif key not in _TOP_KEYS:
                self._unknown((key,), _TOP_KEYS)

    def problem_of(self, error: Any) -> Problem:
        """A pydantic error, located at the cross key whose value failed."""
        loc = error_location(error)
        for end in range(len(loc), 0, -1):
            if (cross := self.paths.get(loc[:end])) is not None:
                path = cross + loc[end:]
                break
        else:
            path = loc
        return self.layer.notice(path, error_text(error)), error_hint(error)

    # -- a [build] or [target.<triple>] table

    def _scope(self, table: dict[str, Any], here: KeyPath, triple: str | None) -> None:
        base = ("every_target",) if triple is None else ("targets", triple, "container")
        project = ("container",) if triple is None else base  # where glibc and env go
        for key, value in table.items():
            path = (*here, key)
            if key == "env":
                self._env(value, path, project)
            elif key in ("build-std", "xargo"):
                self._not_supported(path, _NOT_SUPPORTED[key])
            elif key == "zig":
                self._zig(value, path, base, project, triple)
            elif key == "pre-build":
                self._set((*base, "pre_build"), value, path)
            elif key == "dockerfile":
                self._dockerfile(value, path, base)
            elif key == "default-target" and triple is None:
                self._default_target(value, path)
            elif key == "image" and triple is not None:
                self._image(value, path, base)
            elif key == "runner" and triple is not None:
                self._runner(value, path)
            else:
                self._unknown(path, _BUILD_KEYS if triple is None else _TARGET_KEYS)

    def _env(self, value: Any, here: KeyPath, project: KeyPath) -> None:
        if not self._is_table(value, here):
            return
        for key, item in value.items():
            if key == "passthrough":
                self._set((*project, "env", "passthrough"), item, (*here, key))
            elif key == "volumes":
                self._not_supported((*here, key), _NOT_SUPPORTED["volumes"])
            else:
                self._unknown((*here, key), ["passthrough", "volumes"])

    def _zig(
        self, value: Any, here: KeyPath, base: KeyPath, project: KeyPath, triple: str | None
    ) -> None:
        glibc = (*project, "glibc")
        if isinstance(value, bool):
            enable, version = value, None
        elif isinstance(value, str):
            enable, version = True, value
        elif isinstance(value, dict):
            enable, version = self._zig_table(value, here, base)
        else:
            self._problem(
                here,
                f'expected true or false, a glibc version such as "2.17", or a table, got '
                f"{shown(value)}",
                hint=f'quote a version: zig = "{value}"' if _is_number(value) else None,
            )
            return
        table_path = here if not isinstance(value, dict) else None
        if enable is False:
            self._set(glibc, NEWEST_FLOOR, table_path or (*here, "enable"))
        elif version is not None:
            self._set(glibc, version, table_path or (*here, "version"))
        elif enable and triple is not None:
            self.zig_on[triple] = table_path or (*here, "enable")

    def _zig_table(
        self, value: dict[str, Any], here: KeyPath, base: KeyPath
    ) -> tuple[bool | None, Any]:
        enable, version = None, None
        for key, item in value.items():
            path = (*here, key)
            if key == "enable":
                if isinstance(item, bool):
                    enable = item
                else:
                    self._problem(path, f"expected true or false, got {shown(item)}")
            elif key == "version":
                if isinstance(item, str):
                    version = item
                else:
                    hint = f'quote it: version = "{item}"' if _is_number(item) else None
                    self._problem(path, f"expected a string, got {shown(item)}", hint=hint)
            elif key == "image":
                self._image(item, path, base)
            else:
                self._unknown(path, ["enable", "version", "image"])
        if enable is None and version is not None:  # a version alone turns zig on
            enable = True
        return enable, version

    def _dockerfile(self, value: Any, here: KeyPath, base: KeyPath) -> None:
        if isinstance(value, str):
            self._set((*base, "dockerfile"), value, here)
            return
        if not isinstance(value, dict):
            self._problem(
                here,
                f"expected a path or a table {{ file, context, build-args }}, got {shown(value)}",
            )
            return
        fields = {"file": "dockerfile", "context": "context", "build-args": "build_args"}
        for key, item in value.items():
            if key in fields:
                self._set((*base, fields[key]), item, (*here, key))
            else:
                self._unknown((*here, key), list(fields))

    def _image(self, value: Any, here: KeyPath, base: KeyPath) -> None:
        if isinstance(value, dict):
            for key in value:
                if key == "toolchain":
                    self._not_supported((*here, key), _NOT_SUPPORTED["toolchain"])
                elif key != "name":
                    self._unknown((*here, key), ["name", "toolchain"])
            if "name" not in value:
                self._problem(here, "an image table needs its name", hint='name = "repo/image:tag"')
                return
            value, here = value["name"], (*here, "name")
        elif not isinstance(value, str):
            self._problem(
                here, f"expected an image name or a table {{ name, toolchain }}, got {shown(value)}"
            )
            return
        if isinstance(value, str) and value[:1] in (":", "@", "-"):
            self._not_supported(here, _NOT_SUPPORTED["cross image"])
            return
        self._set((*base, "image"), value, here)

    def _runner(self, value: Any, here: KeyPath) -> None:
        if not isinstance(value, str):
            self._problem(here, f"expected a string, got {shown(value)}")
        elif value != _RUNNER:
            self._not_supported(here, f"runner {shown(value)}: {_NOT_SUPPORTED['runner']}")

    def _default_target(self, value: Any, here: KeyPath) -> None:
        if not isinstance(value, str):
            self._problem(here, f"expected a target triple, got {shown(value)}")
            return
        try:
            validate_triple(split_floor_suffix(value)[0])
        except UsageError as err:
            self._problem(here, err.message, hint=err.hint)
            return
        self.default_target = DefaultTarget(value, self.layer.where(here))

    # -- recording

    def _set(self, path: tuple[str, ...], value: Any, cross: KeyPath) -> None:
        node = self.data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        self.paths[path] = cross

    def _is_table(self, value: Any, here: KeyPath) -> bool:
        if not isinstance(value, dict):
            self._problem(here, f"expected a table, got {shown(value)}")
        return isinstance(value, dict)

    def _problem(self, here: KeyPath, message: str, *, hint: str | None = None) -> None:
        self.problems.append((self.layer.notice(here, message), hint))

    def _not_supported(self, here: KeyPath, message: str) -> None:
        self.unsupported.append(self.layer.notice(here, message))

    def _unknown(self, here: KeyPath, known: list[str]) -> None:
        self.warnings.append(self.layer.notice(here, unknown_key_message(str(here[-1]), known)))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- Merging the sources, then xcargo.toml over them.


def _merge(lower: CrossConfig, upper: CrossConfig) -> CrossConfig:
    """`upper`'s settings over `lower`'s, key by key, as cross merges its sources."""
    targets = dict(lower.targets)
    for triple, own in upper.targets.items():
        targets[triple] = _overlay(targets[triple], own)[0] if triple in targets else own
    return CrossConfig(
        container=_overlay(lower.container, upper.container)[0],
        every_target=_overlay(lower.every_target, upper.every_target)[0],
        targets=targets,
        default_target=upper.default_target or lower.default_target,
        origins={**lower.origins, **upper.origins},
        zig_on={**lower.zig_on, **upper.zig_on},
        warnings=lower.warnings + upper.warnings,
        unsupported=lower.unsupported + upper.unsupported,
    )


def _dockerfiles_under_images(config: CrossConfig) -> CrossConfig:
    """cross builds a target's Dockerfile on top of its image (as CROSS_BASE_IMAGE); xcargo
    builds in the image, and says so at the Dockerfile it does not build.
    """
    notices = []
    for triple, own in config.targets.items():
        if "image" not in own.model_fields_set:
            continue
        own_path = ("targets", triple, "container", "dockerfile")
        for path in (own_path, ("every_target", "dockerfile")):
            if (origin := config.origins.get(path)) is not None:
                image = config.origins[("targets", triple, "container", "image")].where
                notices.append(
                    origin.notice(
                        f"not built for {triple}: its image is set too ({image}), and xcargo "
                        "builds in that image (cross builds the Dockerfile on top of it)"
                    )
                )
                break
    return dataclasses.replace(config, unsupported=(*config.unsupported, *notices))


def _zig_enabled_again(config: CrossConfig) -> CrossConfig:
    """A target's `zig = true` under `[build]`'s `zig = false`: it links with zig again, at
    xcargo's default floor, unless a source set the target's own floor.
    """
    if config.container.glibc != NEWEST_FLOOR or not config.zig_on:
        return config
    targets, origins = dict(config.targets), dict(config.origins)
    for triple, origin in config.zig_on.items():
        own = targets.get(triple) or TargetContainerConfig()
        if "glibc" not in own.model_fields_set:
            targets[triple] = own.model_copy(update={"glibc": DEFAULT_FLOOR})
            origins[("targets", triple, "container", "glibc")] = origin
    return dataclasses.replace(config, targets=targets, origins=origins)


def _overlay(lower: _Model, higher: _Model) -> tuple[_Model, list[tuple[str, ...]]]:
    """`higher`'s explicitly set fields over `lower`, tables field by field; and the paths of
    the fields both set.
    """
    update: dict[str, Any] = {}
    both: list[tuple[str, ...]] = []
    for name in higher.model_fields_set:
        value = getattr(higher, name)
        if name not in lower.model_fields_set:
            update[name] = value
        elif isinstance(value, BaseModel):
            update[name], inner = _overlay(getattr(lower, name), value)
            both += [(name, *path) for path in inner]
        else:
            update[name] = value
            both.append((name,))
    return lower.model_copy(update=update), both


def under_xcargo_toml(
    cross: CrossConfig, own: XcargoConfig, lines: KeyLines | None
) -> XcargoConfig:
    """xcargo.toml's settings over cross's: where both set a key, xcargo.toml's wins and a
    warning at the cross key says so.
    """
    origins = dict(cross.origins)
    warnings: list[ConfigNotice] = []

    def give_way(path: KeyPath, winner: KeyPath) -> None:
        origin = origins.pop(path, None)
        if origin is None:
            return
        line = lines.line_of(winner) if lines is not None else None
        what = "this too" if path[-1] == winner[-1] else f"the target's {winner[-1]}"
        at = f", line {line}" if line is not None else ""
        table = f"[{_xcargo_table(winner[:-1])}] {dotted(winner[-1:])}"
        warnings.append(origin.notice(f"xcargo.toml sets {what} ({table}{at}), which wins"))

    container, both = _overlay(cross.container, own.container)
    for path in both:
        give_way(("container", *path), ("container", *path))
    targets = dict(cross.targets)
    for triple, mine in own.targets.items():
        theirs = targets.get(triple)
        if theirs is None:
            targets[triple] = mine
            continue
        base = ("targets", triple, "container")
        chooses = sorted(IMAGE_KEYS & mine.model_fields_set)
        if chooses:
            dropped = (_IMAGE_CHOICE & theirs.model_fields_set) - mine.model_fields_set
            for name in sorted(dropped):
                give_way((*base, name), (*base, chooses[0]))
            theirs = _without(theirs, dropped)
        targets[triple], both = _overlay(theirs, mine)
        for path in both:
            give_way((*base, *path), (*base, *path))
    return dataclasses.replace(
        own,
        container=container,
        targets=targets,
        every_target=cross.every_target,
        default_target=cross.default_target,
        origins={path: origin.where for path, origin in origins.items()},
        warnings=(*own.warnings, *cross.warnings, *sorted(warnings, key=file_order)),
        unsupported=(*own.unsupported, *cross.unsupported),
    )


def _xcargo_table(path: KeyPath) -> str:
    """A table of xcargo.toml as its README writes it: `targets."<triple>".container`."""
    if path[:1] == ("targets",) and len(path) > 1:
        return ".".join(["targets", f'"{path[1]}"', dotted(path[2:])])
    return dotted(path)


def _without(model: _Model, names: set[str]) -> _Model:
    """The model with `names` back to their defaults and no longer set."""
    kept = model.model_fields_set - names
    return model.model_construct(_fields_set=kept, **{name: getattr(model, name) for name in kept})
