"""Reading xcargo.toml into the typed configuration: size and symlink checks, TOML parsing
located by line, and validation passes that turn unknown keys into warnings.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runtimes.config.diagnostics import config_error, unknown_key_notice, unsupported_notices
from runtimes.config.key_lines import KeyLines
from runtimes.config.notices import ConfigNotice, file_order
from runtimes.config.schema import Document, XcargoConfig
from runtimes.errors import ConfigError

CONFIG_FILE_NAME = "xcargo.toml"
MAX_CONFIG_BYTES = 1024 * 1024
_TOML_POSITION = re.compile(r" \(at line (\d+), column (\d+)\)$")


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
    lines = KeyLines(text)
    document, warnings = _validate(data, base_dir.resolve(), file, lines)
    return XcargoConfig(
        container=document.container,
        targets={triple: table.container for triple, table in document.targets.items()},
        warnings=tuple(warnings),
        unsupported=unsupported_notices(data, file, lines),
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
    data: dict[str, Any], project_dir: Path, file: str, lines: KeyLines
) -> tuple[Document, list[ConfigNotice]]:
    """Validate, turning unknown keys into warnings and dropping them until only errors remain."""
    warnings: list[ConfigNotice] = []
    while True:
        try:
            document = Document.model_validate(data, context={"project_dir": project_dir})
        except ValidationError as err:
            errors = err.errors(include_url=False)
        else:
            return document, sorted(warnings, key=file_order)
        unknown = [error for error in errors if error["type"] == "extra_forbidden"]
        if not unknown:
            raise config_error(errors, file, lines)
        for error in unknown:
            warnings.append(unknown_key_notice(error["loc"], file, lines))
            _remove(data, error["loc"])


def _remove(data: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    """Drop an ignored key so the next validation pass does not report it again."""
    table = data
    for part in loc[:-1]:
        table = table[part]
    del table[loc[-1]]
