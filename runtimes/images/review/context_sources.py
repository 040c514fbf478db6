"""What a Dockerfile takes from its build context: the sources of its COPY and ADD lines.

A custom image is named by what it is made from; with the project root as the context, naming
it by every file sent would make each edit of a source file a new image, and each new image a
cold target cache. What the image holds from the context is only what COPY and ADD take.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from runtimes.images.review.dockerfile import (
    Instruction,
    dequoted,
    exec_form,
    split_flags,
    split_words,
)

#: A source standing for the whole context.
WHOLE_CONTEXT = "*"
_REMOTE = ("http://", "https://", "git@", "git://", "ssh://")


def context_sources(instructions: Sequence[Instruction]) -> tuple[str, ...] | None:
    """The context paths (or globs) COPY and ADD of this build take, normalised relative to
    the context; None when one depends on a variable. COPY --from takes from an image or a
    stage, ADD of a URL from the network, a heredoc from the file itself: none of them count,
    and neither do ONBUILD lines, which run in other builds.
    """
    sources: list[str] = []
    for instruction in instructions:
        if instruction.keyword not in ("COPY", "ADD") or instruction.onbuild:
            continue
        flags, rest = split_flags(instruction.value)
        if any(flag.startswith("--from") for flag in flags):
            continue
        words = exec_form(rest) or [dequoted(word) for word in split_words(rest)]
        for source in words[:-1]:  # the last word is the destination
            if source.startswith(_REMOTE):
                continue
            if "$" in source:
                return None
            sources.append(_normalised(source))
    return tuple(dict.fromkeys(sources))


def _normalised(source: str) -> str:
    """`./tools/`, `/tools` and `tools` are the same place in the context; `.` is all of it."""
    path = posixpath.normpath("/" + source).lstrip("/")
    return path or WHOLE_CONTEXT
