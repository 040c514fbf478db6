"""A small model of shell commands, which the readers build and the rules read: simple
commands with their words, substitutions and redirections, the pipelines they stand in, and
what each command runs (through wrappers such as sudo and env), which every rule asks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

# Deeper `$(…)` nesting than this is read flat; deeper `sh -c` nesting is not followed.
MAX_NESTING = 12
DOWNLOADERS = frozenset({"curl", "wget"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
# Words that start a command without being it: reserved words and the usual wrappers, with the
# short options of each wrapper that take a value (`sudo -u root sh` runs sh).
_RESERVED = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "(", "time"})
_WRAPPERS = {
    "sudo": "CDghpRrTtUu",
    "doas": "Cu",
    "env": "uCS",
    "command": "",
    "exec": "a",
    "nohup": "",
    "nice": "n",
    "busybox": "",
    "stdbuf": "ioe",
}


@dataclass(frozen=True)
class Command:
    """A simple command: its words after quote removal (expansions kept as written)."""

    words: tuple[str, ...]
    text: str
    offset: int
    # `$(…)`, backquotes and `<(…)`, with the index of the word they are in (-1: a redirection).
    substitutions: tuple[tuple[int, Script], ...] = ()
    redirects: tuple[tuple[str, str], ...] = ()  # (operator, target)

    @cached_property
    def invocation(self) -> tuple[int, str] | None:
        """What the command runs; asked by every rule, so worked out once."""
        return _invocation(self.words)

    @cached_property
    def downloads(self) -> bool:
        """A download command, or one whose substitutions download (`echo "$(curl …)"`);
        asked at every level of nesting, so worked out once.
        """
        found = self.invocation
        if found and found[1] in DOWNLOADERS:
            return True
        return any(fetches(inner) for _, inner in self.substitutions)


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[tuple[Command, ...], ...]  # a stage is a command or a group of them
    text: str
    offset: int


@dataclass(frozen=True)
class Script:
    commands: tuple[Command, ...]  # every simple command, in order
    pipelines: tuple[Pipeline, ...]  # every pipeline of two or more stages


def _invocation(words: Sequence[str]) -> tuple[int, str] | None:
    """The index and name (path stripped) of the command the words run, looking through
    assignments, reserved words and wrappers such as sudo and env; "" for an expansion.
    """
    index = 0
    while index < len(words):
        word = words[index]
        name = basename(word)
        if word in _RESERVED or _ASSIGNMENT.match(word):
            index += 1
        elif name in _WRAPPERS:
            index = _after_options(words, index + 1, _WRAPPERS[name])
        else:
            return index, "" if word.startswith(("$", "`", "<(")) else name
    return None


def _after_options(words: Sequence[str], index: int, with_value: str) -> int:
    while index < len(words) and words[index].startswith("-") and words[index] != "-":
        option = words[index]
        index += 1
        if option == "--":
            break
        if not option.startswith("--") and option[-1] in with_value:
            index += 1
    return index


def fetches(script: Script) -> bool:
    return any(command.downloads for command in script.commands)


def basename(path: str) -> str:
    return path.rpartition("/")[2]
