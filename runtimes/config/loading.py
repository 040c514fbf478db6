"""Reading the project's configuration into the typed one: xcargo.toml (size and symlink
checks, TOML parsing located by line, validation passes that turn unknown keys into
warnings), over cross-rs's configuration where xcargo.toml does not set a key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runtimes.config.cross import load_cross, under_xcargo_toml
from runtimes.config.diagnostics import config_error, unknown_key_notice, unsupported_notices
from runtimes.config.files import MAX_CONFIG_BYTES, check_size, parse_toml, read_text
from runtimes.config.key_lines import KeyLines
from runtimes.config.notices import ConfigNotice, file_order
from runtimes.config.schema import Document, XcargoConfig

CONFIG_FILE_NAME = "xcargo.toml"

__all__ = ["CONFIG_FILE_NAME", "MAX_CONFIG_BYTES", "load_config", "load_config_text"]


def load_config(project_dir: Path, environ: Mapping[str, str] | None = None) -> XcargoConfig:
    """The project's configuration: `project_dir/xcargo.toml` over cross-rs's (Cross.toml,
    Cargo.toml's `metadata.cross`, and the CROSS_* variables of `environ`); the defaults
    where nothing is set. The CLI passes its environment; the server none, because a
    worker's environment is not the project's.
    """
    path = project_dir / CONFIG_FILE_NAME
    own, lines = XcargoConfig(), None
    if path.exists() or path.is_symlink():
        text = read_text(path, file=CONFIG_FILE_NAME, inside=project_dir)
        own, lines = _load(text, CONFIG_FILE_NAME, project_dir)
        own = dataclasses.replace(own, path=path)
    cross = load_cross(project_dir, environ or {})
    return own if cross is None else under_xcargo_toml(cross, own, lines)


def load_config_text(text: str, *, file: str = CONFIG_FILE_NAME, base_dir: Path) -> XcargoConfig:
    """Parse and check xcargo.toml text; `base_dir` is the project directory holding the file."""
    return _load(text, file, base_dir)[0]


def _load(text: str, file: str, base_dir: Path) -> tuple[XcargoConfig, KeyLines]:
    check_size(text, file)
    data = parse_toml(text, file)
    lines = KeyLines(text)
    document, warnings = _validate(data, base_dir.resolve(), file, lines)
    config = XcargoConfig(
        container=document.container,
        targets={triple: table.container for triple, table in document.targets.items()},
        warnings=tuple(warnings),
        unsupported=unsupported_notices(data, file, lines),
    )
    return config, lines


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
