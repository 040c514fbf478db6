"""The token-level scanner, which reads what bashlex cannot parse (it knows no `[[ ]]`,
`case` or arithmetic) or should not be given, in time linear in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from runtimes.images.review.shell_model import MAX_NESTING, Command, Pipeline, Script

_SPACE = re.compile(r"[^\S\n]+")  # all whitespace but the newline, which ends a command
_PLAIN = re.compile(r"[^\s'\"\\`$|&;()<>]+")
_IN_DOUBLE_QUOTES = re.compile(r"[^\"\\$`]+")
_IN_BACKQUOTES = re.compile(r"(?:[^`\\]|\\.)*", re.DOTALL)
_IN_ANSI_C_QUOTES = re.compile(r"(?:[^'\\]|\\.)*", re.DOTALL)
_OPERATOR = re.compile(r"&&|\|\||;;&?|;&|\|&|[;&|\n]")
_GRAMMAR_WORDS = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "esac"}
)
_REDIRECT = re.compile(r"\d*(?:<<<|<<-?|<>|<&|>&|>>|>\||&>>|&>|<|>)")
_BACKSLASHED = re.compile(r"\\([$`\\])")


@dataclass
class _CommandBuilder:
    """The command, pipeline stage and pipeline being scanned."""

    text: str
    commands: list[Command] = field(default_factory=list)
    pipelines: list[Pipeline] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    substitutions: list[tuple[int, Script]] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)
    start: int | None = None
    stage: list[Command] = field(default_factory=list)
    stages: list[tuple[Command, ...]] = field(default_factory=list)
    pipeline_start: int | None = None

    def begin(self, position: int) -> None:
        if self.start is None:
            self.start = position
        if self.pipeline_start is None:
            self.pipeline_start = position

    def word(self, word: str, substitutions: list[Script], position: int) -> None:
        self.begin(position)
        self.substitutions += [(len(self.words), script) for script in substitutions]
        self.words.append(word)

    def redirect(self, operator: str, target: str, substitutions: list[Script], at: int) -> None:
        self.begin(at)
        self.substitutions += [(-1, script) for script in substitutions]
        self.redirects.append((operator, target))

    def end_command(self, position: int) -> None:
        if self.start is not None:
            text = self.text[self.start : position].strip()
            command = Command(
                tuple(self.words),
                text,
                self.start,
                tuple(self.substitutions),
                tuple(self.redirects),
            )
            self.commands.append(command)
            self.stage.append(command)
        self.words, self.substitutions, self.redirects, self.start = [], [], [], None

    def end_stage(self, position: int) -> None:
        self.end_command(position)
        if self.stage:
            self.stages.append(tuple(self.stage))
        self.stage = []

    def end_pipeline(self, position: int) -> None:
        self.end_stage(position)
        if len(self.stages) > 1 and self.pipeline_start is not None:
            text = self.text[self.pipeline_start : position].strip()
            self.pipelines.append(Pipeline(tuple(self.stages), text, self.pipeline_start))
        self.stages, self.pipeline_start = [], None


class Scanner:
    """Token-level reading for what bashlex cannot parse or should not be given.

    Quotes, escapes, operators, comments, groups and substitutions are followed; grammar is
    not: `if`, `then`, `{` and the like are words that the rules skip over, and `;` inside a
    group does not end the pipeline the group stands in. Every step consumes input, so it
    ends in time linear in the text (times the nesting depth, which is bounded).
    """

    def __init__(self, text: str, depth: int, position: int = 0) -> None:
        self.text = text
        self.depth = depth
        self.position = position

    def script(self, *, closing: bool) -> Script:
        """Read up to the end, or with `closing` up to the `)` that closes a substitution."""
        build = _CommandBuilder(self.text)
        groups = 0
        while self.position < len(self.text):
            start = self.position
            if self._skip_blank(start):
                continue
            edge = self._group_edge(start)
            if edge == "(":
                groups += 1
                build.end_command(start)
            elif edge == ")" and groups:
                groups -= 1
                build.end_command(start)
            elif edge == ")":
                if closing and self.text[start] == ")":
                    break
                build.end_pipeline(start)  # a `case` pattern's `)`
            elif self._starts_word(start):
                self._read_word(build, start)
            elif redirect := _REDIRECT.match(self.text, start):
                self._read_redirect(build, redirect)
            else:
                self._read_operator(build, start, groups)
        build.end_pipeline(self.position)
        return Script(tuple(build.commands), tuple(build.pipelines))

    def _skip_blank(self, start: int) -> bool:
        """Skip blanks and a comment (a `#` where a word would start)."""
        if space := _SPACE.match(self.text, start):
            self.position = space.end()
        elif self.text[start] == "#":
            end = self.text.find("\n", start)
            self.position = len(self.text) if end < 0 else end
        return self.position != start

    def _group_edge(self, start: int) -> str:
        """ "(" or ")" when a group opens or closes here (past it, then), else ""."""
        char = self.text[start]
        if char in "()" or (char in "{}" and self._alone(start)):
            self.position = start + 1
            return "(" if char in "({" else ")"
        return ""

    def _read_word(self, build: _CommandBuilder, start: int) -> None:
        word, substitutions = self._word()
        self.position = max(self.position, start + 1)  # progress, whatever the input
        if build.start is None and word in _GRAMMAR_WORDS:
            build.end_pipeline(start)  # `if`, `then`, `do`…: what follows is a new command
        else:
            build.word(word, substitutions, start)

    def _read_redirect(self, build: _CommandBuilder, redirect: re.Match[str]) -> None:
        self.position = redirect.end()
        if space := _SPACE.match(self.text, self.position):
            self.position = space.end()
        target, substitutions = self._word()
        build.redirect(redirect[0], target, substitutions, redirect.start())

    def _read_operator(self, build: _CommandBuilder, start: int, groups: int) -> None:
        """`|` ends a pipeline stage; `;`, `&&`, `||`, `&` and newlines end the pipeline, but
        only the command inside a group, which stands in a pipeline as a whole.
        """
        operator = _OPERATOR.match(self.text, start)
        self.position = operator.end() if operator else start + 1
        if operator and operator[0] in ("|", "|&"):
            build.end_stage(start)
        elif groups:
            build.end_command(start)
        else:
            build.end_pipeline(start)

    def _starts_word(self, position: int) -> bool:
        if self.text.startswith(("<(", ">("), position):
            return self.depth < MAX_NESTING
        return not (_REDIRECT.match(self.text, position) or _OPERATOR.match(self.text, position))

    def _alone(self, position: int) -> bool:
        """`{`/`}` group only as words of their own (`${x}` and `a{b}` are no groups)."""
        after = self.text[position + 1 : position + 2]
        return after == "" or after.isspace() or after in ";&|)"

    def _word(self) -> tuple[str, list[Script]]:
        parts: list[str] = []
        substitutions: list[Script] = []
        text = self.text
        while self.position < len(text):
            start = self.position
            char = text[start]
            if plain := _PLAIN.match(text, start):
                parts.append(plain[0])
                self.position = plain.end()
            elif char == "'":
                end = text.find("'", start + 1)
                end = len(text) if end < 0 else end
                parts.append(text[start + 1 : end])
                self.position = end + 1
            elif char == "\\":
                parts.append(text[start + 1 : start + 2].replace("\n", ""))
                self.position = start + 2
            elif char == '"':
                self._double_quoted(parts, substitutions)
            elif char == "`":
                self._backquoted(parts, substitutions)
            elif char == "$":
                self._dollar(parts, substitutions)
            elif text.startswith(("<(", ">("), start) and self.depth < MAX_NESTING:
                self._substitution(parts, substitutions, 2)
            else:
                break
        return "".join(parts), substitutions

    def _double_quoted(self, parts: list[str], substitutions: list[Script]) -> None:
        text = self.text
        self.position += 1
        while self.position < len(text):
            start = self.position
            char = text[start]
            if chunk := _IN_DOUBLE_QUOTES.match(text, start):
                parts.append(chunk[0])
                self.position = chunk.end()
            elif char == '"':
                self.position += 1
                return
            elif char == "\\":
                escaped = text[start + 1 : start + 2]
                kept = escaped if escaped in '$`"\\' else "\\" + escaped
                parts.append("" if escaped == "\n" else kept)
                self.position = start + 2
            elif char == "`":
                self._backquoted(parts, substitutions)
            else:
                self._dollar(parts, substitutions)

    def _dollar(self, parts: list[str], substitutions: list[Script]) -> None:
        text, start = self.text, self.position
        following = text[start + 1 : start + 2]
        if following == "(" and self.depth < MAX_NESTING:
            self._substitution(parts, substitutions, 2)
        elif following == "{":
            end = text.find("}", start + 2)
            end = len(text) if end < 0 else end
            parts.append(text[start : end + 1])
            self.position = end + 1
        elif following == "'":
            body = _IN_ANSI_C_QUOTES.match(text, start + 2)
            assert body is not None
            parts.append(body[0])
            self.position = body.end() + 1
        else:  # `$x`; also `$(` too deep to follow, which then reads as a group
            parts.append("$")
            self.position = start + 1

    def _substitution(self, parts: list[str], substitutions: list[Script], opener: int) -> None:
        start = self.position
        inner = Scanner(self.text, self.depth + 1, start + opener)
        substitutions.append(inner.script(closing=True))
        self.position = inner.position
        parts.append(self.text[start : self.position])

    def _backquoted(self, parts: list[str], substitutions: list[Script]) -> None:
        """Backquotes nest only by escaping, so their depth grows with the log of the length."""
        start = self.position
        body = _IN_BACKQUOTES.match(self.text, start + 1)
        assert body is not None
        self.position = body.end() + 1
        parts.append(self.text[start : self.position])
        inner = Scanner(_BACKSLASHED.sub(r"\1", body[0]), self.depth + 1)
        substitutions.append(inner.script(closing=False))
