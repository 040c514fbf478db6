"""The errors xcargo reports to people.

Every error a user can cause or fix carries a `hint` that says what to do next, so the CLI and the
server can show the same advice without knowing where the error came from. `exit_code` lets the
CLI map each kind of failure to a status a script can rely on.
"""

from __future__ import annotations


class XcargoError(Exception):
    """A failure a user can understand and act on (as opposed to a bug in xcargo)."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(XcargoError):
    """Input that cannot be used as given: a bad flag, triple, path or image reference."""

    exit_code = 2


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

    exit_code = 3
