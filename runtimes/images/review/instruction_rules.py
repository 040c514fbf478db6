"""The findings of each instruction: one Docker does not have, ADD from a URL, and those of
the shell commands of RUN (with its heredocs), CMD, ENTRYPOINT and HEALTHCHECK, each placed on
the line of the file a person should read.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from runtimes.images.review.dockerfile import Heredoc, Instruction, exec_form, split_flags
from runtimes.images.review.result import ADD_URL, NOT_UNDERSTOOD, Finding, shown
from runtimes.images.review.shell_model import Command, Script
from runtimes.images.review.shell_reader import ShellReader
from runtimes.images.review.shell_rules import Hit, script_hits

_INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)  # fmt: skip
_REMOTE_SOURCE = re.compile(r"(?:https?|git|ssh)://|git@", re.IGNORECASE)
_SHELL_INSTRUCTIONS = frozenset({"RUN", "CMD", "ENTRYPOINT", "HEALTHCHECK"})


def instruction_findings(instruction: Instruction, shell: ShellReader) -> Iterator[Finding]:
    if instruction.keyword not in _INSTRUCTIONS:
        message = f"{shown(instruction.written)} is not a Dockerfile instruction"
        yield Finding(instruction.line, NOT_UNDERSTOOD, message)
        # What Docker would refuse may still be a command that was meant to run (after a blank
        # line in a continuation, which BuildKit skips and dockerfile-parse ends the RUN at).
        command = f"{instruction.written} {instruction.value}"
        yield from _command_findings(command, instruction.line, shell)
    elif instruction.keyword in _SHELL_INSTRUCTIONS:
        yield from _shell_instruction_findings(instruction, shell)
    elif instruction.keyword == "ADD":
        yield from _add_findings(instruction)


def _shell_instruction_findings(instruction: Instruction, shell: ShellReader) -> Iterator[Finding]:
    _, command = split_flags(instruction.value)
    if instruction.keyword == "HEALTHCHECK":
        first, _, command = command.partition(" ")
        if first.upper() != "CMD":
            return
    words = exec_form(command.strip())
    if words is not None:
        script = Script((Command(tuple(words), " ".join(words), 0),), ())
        yield from _located(script_hits(script, shell, 0), instruction.line)
    else:
        yield from _command_findings(command, instruction.line, shell)
    if instruction.keyword == "RUN":
        for heredoc in instruction.heredocs:
            yield from _heredoc_findings(heredoc, shell)


def _command_findings(command: str, line: int, shell: ShellReader) -> Iterator[Finding]:
    """Findings of a command that stands on one instruction: all on its first line."""
    yield from _located(script_hits(shell.read(command), shell, 0), line)


def _heredoc_findings(heredoc: Heredoc, shell: ShellReader) -> Iterator[Finding]:
    """Findings of a heredoc script, each on the line of the file where its command stands."""
    newlines = [match.start() for match in re.finditer("\n", heredoc.body)]
    for hit in script_hits(shell.read(heredoc.body), shell, 0):
        line = heredoc.line + bisect.bisect_left(newlines, hit.offset)
        yield Finding(line, hit.kind, hit.message)


def _located(hits: Iterator[Hit], line: int) -> Iterator[Finding]:
    return (Finding(line, hit.kind, hit.message) for hit in hits)


def _add_findings(instruction: Instruction) -> Iterator[Finding]:
    _, rest = split_flags(instruction.value)
    words = exec_form(rest) or rest.split()
    for source in words[:-1]:  # the last word is the destination
        if _REMOTE_SOURCE.match(source):
            message = f"{instruction.written} {shown(source)} downloads at build time"
            yield Finding(instruction.line, ADD_URL, message)
