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
    ("targets", "*"): TargetTable,
    ("targets", "*", "container"): TargetContainerConfig,
}
# Tables other parts of xcargo read too: an unknown key there is a feature xcargo-web does not
# use rather than a typo.
_SHARED_TABLES = frozenset({(), ("targets", "*")})

_NOT_IMPLEMENTED = {
    ("container", "podman_machine"): (
        "Podman machine management is not implemented yet: create and start the machine "
        "yourself (`podman machine init`, `podman machine start`)"
    ),
}


def unknown_key_notice(loc: tuple[int | str, ...], file: str, lines: KeyLines) -> ConfigNotice:
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


def unsupported_notices(
    data: dict[str, Any], file: str, lines: KeyLines
) -> tuple[ConfigNotice, ...]:
    """Notices for the keys present in the file that are accepted but not acted on yet."""
    container = data.get("container", {})
    present = {path: text for path, text in _NOT_IMPLEMENTED.items() if path[1] in container}
    notices = [
        ConfigNotice(file, lines.line_of(path), _dotted(path), text)
        for path, text in present.items()
    ]
    return tuple(sorted(notices, key=file_order))


def config_error(errors: list[ErrorDetails], file: str, lines: KeyLines) -> ConfigError:
    """One ConfigError located at the first problem in the file, listing the others after it."""
    problems = [_problem(error, file, lines) for error in errors]
    problems.sort(key=lambda problem: file_order(problem[0]))
    first, hint = problems[0]
    message = "\n".join([first.message, *(str(notice) for notice, _ in problems[1:])])
    return ConfigError(message, file=file, line=first.line, key=first.key, hint=hint)


def _problem(error: ErrorDetails, file: str, lines: KeyLines) -> tuple[ConfigNotice, str | None]:
    """Locate one pydantic error; "[key]" marks a bad dict key, which is located like its value."""
    loc = tuple(part for part in error["loc"] if part != "[key]")
    hint = error.get("ctx", {}).get("hint") if error["type"] == "xcargo" else None
    return ConfigNotice(file, lines.line_of(loc), _dotted(loc), _human(error)), hint


def _human(error: ErrorDetails) -> str:
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
