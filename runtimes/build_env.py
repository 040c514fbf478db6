"""The variables a build sees beyond xcargo's own: names passed through from where xcargo runs,
fixed values, and secrets whose values never leave the build in clear.

Where a passed-through name takes its value differs by caller: the CLI reads its own
environment, as cross does; the server reads only the variables its admins set for the
project, never the worker's environment (which holds the server's own secrets).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from runtimes.errors import UsageError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_VALUE_CHARS = 32 * 1024
# A secret shorter than this would mask ordinary words of the log, so none is accepted.
MIN_SECRET_CHARS = 6
MASK = "********"

# Set by xcargo for every build: they keep caches, the target directory and the certificate
# bundle where the sandbox put them, so a project cannot move them.
RESERVED = frozenset(
    {
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_ARTIFACT_DIR",
        "CARGO_HTTP_CAINFO",
        "CARGO_NET_OFFLINE",
        "HOME",
        "ZIG_GLOBAL_CACHE_DIR",
        "ZIG_LOCAL_CACHE_DIR",
    }
)


def check_env_name(name: str) -> str:
    """A variable name a shell and cargo accept, and not one xcargo sets itself."""
    if not _NAME.match(name):
        raise UsageError(
            f"{name[:60]!r} is not a valid environment variable name",
            hint="use letters, digits and '_', not starting with a digit, e.g. API_TOKEN",
        )
    if name.upper() in RESERVED:
        raise UsageError(
            f"{name} is set by xcargo for every build and cannot be changed",
            hint="it keeps the caches and the target directory where the sandbox put them",
        )
    return name


def check_env_value(value: str) -> str:
    if "\x00" in value:
        raise UsageError("an environment variable cannot contain a NUL character")
    if len(value) > MAX_VALUE_CHARS:
        raise UsageError(f"an environment variable is longer than {MAX_VALUE_CHARS} characters")
    return value


def check_secret_value(value: str) -> str:
    """A secret must be long enough to be masked without masking the log's ordinary words."""
    check_env_value(value)
    if len(value) < MIN_SECRET_CHARS:
        raise UsageError(
            f"a secret must be at least {MIN_SECRET_CHARS} characters long, to be masked in logs",
            hint="a shorter value is no secret: make it a plain variable",
        )
    return value


@dataclass(frozen=True)
class BuildEnvironment:
    """What a build's containers get, and which of the values are secret."""

    values: Mapping[str, str] = field(default_factory=dict)
    # The names whose values are masked wherever the build's output goes (log, failure, tests).
    secrets: frozenset[str] = frozenset()
    # Passed-through names that had no value where xcargo ran: not set in the build.
    missing: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        """What the log says of the environment: names only, never a value."""
        lines = []
        if self.values:
            names = ", ".join(
                f"{name} (secret)" if name in self.secrets else name for name in sorted(self.values)
            )
            lines.append(f"environment: {names}")
        for name in self.missing:
            lines.append(f"environment: {name} is to be passed through but is not set: not set")
        return lines

    def masker(self) -> Callable[[str], str]:
        """Replace every secret value in a text, longest first so that one secret inside
        another is masked whole; each line of a multi-line secret is masked on its own, since
        logs are read line by line.
        """
        pieces = {
            piece
            for secret in (self.values[name] for name in self.secrets)
            for piece in (secret, *secret.splitlines())
            if len(piece) >= MIN_SECRET_CHARS
        }
        secrets = sorted(pieces, key=len, reverse=True)
        if not secrets:
            return _unchanged
        pattern = re.compile("|".join(re.escape(secret) for secret in secrets))
        return lambda text: pattern.sub(MASK, text)


def _unchanged(text: str) -> str:
    return text


def resolve_environment(
    passthrough: Iterable[str],
    values: Mapping[str, str],
    *,
    available: Mapping[str, str],
    secrets: Mapping[str, str] | None = None,
) -> BuildEnvironment:
    """The build's variables: passed-through names from `available`, then fixed `values`,
    then `secrets` (the server's admin-set secrets), each later one winning.
    A passthrough entry "NAME=VALUE" sets a value, as cross's does.
    """
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for entry in passthrough:
        name, equals, value = entry.partition("=")
        if equals:
            resolved[name] = value
        elif name in available:
            resolved[name] = available[name]
        else:
            missing.append(name)
    resolved.update(values)
    resolved.update(secrets or {})
    return BuildEnvironment(resolved, frozenset(secrets or {}), tuple(dict.fromkeys(missing)))
