"""The wording of the loader: pydantic's errors and unknown or not-yet-supported keys turned
into messages a person can act on, located by file, line and key.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from runtimes.config.key_lines import KeyLines
from runtimes.config.notices import ConfigNotice, file_order
from runtimes.config.schema import (
    CacheConfig,
    ContainerConfig,
    Document,
    EnvConfig,
    PodmanMachineConfig,
    TargetContainerConfig,
    TargetTable,
    shown,
)
from runtimes.errors import ConfigError

# The tables of the file, by key path with '*' for the triple: where a key was unknown.
_TABLES: dict[tuple[int | str, ...], type[BaseModel]] = {
    (): Document,
    ("container",): ContainerConfig,
    ("container", "cache"): CacheConfig,
    ("container", "podman_machine"): PodmanMachineConfig,
    ("container", "env"): EnvConfig,
    ("targets", "*"): TargetTable,
    ("targets", "*", "container"): TargetContainerConfig,
    ("targets", "*", "container", "env"): EnvConfig,
}
# Tables other parts of xcargo read too: an unknown key there is a feature xcargo-web does not
# use rather than a typo.
_SHARED_TABLES = frozenset({(), ("targets", "*")})

# Tables accepted but not acted on yet, with what to do instead (none at the moment).
_NOT_IMPLEMENTED: dict[tuple[str, str], str] = {}


def unknown_key_notice(loc: tuple[int | str, ...], file: str, lines: KeyLines) -> ConfigNotice:
    """Warn about a key xcargo-web ignores, suggesting the known key it most looks like."""
    parent, key = _generic(loc[:-1]), str(loc[-1])
    known = list(_TABLES[parent].model_fields)
    if parent in _SHARED_TABLES and not difflib.get_close_matches(key, known, n=1):
        message = "not used by xcargo-web, ignored"
    else:
        message = unknown_key_message(key, known)
    return ConfigNotice(file, lines.line_of(loc), dotted(loc), message)


def unknown_key_message(key: str, known: list[str]) -> str:
    """An ignored key, with the known key it most looks like, else the known keys."""
    suggestion = difflib.get_close_matches(key, known, n=1)
    if suggestion:
        return f"unknown key (did you mean {suggestion[0]!r}?), ignored"
    return f"unknown key, ignored (known keys: {', '.join(known)})"


def _generic(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Replace the triple in a `targets.<triple>...` path by '*'."""
    return ("targets", "*", *loc[2:]) if loc[:1] == ("targets",) and len(loc) > 1 else loc


def unsupported_notices(
    data: dict[str, Any], file: str, lines: KeyLines
) -> tuple[ConfigNotice, ...]:
    """Notices for the keys present in the file that are accepted but not acted on yet."""
    container = data.get("container", {})
    present = {path: text for path, text in _NOT_IMPLEMENTED.items() if path[1] in container}
    notices = [
        ConfigNotice(file, lines.line_of(path), dotted(path), text)
        for path, text in present.items()
    ]
    return tuple(sorted(notices, key=file_order))


# A problem in a file, located, and what to do about it.
Problem = tuple[ConfigNotice, str | None]


def config_error(errors: list[ErrorDetails], file: str, lines: KeyLines) -> ConfigError:
    """One ConfigError located at the first problem in the file, listing the others after it."""
    return located_error([_problem(error, file, lines) for error in errors])


def located_error(problems: list[Problem]) -> ConfigError:
    """One ConfigError located at the first of the problems of a file, listing the others."""
    problems = sorted(problems, key=lambda problem: file_order(problem[0]))
    first, hint = problems[0]
    message = "\n".join([first.message, *(str(notice) for notice, _ in problems[1:])])
    return ConfigError(message, file=first.file, line=first.line, key=first.key, hint=hint)


def error_location(error: ErrorDetails) -> tuple[int | str, ...]:
    """Where pydantic found a problem; "[key]" marks a bad dict key, located like its value."""
    return tuple(part for part in error["loc"] if part != "[key]")


def error_hint(error: ErrorDetails) -> str | None:
    return error.get("ctx", {}).get("hint") if error["type"] == "xcargo" else None


def _problem(error: ErrorDetails, file: str, lines: KeyLines) -> Problem:
    loc = error_location(error)
    return ConfigNotice(file, lines.line_of(loc), dotted(loc), error_text(error)), error_hint(error)


def error_text(error: ErrorDetails) -> str:
    """Say what pydantic found wrong in TOML terms ("true or false", "a table")."""
    kind, ctx, got = error["type"], error.get("ctx", {}), shown(error["input"])
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


def dotted(loc: tuple[int | str, ...]) -> str:
    """Write a key path as TOML would, quoting parts that are not bare keys: a."b.c".d[0]."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        bare = re.fullmatch(r"[A-Za-z0-9_-]+", part)
        text += ("." if text else "") + (part if bare else json.dumps(part))
    return text
