"""The errors xcargo reports to people.

Every error a user can cause or fix carries a `hint` that says what to do next, so the CLI and the
server can show the same advice without knowing where the error came from. Its `kind` (one of
`runtimes.vocabulary`'s error kinds) is what the server records and what gives the CLI the exit
status a script can rely on.
"""

from __future__ import annotations

from runtimes import vocabulary
from runtimes.vocabulary import ErrorKind


class XcargoError(Exception):
    """A failure a user can understand and act on (as opposed to a bug in xcargo); one that
    names no narrower kind is the engine's doing (a container that could not be run, an
    archive it returned wrong).
    """

    kind: ErrorKind = vocabulary.ENGINE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"

    @property
    def exit_code(self) -> int:
        return self.kind.exit_code


class UsageError(XcargoError):
    """Input that cannot be used as given: a bad flag, triple, path or image reference."""

    kind = vocabulary.USER


class ConfigError(UsageError):
    """A problem in xcargo.toml, located by file, line and key."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ":".join(str(part) for part in (file, line) if part is not None)
        located = f"{where}: " if where else ""
        keyed = f"{key}: " if key else ""
        super().__init__(f"{located}{keyed}{message}", hint=hint)
        self.file = file
        self.line = line
        self.key = key


class EngineUnavailable(XcargoError):
    """No container engine answers, or the one asked for is not the one found."""

    kind = vocabulary.ENGINE
