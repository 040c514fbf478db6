"""What a review returns and raises: the images and findings a person approves, the kinds
of finding, and the error for a Dockerfile that cannot be reviewed; with `shown`, how a
finding's message quotes the file. Every other module of the review makes these, so this one
imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtimes.errors import UsageError
from runtimes.images.references import ImageReference

PIPE_TO_SHELL = "download run by a shell"
REMOVE_ROOT = "removes the filesystem root"
ADD_URL = "ADD from a URL"
UNPINNED = "base image not pinned by digest"
LATEST = "base image tagged latest"
NOT_UNDERSTOOD = "instruction not understood"
FINDING_KINDS = (PIPE_TO_SHELL, REMOVE_ROOT, ADD_URL, UNPINNED, LATEST, NOT_UNDERSTOOD)

# How an image is used, as UsedImage.how says it.
FROM = "FROM"
COPY_FROM = "COPY --from"
RUN_MOUNT = "RUN --mount"
SYNTAX = "# syntax"


class DockerfileError(UsageError):
    """A Dockerfile that cannot be reviewed, located by line so that it can be fixed."""

    def __init__(self, message: str, *, line: int | None = None, hint: str | None = None) -> None:
        where = f"Dockerfile line {line}" if line is not None else "Dockerfile"
        super().__init__(f"{where}: {message}", hint=hint)
        self.line = line


@dataclass(frozen=True)
class UsedImage:
    """An image the build pulls, where and how the file uses it."""

    line: int
    how: str
    written: str
    reference: ImageReference


@dataclass(frozen=True)
class Finding:
    """One risky thing, on the line a person should read."""

    line: int
    kind: str
    message: str


@dataclass(frozen=True)
class DockerfileReview:
    """What a person approves: the images and findings of exactly one Dockerfile and its args."""

    digest: str
    images: tuple[UsedImage, ...]
    findings: tuple[Finding, ...]
    # The paths of the build context COPY and ADD take (relative, as written: globs kept), so
    # that only they make a custom image's name; None when a variable hides one (then the
    # whole context counts).
    context_sources: tuple[str, ...] | None = ()

    @property
    def clean(self) -> bool:
        return not self.findings


def shown(text: str, limit: int = 120) -> str:
    """Text for a message: whitespace runs made single spaces, and cut if long."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
