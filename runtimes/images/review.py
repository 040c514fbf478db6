"""The review of a project's own Dockerfile, before xcargo builds an image from it.

A project's Dockerfile is code that runs on the build server, so a person approves it first.
The review gives that person two things, each on its line: every image the build would pull
(so each can be held against the trusted registries), and the risky things it does: downloads
run by a shell, `rm -rf /`, ADD from a URL, base images that are not pinned, instructions that
Docker does not have. An approval binds to `digest`, so a changed file or build argument needs
a new one.

dockerfile-parse reads the instructions, their lines and their continuations. What it does not
know is filled in here with as little as can be: heredocs (`RUN <<EOF`), whose bodies it takes
for instructions; BuildKit's `# syntax=` directive, which it skips; unset variables and
`${VAR:-default}` in FROM, which it empties or mangles without a word. Shell commands (RUN,
its heredocs, CMD, ENTRYPOINT, HEALTHCHECK) are read with bashlex, and by a token-level scanner
wherever bashlex gives up (it knows no `[[ ]]`, `case` or arithmetic) or would be slow, so that
no command goes unread.

Nothing is ever run, and hostile input cannot stall a review: bashlex reads a bounded number
of characters, nesting is followed only so deep, and what no person could review anyway is
refused with a DockerfileError: more than 100,000 lines, an instruction over 32 KiB, more than
256 KiB of commands, and the long runs of continued lines on which dockerfile-parse is
quadratic.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import bashlex
from dockerfile_parse import DockerfileParser
from dockerfile_parse.constants import COMMENT_INSTRUCTION
from dockerfile_parse.util import WordSplitter

from runtimes import naming
from runtimes.errors import UsageError
from runtimes.images.references import DEFAULT_TAG, ImageReference, parse_image_reference

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

    @property
    def clean(self) -> bool:
        return not self.findings


def review_dockerfile(
    text: str, *, build_args: Mapping[str, str] | None = None
) -> DockerfileReview:
    """Review a Dockerfile as `docker build` would read it with these build arguments.

    Raises DockerfileError for what the build itself would refuse or what leaves an image
    unknown: an empty file, no FROM, an unterminated heredoc, a reference that is malformed or
    depends on a variable without a value.
    """
    arguments = dict(build_args or {})
    lines, instructions = _read_dockerfile(text)
    images = _used_images(lines, instructions, arguments)
    shell = _ShellReader()
    findings = [*_image_findings(images)]
    for instruction in instructions:
        try:
            findings.extend(_instruction_findings(instruction, shell))
        except _OverBudget as err:
            raise DockerfileError(str(err), line=instruction.line, hint=_TOO_LARGE_HINT) from err
    ordered = sorted(dict.fromkeys(findings), key=lambda finding: finding.line)
    return DockerfileReview(_digest(text, arguments), tuple(images), tuple(ordered))


def _digest(text: str, build_args: Mapping[str, str]) -> str:
    """JSON keeps text and arguments apart unambiguously, so no two inputs share a digest."""
    payload = json.dumps([text, sorted(build_args.items())])
    return hashlib.sha256(payload.encode()).hexdigest()


# --- Reading the Dockerfile: dockerfile-parse, and heredocs, which it does not know

_INSTRUCTIONS = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)  # fmt: skip
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
_TOO_LARGE_HINT = "split the work into smaller steps, or move long scripts into files"


@dataclass(frozen=True)
class _Heredoc:
    line: int  # 1-based line of the body's first line
    body: str


@dataclass(frozen=True)
class _Instruction:
    """An instruction; for ONBUILD, the one it wraps, which runs in images built FROM this."""

    keyword: str  # upper-case
    value: str  # continuation lines joined, heredoc words (`<<EOF`) taken out
    line: int
    written: str  # the keyword as the file spells it, for messages
    onbuild: bool = False
    heredocs: tuple[_Heredoc, ...] = ()

    def with_heredocs(self, value: str, heredocs: tuple[_Heredoc, ...]) -> _Instruction:
        # Not dataclasses.replace(): that is slow enough to matter for hostile files.
        return _Instruction(self.keyword, value, self.line, self.written, self.onbuild, heredocs)


def _read_dockerfile(text: str) -> tuple[list[str], list[_Instruction]]:
    text = text.removeprefix("\ufeff")  # BuildKit drops a byte-order mark; the parser does not
    if not text.strip():
        raise DockerfileError("the file is empty", hint="a Dockerfile starts with FROM <image>")
    data = text.encode("utf-8", "replace")
    lines = _lines(data.decode())
    if len(lines) > _MAX_LINES:
        message = f"the file has more than {_MAX_LINES} lines"
        raise DockerfileError(message, line=_MAX_LINES + 1, hint=_TOO_LARGE_HINT)
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
) -> Iterator[_Instruction]:
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


def _check_length(text: str, instruction: _Instruction) -> None:
    if len(text) > _MAX_INSTRUCTION_LENGTH:
        message = f"{instruction.written} is longer than {_MAX_INSTRUCTION_LENGTH} characters"
        raise DockerfileError(message, line=instruction.line, hint=_TOO_LARGE_HINT)


def _instruction(entry: Mapping[str, Any]) -> _Instruction:
    keyword, value, line = entry["instruction"], entry["value"], entry["startline"] + 1
    written = entry["content"].lstrip()[: len(keyword)]  # the parser upper-cases the keyword
    if keyword != "ONBUILD":
        return _Instruction(keyword, value, line, written)
    inner, _, rest = value.strip().partition(" ")
    return _Instruction(inner.upper(), rest.strip(), line, f"{written} {inner}", onbuild=True)


def _heredoc_words(instruction: _Instruction) -> tuple[list[tuple[str, bool]], str]:
    """The delimiters of the instruction's heredocs (with whether each strips leading tabs),
    and its value without them, found as BuildKit finds them: words of the form `<<EOF`,
    `<<-EOF`, `<<"EOF"`, in RUN, COPY and ADD but not in their JSON form.
    """
    value = instruction.value
    if instruction.keyword not in _HEREDOC_INSTRUCTIONS or "<<" not in value:
        return [], value
    if _exec_form(_split_flags(value)[1]) is not None:
        return [], value
    names, kept = [], []
    for word in _words(value):
        match = _HEREDOC_WORD.fullmatch(word)
        name = _dequoted(match[3]) if match else ""
        if match and name:
            names.append((name, match[2] == "-"))
        else:
            kept.append(word)
    return names, " ".join(kept)


def _words(text: str) -> list[str]:
    """Shell-like words, quotes kept. Without quotes or backslashes that is str.split(), which
    is many times quicker than the library's splitter (slow on every call, quadratic in the
    length of a word).
    """
    if not _QUOTED.search(text):
        return text.split()
    return list(WordSplitter(text).split(dequote=False))


def _dequoted(word: str) -> str:
    return WordSplitter(word).dequote() if _QUOTED.search(word) else word


def _heredocs(
    instruction: _Instruction, names: Sequence[tuple[str, bool]], endline: int, lines: Sequence[str]
) -> tuple[tuple[_Heredoc, ...], int]:
    """Read the heredoc bodies, one after the other from the line after the instruction, as
    BuildKit does; returns them and the index of the last line they take.
    """
    found: list[_Heredoc] = []
    start = endline + 1
    for name, chomp in names:
        end = _heredoc_end(lines, start, name, chomp)
        if end is None:
            message = f"the heredoc <<{name} is never closed"
            hint = f"end it with a line that holds only {name}"
            raise DockerfileError(message, line=instruction.line, hint=hint)
        found.append(_Heredoc(start + 1, "".join(lines[start:end])))
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


def _split_flags(value: str) -> tuple[list[str], str]:
    """Split `--mount=… --network=none cmd` into its leading flags and the rest."""
    if not value.lstrip().startswith("--"):
        return [], value.strip()
    flags, position = [], 0
    while match := _FLAG.match(value, position):
        flags.append(match[1])
        position = match.end()
    return flags, value[position:].strip()


def _exec_form(text: str) -> list[str] | None:
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


# --- Images: FROM, COPY --from, RUN --mount from=, and the syntax directive

_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+])(?P<word>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*")
_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_ARG_HINT = "declare it with ARG before the first FROM, with a default or a build argument"


def _used_images(
    lines: Sequence[str], instructions: Sequence[_Instruction], build_args: Mapping[str, str]
) -> list[UsedImage]:
    images = [image for image in [_syntax_image(lines)] if image]
    walk = _ImageWalk(build_args, _stage_names(instructions))
    for instruction in instructions:
        if not instruction.onbuild:
            images.extend(walk.visit(instruction))
    if not walk.stages_seen:
        raise DockerfileError("there is no FROM instruction", hint="start the build with FROM")
    return images


def _stage_names(instructions: Sequence[_Instruction]) -> frozenset[str]:
    """Every stage name in the file: `COPY --from` may name a stage defined further down."""
    froms = (_from_parts(i) for i in instructions if i.keyword == FROM and not i.onbuild)
    return frozenset(stage for _, stage in froms if stage)


def _from_parts(instruction: _Instruction) -> tuple[str, str | None]:
    """The image and the stage name of `FROM [--platform=…] image [AS name]`; stage names are
    case-insensitive in BuildKit, so they are lowered here.
    """
    words = instruction.value.split()
    while words and words[0].startswith("--"):
        words.pop(0)
    if len(words) == 1:
        return words[0], None
    if len(words) == 3 and words[1].upper() == "AS":
        return words[0], words[2].lower()
    message = f"FROM {instruction.value!r} is not FROM <image> [AS <name>]"
    raise DockerfileError(message, line=instruction.line)


class _ImageWalk:
    """Follows stages and ARG values through the file, as Docker resolves them: ARGs declared
    before the first FROM are what FROM lines see; a stage sees only the ARGs it declares
    (inheriting those global defaults); build arguments win, but only for declared names.
    """

    def __init__(self, build_args: Mapping[str, str], stage_names: frozenset[str]) -> None:
        self.build_args = build_args
        self.stage_names = stage_names
        self.earlier_stages: set[str] = set()
        self.global_args: dict[str, str | None] = {}
        self.stage_args: dict[str, str | None] | None = None
        self.stages_seen = 0

    def visit(self, instruction: _Instruction) -> list[UsedImage]:
        if instruction.keyword == "ARG":
            self._declare(instruction)
        elif instruction.keyword == FROM:
            return self._from(instruction)
        elif instruction.keyword in ("COPY", "RUN"):
            return self._flag_images(instruction)
        return []

    def _declare(self, instruction: _Instruction) -> None:
        scope = self.global_args if self.stage_args is None else self.stage_args
        for name, default in _arg_declarations(instruction.value):
            if name in self.build_args:
                scope[name] = self.build_args[name]
            elif default is not None:
                scope[name] = _expand(default, scope, instruction.line, strict=False)
            elif self.stage_args is not None:
                scope[name] = self.global_args.get(name)  # a stage's ARG takes the global value
            else:
                scope[name] = None

    def _from(self, instruction: _Instruction) -> list[UsedImage]:
        image, stage = _from_parts(instruction)
        written = _expand(image, self.global_args, instruction.line)
        self.stages_seen += 1
        self.stage_args = {}
        is_stage = written.lower() in self.earlier_stages
        if stage:
            self.earlier_stages.add(stage)
        if written == "scratch" or is_stage:
            return []
        return [_used_image(instruction.line, FROM, written)]

    def _flag_images(self, instruction: _Instruction) -> list[UsedImage]:
        scope = self.stage_args if self.stage_args is not None else self.global_args
        used = []
        for how, source in _image_flags(instruction):
            written = _expand(source, scope, instruction.line)
            if not written.isdigit() and written.lower() not in self.stage_names:
                used.append(_used_image(instruction.line, how, written))
        return used


def _arg_declarations(value: str) -> Iterator[tuple[str, str | None]]:
    """`ARG a b=1 "c"="x y"`: names with their defaults (None when there is none, which is
    not the same as empty: `${a-x}` tells the two apart).
    """
    for word in _words(value):
        name, equals, default = word.partition("=")
        yield _dequoted(name), _dequoted(default) if equals else None


def _expand(
    text: str, variables: Mapping[str, str | None], line: int, *, strict: bool = True
) -> str:
    """Substitute `$X`, `${X}`, `${X:-word}`, `${X-word}`, `${X:+word}`, `${X+word}`.

    Strict (for image references) refuses a variable without a value, which Docker would make
    empty and the library silently drops; lenient (ARG defaults) empties it, as Docker does.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        value, op = variables.get(name), match["op"]
        if op is None:
            if value is None and strict:
                raise DockerfileError(f"{match[0]} has no value", line=line, hint=_ARG_HINT)
            return value or ""
        word = _expand(match["word"], variables, line, strict=strict)
        if op in (":-", "-"):
            return word if value is None or (op == ":-" and not value) else value
        present = value is not None and (op == "+" or bool(value))
        return word if present else ""

    result = _VARIABLE.sub(substitute, text)
    if strict and "$" in result:
        raise DockerfileError(f"cannot resolve the variable in {text!r}", line=line, hint=_ARG_HINT)
    return result


def _image_flags(instruction: _Instruction) -> Iterator[tuple[str, str]]:
    """Images named by `COPY --from=X` and by `RUN --mount=…,from=X,…`."""
    flags, _ = _split_flags(instruction.value)
    for flag in flags:
        name, _, value = flag.partition("=")
        if instruction.keyword == "COPY" and name == "--from":
            yield COPY_FROM, value
        elif instruction.keyword == "RUN" and name == "--mount":
            for option in value.split(","):
                key, _, source = option.partition("=")
                if key.strip().lower() == "from":
                    yield RUN_MOUNT, source.strip()


def _syntax_image(lines: Sequence[str]) -> UsedImage | None:
    """The frontend image of a `# syntax=` directive, found the way BuildKit's DetectSyntax
    finds it: after an optional `#!` line, only in the leading block of directives, and, if
    there is none with `#`, with `//` as the comment prefix. dockerfile-parse reads past it.
    """
    first = 1 if lines and lines[0].startswith("#!") else 0
    for prefix in ("#", "//"):
        for index in range(first, len(lines)):
            directive = _directive(lines[index].rstrip("\r\n"), prefix)
            if directive is None:
                break
            if directive[0] == "syntax":
                return _used_image(index + 1, SYNTAX, directive[1].split(" ", 1)[0])
    return None


def _directive(line: str, prefix: str) -> tuple[str, str] | None:
    if not line.startswith(prefix):
        return None
    match = _DIRECTIVE.fullmatch(line[len(prefix) :].lstrip())
    if not match or match[1].lower() not in _DIRECTIVES:
        return None
    return match[1].lower(), match[2]


def _used_image(line: int, how: str, written: str) -> UsedImage:
    try:
        return UsedImage(line, how, written, parse_image_reference(written))
    except UsageError as err:
        raise DockerfileError(f"{how}: {err.message}", line=line, hint=err.hint) from err


def _image_findings(images: Sequence[UsedImage]) -> Iterator[Finding]:
    """One finding per image that can change under the build: LATEST where the tag is latest
    (written or implied), else UNPINNED. xcargo's own images are made on this machine.
    """
    for image in images:
        reference = image.reference
        if image.how == SYNTAX or reference.digest or _is_own(reference):
            continue
        used = f"{image.how} {image.written}"
        if reference.tag == DEFAULT_TAG:
            message = f"{used} uses {reference.canonical}, which moves with every push"
            yield Finding(image.line, LATEST, message)
        else:
            message = f"{used} is not pinned by digest, so the registry decides what it is"
            yield Finding(image.line, UNPINNED, message)


def _is_own(reference: ImageReference) -> bool:
    return reference.canonical.startswith(naming.OWN_IMAGES_PREFIX)


# --- Findings of instructions

_REMOTE_SOURCE = re.compile(r"(?:https?|git|ssh)://|git@", re.IGNORECASE)
_SHELL_INSTRUCTIONS = frozenset({"RUN", "CMD", "ENTRYPOINT", "HEALTHCHECK"})


def _instruction_findings(instruction: _Instruction, shell: _ShellReader) -> Iterator[Finding]:
    if instruction.keyword not in _INSTRUCTIONS:
        message = f"{_shown(instruction.written)} is not a Dockerfile instruction"
        yield Finding(instruction.line, NOT_UNDERSTOOD, message)
        # What Docker would refuse may still be a command that was meant to run (after a blank
        # line in a continuation, which BuildKit skips and dockerfile-parse ends the RUN at).
        command = f"{instruction.written} {instruction.value}"
        yield from _command_findings(command, instruction.line, shell)
    elif instruction.keyword in _SHELL_INSTRUCTIONS:
        yield from _shell_instruction_findings(instruction, shell)
    elif instruction.keyword == "ADD":
        yield from _add_findings(instruction)


def _shell_instruction_findings(
    instruction: _Instruction, shell: _ShellReader
) -> Iterator[Finding]:
    _, command = _split_flags(instruction.value)
    if instruction.keyword == "HEALTHCHECK":
        first, _, command = command.partition(" ")
        if first.upper() != "CMD":
            return
    words = _exec_form(command.strip())
    if words is not None:
        script = _Script((_Command(tuple(words), " ".join(words), 0),), ())
        yield from _located(_script_hits(script, shell, 0), instruction.line)
    else:
        yield from _command_findings(command, instruction.line, shell)
    if instruction.keyword == "RUN":
        for heredoc in instruction.heredocs:
            yield from _heredoc_findings(heredoc, shell)


def _command_findings(command: str, line: int, shell: _ShellReader) -> Iterator[Finding]:
    """Findings of a command that stands on one instruction: all on its first line."""
    yield from _located(_script_hits(shell.read(command), shell, 0), line)


def _heredoc_findings(heredoc: _Heredoc, shell: _ShellReader) -> Iterator[Finding]:
    """Findings of a heredoc script, each on the line of the file where its command stands."""
    newlines = [match.start() for match in re.finditer("\n", heredoc.body)]
    for hit in _script_hits(shell.read(heredoc.body), shell, 0):
        line = heredoc.line + bisect.bisect_left(newlines, hit.offset)
        yield Finding(line, hit.kind, hit.message)


def _located(hits: Iterator[_Hit], line: int) -> Iterator[Finding]:
    return (Finding(line, hit.kind, hit.message) for hit in hits)


def _add_findings(instruction: _Instruction) -> Iterator[Finding]:
    _, rest = _split_flags(instruction.value)
    words = _exec_form(rest) or rest.split()
    for source in words[:-1]:  # the last word is the destination
        if _REMOTE_SOURCE.match(source):
            message = f"{instruction.written} {_shown(source)} downloads at build time"
            yield Finding(instruction.line, ADD_URL, message)


def _shown(text: str, limit: int = 120) -> str:
    """Text for a message: whitespace runs made single spaces, and cut if long."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# --- Shell commands: a small model, read by bashlex or by a token-level scanner

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
# Deeper `$(…)` nesting than this is read flat; deeper `sh -c` nesting is not followed.
_MAX_NESTING = 12


@dataclass(frozen=True)
class _Command:
    """A simple command: its words after quote removal (expansions kept as written)."""

    words: tuple[str, ...]
    text: str
    offset: int
    # `$(…)`, backquotes and `<(…)`, with the index of the word they are in (-1: a redirection).
    substitutions: tuple[tuple[int, _Script], ...] = ()
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
        if found and found[1] in _DOWNLOADERS:
            return True
        return any(_fetches(inner) for _, inner in self.substitutions)


@dataclass(frozen=True)
class _Pipeline:
    stages: tuple[tuple[_Command, ...], ...]  # a stage is a command or a group of them
    text: str
    offset: int


@dataclass(frozen=True)
class _Script:
    commands: tuple[_Command, ...]  # every simple command, in order
    pipelines: tuple[_Pipeline, ...]  # every pipeline of two or more stages


_EMPTY_SCRIPT = _Script((), ())


class _OverBudget(Exception):
    """More commands to read than a review affords; the file is refused, not half-read."""


@dataclass
class _ShellReader:
    """Reads the shell text of one review, within its budgets."""

    bashlex_left: int = _BASHLEX_BUDGET
    shell_left: int = _SHELL_BUDGET

    def read(self, text: str) -> _Script:
        """Parse with bashlex while it is affordable and able, else scan token by token."""
        if not _TRIGGER.search(text.translate(_QUOTING)):
            return _EMPTY_SCRIPT
        self.shell_left -= len(text) + _READ_COST
        if self.shell_left < 0:
            raise _OverBudget(f"more than {_SHELL_BUDGET} characters of commands to review")
        cost = len(text) + _BASHLEX_CALL_COST
        if len(text) <= _BASHLEX_MAX and cost <= self.bashlex_left:
            self.bashlex_left -= cost
            try:
                return _BashlexReader(text).read(bashlex.parse(text), 0)
            except Exception:  # bashlex is a partial grammar that fails in many ways
                pass
        return _Scanner(text, 0).script(closing=False)


class _TooDeep(Exception):
    """Nesting deeper than _MAX_NESTING: the scanner reads it flat instead."""


class _BashlexReader:
    """Turns bashlex's tree into the model, collecting commands in order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.commands: list[_Command] = []
        self.pipelines: list[_Pipeline] = []

    def read(self, nodes: Sequence[bashlex.ast.node], depth: int) -> _Script:
        for node in nodes:
            self._visit(node, depth)
        return _Script(tuple(self.commands), tuple(self.pipelines))

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
            self.pipelines.append(_Pipeline(tuple(stages), self._text(node), node.pos[0]))
        else:
            for child in getattr(node, "parts", None) or getattr(node, "list", None) or ():
                self._visit(child, depth)

    def _command(self, node: bashlex.ast.node, depth: int) -> _Command:
        words: list[str] = []
        substitutions: list[tuple[int, _Script]] = []
        redirects: list[tuple[str, str]] = []
        for part in node.parts:
            if part.kind in ("word", "assignment"):
                substitutions += [(len(words), s) for s in self._substitutions(part, depth)]
                words.append(part.word)
            elif part.kind == "redirect" and not isinstance(part.output, int):
                substitutions += [(-1, s) for s in self._substitutions(part.output, depth)]
                redirects.append((part.type, part.output.word))
        return _Command(
            tuple(words), self._text(node), node.pos[0], tuple(substitutions), tuple(redirects)
        )

    def _substitutions(self, node: bashlex.ast.node, depth: int) -> Iterator[_Script]:
        for part in getattr(node, "parts", None) or ():
            if part.kind in ("commandsubstitution", "processsubstitution"):
                if depth >= _MAX_NESTING:
                    raise _TooDeep
                yield _BashlexReader(self.text).read([part.command], depth + 1)
            else:
                yield from self._substitutions(part, depth)

    def _text(self, node: bashlex.ast.node) -> str:
        return self.text[node.pos[0] : node.pos[1]]


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
    commands: list[_Command] = field(default_factory=list)
    pipelines: list[_Pipeline] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    substitutions: list[tuple[int, _Script]] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)
    start: int | None = None
    stage: list[_Command] = field(default_factory=list)
    stages: list[tuple[_Command, ...]] = field(default_factory=list)
    pipeline_start: int | None = None

    def begin(self, position: int) -> None:
        if self.start is None:
            self.start = position
        if self.pipeline_start is None:
            self.pipeline_start = position

    def word(self, word: str, substitutions: list[_Script], position: int) -> None:
        self.begin(position)
        self.substitutions += [(len(self.words), script) for script in substitutions]
        self.words.append(word)

    def redirect(self, operator: str, target: str, substitutions: list[_Script], at: int) -> None:
        self.begin(at)
        self.substitutions += [(-1, script) for script in substitutions]
        self.redirects.append((operator, target))

    def end_command(self, position: int) -> None:
        if self.start is not None:
            text = self.text[self.start : position].strip()
            command = _Command(
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
            self.pipelines.append(_Pipeline(tuple(self.stages), text, self.pipeline_start))
        self.stages, self.pipeline_start = [], None


class _Scanner:
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

    def script(self, *, closing: bool) -> _Script:
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
        return _Script(tuple(build.commands), tuple(build.pipelines))

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
            return self.depth < _MAX_NESTING
        return not (_REDIRECT.match(self.text, position) or _OPERATOR.match(self.text, position))

    def _alone(self, position: int) -> bool:
        """`{`/`}` group only as words of their own (`${x}` and `a{b}` are no groups)."""
        after = self.text[position + 1 : position + 2]
        return after == "" or after.isspace() or after in ";&|)"

    def _word(self) -> tuple[str, list[_Script]]:
        parts: list[str] = []
        substitutions: list[_Script] = []
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
            elif text.startswith(("<(", ">("), start) and self.depth < _MAX_NESTING:
                self._substitution(parts, substitutions, 2)
            else:
                break
        return "".join(parts), substitutions

    def _double_quoted(self, parts: list[str], substitutions: list[_Script]) -> None:
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

    def _dollar(self, parts: list[str], substitutions: list[_Script]) -> None:
        text, start = self.text, self.position
        following = text[start + 1 : start + 2]
        if following == "(" and self.depth < _MAX_NESTING:
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

    def _substitution(self, parts: list[str], substitutions: list[_Script], opener: int) -> None:
        start = self.position
        inner = _Scanner(self.text, self.depth + 1, start + opener)
        substitutions.append(inner.script(closing=True))
        self.position = inner.position
        parts.append(self.text[start : self.position])

    def _backquoted(self, parts: list[str], substitutions: list[_Script]) -> None:
        """Backquotes nest only by escaping, so their depth grows with the log of the length."""
        start = self.position
        body = _IN_BACKQUOTES.match(self.text, start + 1)
        assert body is not None
        self.position = body.end() + 1
        parts.append(self.text[start : self.position])
        inner = _Scanner(_BACKSLASHED.sub(r"\1", body[0]), self.depth + 1)
        substitutions.append(inner.script(closing=False))


# --- The rules, on the model

_DOWNLOADERS = frozenset({"curl", "wget"})
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh"})
_INTERPRETER = re.compile(r"(?:python|perl|ruby|node|nodejs|php)[0-9.]*")
_SOURCING = frozenset({"source", ".", "eval"})
_STDIN_PATHS = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})
_SCRIPT_SUFFIXES = (".sh", ".bash", ".py", ".pl", ".rb", ".js")
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
# Short options that take a value, and long ones that may take it as the next word.
_CURL_VALUES = "AbcCdDeEFHKmoPQrtTuUwxXyYz"
_CURL_LONG_VALUES = frozenset({"--output", "--url", "--header", "--data", "--user", "--retry"})
_WGET_VALUES = "aABDeiIlOoPQRtTUwX"
_WGET_LONG_VALUES = frozenset({"--output-document", "--directory-prefix", "--header", "--tries"})


@dataclass(frozen=True)
class _Hit:
    offset: int
    kind: str
    message: str


def _script_hits(script: _Script, shell: _ShellReader, depth: int) -> Iterator[_Hit]:
    for pipeline in script.pipelines:
        yield from _piped_download(pipeline)
    for command in script.commands:
        yield from _command_hits(command, shell, depth)
    yield from _saved_then_run(script)


def _command_hits(command: _Command, shell: _ShellReader, depth: int) -> Iterator[_Hit]:
    """Hits of the command and of what it contains, all placed where the command starts (the
    text of a backquote or an `sh -c` string is not the file's). A command that runs a
    download stands for the downloads run inside it: `$($(curl …))` is one finding.
    """
    found = command.invocation
    runs_download = found is not None and _runs_substituted_download(command, *found)
    for _, inner in command.substitutions:
        for hit in _script_hits(inner, shell, depth):
            if not (runs_download and hit.kind == PIPE_TO_SHELL):
                yield _Hit(command.offset, hit.kind, hit.message)
    if found is None:
        return
    index, name = found
    arguments = command.words[index + 1 :]
    if name == "rm" and _removes_root(arguments):
        yield _Hit(command.offset, REMOVE_ROOT, f"{_shown(command.text)} deletes everything")
    if runs_download:
        message = f"{_shown(command.text)} runs a download with {name or 'the shell'}"
        yield _Hit(command.offset, PIPE_TO_SHELL, message)
        return
    mode, program = _program(name, arguments)
    if mode == "code" and (name in _SHELLS or name == "eval") and depth < _MAX_NESTING:
        yield from _placed(
            _script_hits(shell.read(program or ""), shell, depth + 1), command.offset
        )


def _placed(hits: Iterator[_Hit], offset: int) -> Iterator[_Hit]:
    return (_Hit(offset, hit.kind, hit.message) for hit in hits)


def _invocation(words: Sequence[str]) -> tuple[int, str] | None:
    """The index and name (path stripped) of the command the words run, looking through
    assignments, reserved words and wrappers such as sudo and env; "" for an expansion.
    """
    index = 0
    while index < len(words):
        word = words[index]
        name = _basename(word)
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


def _runs_substituted_download(command: _Command, index: int, name: str) -> bool:
    """`sh -c "$(curl …)"`, `bash <(curl …)`, `eval "$(wget …)"`, `$(curl …)` as the command:
    a download given as code to something that runs it.
    """
    runs_code = name in _SHELLS or name in _SOURCING or bool(_INTERPRETER.fullmatch(name))
    return any(
        ((runs_code and (where > index or where == -1)) or (name == "" and where == index))
        and _fetches(inner)
        for where, inner in command.substitutions
    )


def _fetches(script: _Script) -> bool:
    return any(command.downloads for command in script.commands)


def _program(name: str, arguments: Sequence[str]) -> tuple[str, str | None]:
    """Where the shell or interpreter `name` reads its program: ("stdin", None),
    ("file", path), ("code", text given with -c/-e) or ("none", None) for anything else.
    """
    if name in _SHELLS:
        mode, program = _shell_program(arguments)
    elif _INTERPRETER.fullmatch(name):
        mode, program = _interpreter_program(arguments)
    elif name in ("source", "."):
        mode, program = ("file", arguments[0]) if arguments else ("none", None)
    elif name == "eval":
        mode, program = "code", " ".join(arguments)
    else:
        return "none", None
    if mode == "file" and program in _STDIN_PATHS:
        return "stdin", None
    return mode, program


def _shell_program(arguments: Sequence[str]) -> tuple[str, str | None]:
    command_string = from_stdin = False
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        index += 1
        if argument == "--":
            break
        if argument == "-":
            from_stdin = True
            break
        if argument.startswith("--"):
            index += argument in ("--rcfile", "--init-file")
        elif argument[:1] in "-+" and len(argument) > 1:
            command_string = command_string or (argument[0] == "-" and "c" in argument)
            from_stdin = from_stdin or "s" in argument
            index += argument[-1] in "oO"  # -o pipefail, -O extglob
        else:
            index -= 1
            break
    rest = arguments[index:]
    if command_string:
        return "code", rest[0] if rest else ""
    if from_stdin or not rest:
        return "stdin", None
    return "file", rest[0]


def _interpreter_program(arguments: Sequence[str]) -> tuple[str, str | None]:
    for argument in arguments:
        if argument in ("-c", "-e", "-E", "-m", "--eval", "--print", "-p") or (
            argument.startswith("-") and not argument.startswith("--") and argument[-1] in "ce"
        ):
            return "code", None
        if argument == "-" or not argument.startswith("-"):
            return "file", argument
    return "stdin", None


def _piped_download(pipeline: _Pipeline) -> Iterator[_Hit]:
    """`curl … | sh`, `wget -O- … | tee f | sudo bash -`: a download that flows into a shell or
    interpreter reading its program from stdin (not into `python3 -c 'import json…'`).
    """
    for number, stage in enumerate(pipeline.stages):
        if not any(command.downloads for command in stage):
            continue
        for later in pipeline.stages[number + 1 :]:
            for command in later:
                runner = _stdin_runner(command)
                if runner:
                    message = f"{_shown(pipeline.text)} runs a download with {runner}"
                    yield _Hit(pipeline.offset, PIPE_TO_SHELL, message)
                    return


def _stdin_runner(command: _Command) -> str | None:
    found = command.invocation
    if not found:
        return None
    index, name = found
    mode, _ = _program(name, command.words[index + 1 :])
    redirected = any(operator.endswith("<") for operator, _ in command.redirects)
    return name if mode == "stdin" and not redirected else None


def _saved_then_run(script: _Script) -> Iterator[_Hit]:
    """`curl -o /tmp/i.sh … && sh /tmp/i.sh`: a file downloaded, then run by a shell or an
    interpreter, sourced, or started as a script, later in the same script. Files are matched
    by name, as `cd /tmp && curl -O …/i.sh && sh i.sh` does not spell the same path twice.
    """
    saves = sorted(_saves(script))
    if not saves:
        return
    saved: set[str] = set()
    next_save = 0
    for command in sorted(script.commands, key=lambda command: command.offset):
        while next_save < len(saves) and saves[next_save][0] < command.offset:
            saved.add(saves[next_save][1])
            next_save += 1
        executed = _executed(command)
        if executed and _basename(executed[0]) in saved:
            path, runner = executed
            message = f"{_shown(command.text)} runs {path}, downloaded before it, with {runner}"
            yield _Hit(command.offset, PIPE_TO_SHELL, message)


def _saves(script: _Script) -> Iterator[tuple[int, str]]:
    """(offset, file name) of each file a download writes: its own output options and
    redirections, and `tee`/redirections downstream of it in a pipeline.
    """
    for command in script.commands:
        found = command.invocation
        if found and found[1] in _DOWNLOADERS:
            index, name = found
            for path in _download_outputs(name, command.words[index + 1 :]):
                yield command.offset, _basename(path)
            yield from ((command.offset, _basename(p)) for p in _written(command))
    for pipeline in script.pipelines:
        for number, stage in enumerate(pipeline.stages):
            if any(command.downloads for command in stage):
                for later in pipeline.stages[number + 1 :]:
                    for command in later:
                        for path in _tee_files(command) + _written(command):
                            yield pipeline.offset, _basename(path)
                break


def _written(command: _Command) -> list[str]:
    return [target for operator, target in command.redirects if operator.endswith((">", ">|"))]


def _tee_files(command: _Command) -> list[str]:
    found = command.invocation
    if not found or found[1] != "tee":
        return []
    return [word for word in command.words[found[0] + 1 :] if not word.startswith("-")]


def _download_outputs(name: str, arguments: Sequence[str]) -> list[str]:
    """The files curl or wget writes: -o/-O names, or the URL's last part (curl -O, wget)."""
    curl = name == "curl"
    values, longs = (_CURL_VALUES, _CURL_LONG_VALUES) if curl else (_WGET_VALUES, _WGET_LONG_VALUES)
    parsed = list(_options(arguments, values, longs))
    output_options = ("-o", "--output") if curl else ("-O", "--output-document")
    outputs = [value or "" for option, value in parsed if option in output_options]
    urls = [value or "" for option, value in parsed if option in ("", "--url")]
    if curl:
        remote = any(option in ("-O", "--remote-name", "--remote-name-all") for option, _ in parsed)
    else:
        remote = not outputs  # wget names the file after the URL unless told otherwise
    files = outputs + ([_url_file(url) for url in urls] if remote else [])
    return [path for path in files if path and path not in ("-", "/dev/stdout")]


def _options(
    arguments: Sequence[str], with_value: str, long_with_value: frozenset[str]
) -> Iterator[tuple[str, str | None]]:
    """(option, value) pairs read the way getopt does, and ("", operand) for operands."""
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        index += 1
        if argument == "--":
            yield from (("", operand) for operand in arguments[index:])
            return
        if argument.startswith("--"):
            option, equals, value = argument.partition("=")
            if not equals and option in long_with_value and index < len(arguments):
                value, equals, index = arguments[index], "=", index + 1
            yield option, value if equals else None
        elif argument.startswith("-") and len(argument) > 1:
            for position, letter in enumerate(argument[1:], start=2):
                if letter in with_value:
                    value = argument[position:]
                    if not value and index < len(arguments):
                        value, index = arguments[index], index + 1
                    yield f"-{letter}", value
                    break
                yield f"-{letter}", None
        else:
            yield "", argument


def _basename(path: str) -> str:
    return path.rpartition("/")[2]


def _url_file(url: str) -> str:
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return _basename(path) if "/" in path else ""


def _executed(command: _Command) -> tuple[str, str] | None:
    """The file a command runs as a program, and what runs it."""
    found = command.invocation
    if not found:
        return None
    index, name = found
    mode, program = _program(name, command.words[index + 1 :])
    if mode == "file" and program:
        return program, name
    inputs = [target for operator, target in command.redirects if operator.lstrip("0") == "<"]
    if mode == "stdin" and inputs:
        return inputs[-1], name
    word = command.words[index]
    if word.endswith(_SCRIPT_SUFFIXES):
        return word, "the interpreter its #! line names"
    return None


def _removes_root(arguments: Sequence[str]) -> bool:
    """`rm -rf /`, `rm -r -f /*`, `rm --recursive --force --no-preserve-root /`: recursive
    removal of / or all in it. GNU rm takes long options abbreviated (`--recur`).
    """
    recursive, targets, options_done = False, [], False
    for argument in arguments:
        if options_done or argument == "-" or not argument.startswith("-"):
            targets.append(argument)
        elif argument == "--":
            options_done = True
        elif argument.startswith("--"):
            recursive = recursive or (len(argument) >= 3 and "--recursive".startswith(argument))
        else:
            recursive = recursive or "r" in argument or "R" in argument
    return recursive and any(_is_root(target) for target in targets)


def _is_root(path: str) -> bool:
    if not path.startswith("/"):
        return False
    normal = posixpath.normpath(re.sub("/+", "/", path))
    return normal in ("/", "/*")
