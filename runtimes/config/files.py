"""Reading a configuration file safely: a size limit, regular files only (inside the project
unless a person named the file), UTF-8, and TOML errors located by line.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from runtimes.errors import ConfigError

MAX_CONFIG_BYTES = 1024 * 1024
_TOML_POSITION = re.compile(r" \(at line (\d+), column (\d+)\)$")


def read_text(path: Path, *, file: str, inside: Path | None) -> str:
    """Read at most the size limit from a regular file as UTF-8; `file` names it in errors.
    With `inside`, the file (symlinks followed) must be in that directory.
    """
    try:
        real = path.resolve()
        if inside is not None and not real.is_relative_to(inside.resolve()):
            raise ConfigError("is a symlink to a file outside the project", file=file)
        if not real.is_file():
            raise ConfigError("is not a regular file", file=file)
        with real.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"cannot be read: {err.strerror or err}", file=file) from err
    except RuntimeError as err:  # Python 3.11 reports symlink loops this way
        raise ConfigError("cannot be read: symlink loop", file=file) from err
    if len(data) > MAX_CONFIG_BYTES:
        raise too_large(file)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"is not UTF-8 text (invalid byte at offset {err.start})",
            file=file,
            line=line,
            hint=f"save {Path(file).name} as UTF-8",
        ) from err


def check_size(text: str, file: str) -> None:
    """Text given as a string (not read from a file) is held to the same limit."""
    if (
        len(text) > MAX_CONFIG_BYTES
        or len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES
    ):
        raise too_large(file)


def too_large(file: str) -> ConfigError:
    return ConfigError(
        f"is larger than {MAX_CONFIG_BYTES // 1024} KiB",
        file=file,
        hint=f"{Path(file).name} holds settings only; keep it small",
    )


def parse_toml(text: str, file: str) -> dict[str, Any]:
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
