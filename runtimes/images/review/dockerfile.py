"""Reading the Dockerfile: dockerfile-parse, and heredocs, which it does not know.

Instructions come with their lines, continuation lines joined, heredoc bodies attached and
their flags and exec form readable; what no person could review is refused here, before the
parser spends its time on it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockerfile_parse import DockerfileParser
from dockerfile_parse.constants import COMMENT_INSTRUCTION
from dockerfile_parse.util import WordSplitter

from runtimes.images.review.result import DockerfileError

# BuildKit reads heredocs in these only, and not in their JSON (exec) form.
_HEREDOC_INSTRUCTIONS = frozenset({"ADD", "COPY", "RUN"})
# BuildKit's pattern for a heredoc word: optional fd, `<<`, optional `-`, the delimiter.
_HEREDOC_WORD = re.compile(r"(\d*)<<(-?)([^<]*)")
# More continued lines in a row than any real instruction has; see _check_continuations.
_MAX_CONTINUED_LINES = 2000
_QUOTED = re.compile(r"['\"\\\\]")
_CONTINUED = re.compile(r"[\\`][ \t\r]*\n")
# Longer files and instructions (and RUN heredocs) than any person reviews. Refusing them
# bounds the time dockerfile-parse takes, some microseconds a line, and keeps its word
# splitter, quadratic in the length of a word, quick.
_MAX_LINES = 100_000
_MAX_INSTRUCTION_LENGTH = 32 * 1024
TOO_LARGE_HINT = "split the work into smaller steps, or move long scripts into files"


@dataclass(frozen=True)
class Heredoc:
    line: int  # 1-based line of the body's first line
    body: str


@dataclass(frozen=True)
class Instruction:
    """An instruction; for ONBUILD, the one it wraps, which runs in images built FROM this."""

    keyword: str  # upper-case
    value: str  # continuation lines joined, heredoc words (`<<EOF`) taken out
    line: int
    written: str  # the keyword as the file spells it, for messages
    onbuild: bool = False
    heredocs: tuple[Heredoc, ...] = ()

    def with_heredocs(self, value: str, heredocs: tuple[Heredoc, ...]) -> Instruction:
        # Not dataclasses.replace(): that is slow enough to matter for hostile files.
        return Instruction(self.keyword, value, self.line, self.written, self.onbuild, heredocs)


def read_dockerfile(text: str) -> tuple[list[str], list[Instruction]]:
    text = text.removeprefix("\ufeff")  # BuildKit drops a byte-order mark; the parser does not
    if not text.strip():
        raise DockerfileError("the file is empty", hint="a Dockerfile starts with FROM <image>")
    data = text.encode("utf-8", "replace")
    lines = _lines(data.decode())
    if len(lines) > _MAX_LINES:
        message = f"the file has more than {_MAX_LINES} lines"
        raise DockerfileError(message, line=_MAX_LINES + 1, hint=TOO_LARGE_HINT)
    _check_continuations(text, lines)
    parser = DockerfileParser(fileobj=io.BytesIO(data))
    return lines, list(_instructions(parser.structure, lines))


def _lines(text: str) -> list[str]:
    """The lines as dockerfile-parse numbers them (it splits bytes at "\n" only, as Docker
    does, where str.splitlines() would split at more characters), without its slow decoding.
    """
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _check_continuations(text: str, lines: Sequence[str]) -> None:
    """Refuse absurd runs of continued lines before dockerfile-parse sees them: it joins them
    by repeated string concatenation, which takes minutes for a hostile megabyte.

    Both escape characters count, whatever the `# escape=` directive says, and comment lines
    do not break a run: that errs towards refusing only files no person writes.
    """
    if len(_CONTINUED.findall(text)) <= _MAX_CONTINUED_LINES:
        return
    run, first = 0, 0
    for index, line in enumerate(lines):
        stripped = line.rstrip()
        if stripped.endswith(("\\", "`")):
            run, first = run + 1, first if run else index
            if run > _MAX_CONTINUED_LINES:
                message = f"an instruction continues over more than {_MAX_CONTINUED_LINES} lines"
                raise DockerfileError(message, line=first + 1)
        elif not stripped.lstrip().startswith("#"):
            run = 0


def _instructions(
    structure: Sequence[Mapping[str, Any]], lines: Sequence[str]
) -> Iterator[Instruction]:
    """The file's instructions in order, with heredoc bodies attached rather than taken for
    instructions (dockerfile-parse reads `RUN <<EOF`'s body lines as instructions of their own).
    """
    entries = [entry for entry in structure if entry["instruction"] != COMMENT_INSTRUCTION]
    body_end = -1  # 0-based index of the last line of the latest heredoc body
    for entry in sorted(entries, key=lambda entry: entry["startline"]):
        if entry["startline"] <= body_end:
            continue
        instruction = _instruction(entry)
        _check_length(instruction.value, instruction)
        names, value = _heredoc_words(instruction)
        if names:
            heredocs, body_end = _heredocs(instruction, names, entry["endline"], lines)
            instruction = instruction.with_heredocs(value, heredocs)
        yield instruction


def _check_length(text: str, instruction: Instruction) -> None:
    if len(text) > _MAX_INSTRUCTION_LENGTH:
        message = f"{instruction.written} is longer than {_MAX_INSTRUCTION_LENGTH} characters"
        raise DockerfileError(message, line=instruction.line, hint=TOO_LARGE_HINT)


def _instruction(entry: Mapping[str, Any]) -> Instruction:
    keyword, value, line = entry["instruction"], entry["value"], entry["startline"] + 1
    written = entry["content"].lstrip()[: len(keyword)]  # the parser upper-cases the keyword
    if keyword != "ONBUILD":
        return Instruction(keyword, value, line, written)
    inner, _, rest = value.strip().partition(" ")
    return Instruction(inner.upper(), rest.strip(), line, f"{written} {inner}", onbuild=True)


def _heredoc_words(instruction: Instruction) -> tuple[list[tuple[str, bool]], str]:
    """The delimiters of the instruction's heredocs (with whether each strips leading tabs),
    and its value without them, found as BuildKit finds them: words of the form `<<EOF`,
    `<<-EOF`, `<<"EOF"`, in RUN, COPY and ADD but not in their JSON form.
    """
    value = instruction.value
    if instruction.keyword not in _HEREDOC_INSTRUCTIONS or "<<" not in value:
        return [], value
    if exec_form(split_flags(value)[1]) is not None:
        return [], value
    names, kept = [], []
    for word in split_words(value):
        match = _HEREDOC_WORD.fullmatch(word)
        name = dequoted(match[3]) if match else ""
        if match and name:
            names.append((name, match[2] == "-"))
        else:
            kept.append(word)
    return names, " ".join(kept)


def split_words(text: str) -> list[str]:
    """Shell-like words, quotes kept. Without quotes or backslashes that is str.split(), which
    is many times quicker than the library's splitter (slow on every call, quadratic in the
    length of a word).
    """
    if not _QUOTED.search(text):
        return text.split()
    return list(WordSplitter(text).split(dequote=False))


def dequoted(word: str) -> str:
    return WordSplitter(word).dequote() if _QUOTED.search(word) else word


def _heredocs(
    instruction: Instruction, names: Sequence[tuple[str, bool]], endline: int, lines: Sequence[str]
) -> tuple[tuple[Heredoc, ...], int]:
    """Read the heredoc bodies, one after the other from the line after the instruction, as
    BuildKit does; returns them and the index of the last line they take.
    """
    found: list[Heredoc] = []
    start = endline + 1
    for name, chomp in names:
        end = _heredoc_end(lines, start, name, chomp)
        if end is None:
            message = f"the heredoc <<{name} is never closed"
            hint = f"end it with a line that holds only {name}"
            raise DockerfileError(message, line=instruction.line, hint=hint)
        found.append(Heredoc(start + 1, "".join(lines[start:end])))
        if instruction.keyword == "RUN":
            _check_length(found[-1].body, instruction)
        start = end + 1
    return tuple(found), start - 1


def _heredoc_end(lines: Sequence[str], start: int, name: str, chomp: bool) -> int | None:
    for index in range(start, len(lines)):
        candidate = lines[index].rstrip("\r\n")
        if (candidate.lstrip("\t") if chomp else candidate) == name:
            return index
    return None


_FLAG = re.compile(r"\s*(--\S+)")


def split_flags(value: str) -> tuple[list[str], str]:
    """Split `--mount=… --network=none cmd` into its leading flags and the rest."""
    if not value.lstrip().startswith("--"):
        return [], value.strip()
    flags, position = [], 0
    while match := _FLAG.match(value, position):
        flags.append(match[1])
        position = match.end()
    return flags, value[position:].strip()


def exec_form(text: str) -> list[str] | None:
    """The words of a JSON array like `["sh", "-c", "…"]`; None for the shell form (which is
    what Docker takes anything else for, invalid JSON included).
    """
    if not text.startswith("["):
        return None
    try:
        words = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(words, list) and all(isinstance(word, str) for word in words):
        return words
    return None
