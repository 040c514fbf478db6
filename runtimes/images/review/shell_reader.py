"""Reading shell text into the model within a review's budgets: with bashlex while it is
affordable and able, else with the token-level scanner, so that no command goes unread and
hostile text cannot stall a review.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtimes.images.review.shell_model import MAX_NESTING, Command, Pipeline, Script
from runtimes.images.review.shell_scanner import Scanner

if TYPE_CHECKING:
    import bashlex

# bashlex takes some 10 µs a character: it reads scripts up to this long, and this much in all
# per review; the scanner reads the rest, in linear time but not for free, so a review reads
# at most _SHELL_BUDGET characters of commands that could hold a finding.
_BASHLEX_MAX = 8_000
_BASHLEX_BUDGET = 30_000
_SHELL_BUDGET = 256 * 1024
# What one call costs beyond its characters, in characters: tiny scripts are not free.
_READ_COST = 64
_BASHLEX_CALL_COST = 100
# Every rule needs a command named curl, wget or rm: text without these names (once quotes,
# backslashes and newlines are dropped, as they are from words) holds no finding.
_TRIGGER = re.compile("curl|wget|rm")
_QUOTING = str.maketrans("", "", "'\"\\`\n")

_EMPTY_SCRIPT = Script((), ())


class OverBudget(Exception):
    """More commands to read than a review affords; the file is refused, not half-read."""


@dataclass
class ShellReader:
    """Reads the shell text of one review, within its budgets."""

    bashlex_left: int = _BASHLEX_BUDGET
    shell_left: int = _SHELL_BUDGET

    def read(self, text: str) -> Script:
        """Parse with bashlex while it is affordable and able, else scan token by token."""
        if not _TRIGGER.search(text.translate(_QUOTING)):
            return _EMPTY_SCRIPT
        self.shell_left -= len(text) + _READ_COST
        if self.shell_left < 0:
            raise OverBudget(f"more than {_SHELL_BUDGET} characters of commands to review")
        cost = len(text) + _BASHLEX_CALL_COST
        if len(text) <= _BASHLEX_MAX and cost <= self.bashlex_left:
            self.bashlex_left -= cost
            # Imported on a review's first command: loading bashlex's grammar takes about a
            # second, which every `xcargo` run and worker start would pay otherwise.
            import bashlex

            try:
                return _BashlexReader(text).read(bashlex.parse(text), 0)
            except Exception:  # bashlex is a partial grammar that fails in many ways
                pass
        return Scanner(text, 0).script(closing=False)


class _TooDeep(Exception):
    """Nesting deeper than MAX_NESTING: the scanner reads it flat instead."""


class _BashlexReader:
    """Turns bashlex's tree into the model, collecting commands in order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.commands: list[Command] = []
        self.pipelines: list[Pipeline] = []

    def read(self, nodes: Sequence[bashlex.ast.node], depth: int) -> Script:
        for node in nodes:
            self._visit(node, depth)
        return Script(tuple(self.commands), tuple(self.pipelines))

    def _visit(self, node: bashlex.ast.node, depth: int) -> None:
        if node.kind == "command":
            self.commands.append(self._command(node, depth))
        elif node.kind == "pipeline":
            stages = []
            for part in node.parts:
                if part.kind != "pipe":
                    first = len(self.commands)
                    self._visit(part, depth)
                    stages.append(tuple(self.commands[first:]))
            self.pipelines.append(Pipeline(tuple(stages), self._text(node), node.pos[0]))
        else:
            for child in getattr(node, "parts", None) or getattr(node, "list", None) or ():
                self._visit(child, depth)

    def _command(self, node: bashlex.ast.node, depth: int) -> Command:
        words: list[str] = []
        substitutions: list[tuple[int, Script]] = []
        redirects: list[tuple[str, str]] = []
        for part in node.parts:
            if part.kind in ("word", "assignment"):
                substitutions += [(len(words), s) for s in self._substitutions(part, depth)]
                words.append(part.word)
            elif part.kind == "redirect" and not isinstance(part.output, int):
                substitutions += [(-1, s) for s in self._substitutions(part.output, depth)]
                redirects.append((part.type, part.output.word))
        return Command(
            tuple(words), self._text(node), node.pos[0], tuple(substitutions), tuple(redirects)
        )

    def _substitutions(self, node: bashlex.ast.node, depth: int) -> Iterator[Script]:
        for part in getattr(node, "parts", None) or ():
            if part.kind in ("commandsubstitution", "processsubstitution"):
                if depth >= MAX_NESTING:
                    raise _TooDeep
                yield _BashlexReader(self.text).read([part.command], depth + 1)
            else:
                yield from self._substitutions(part, depth)

    def _text(self, node: bashlex.ast.node) -> str:
        return self.text[node.pos[0] : node.pos[1]]
