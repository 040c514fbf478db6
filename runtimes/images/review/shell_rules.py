"""The rules, on the model of the commands: a download run by a shell (piped into it, given
to it as code, or saved and then run) and the removal of the filesystem root.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from runtimes.images.review.result import PIPE_TO_SHELL, REMOVE_ROOT, shown
from runtimes.images.review.shell_model import (
    DOWNLOADERS,
    MAX_NESTING,
    Command,
    Pipeline,
    Script,
    basename,
    fetches,
)
from runtimes.images.review.shell_reader import ShellReader

_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh"})
_INTERPRETER = re.compile(r"(?:python|perl|ruby|node|nodejs|php)[0-9.]*")
_SOURCING = frozenset({"source", ".", "eval"})
_STDIN_PATHS = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})
_SCRIPT_SUFFIXES = (".sh", ".bash", ".py", ".pl", ".rb", ".js")
# Short options that take a value, and long ones that may take it as the next word.
_CURL_VALUES = "AbcCdDeEFHKmoPQrtTuUwxXyYz"
_CURL_LONG_VALUES = frozenset({"--output", "--url", "--header", "--data", "--user", "--retry"})
_WGET_VALUES = "aABDeiIlOoPQRtTUwX"
_WGET_LONG_VALUES = frozenset({"--output-document", "--directory-prefix", "--header", "--tries"})


@dataclass(frozen=True)
class Hit:
    offset: int
    kind: str
    message: str


def script_hits(script: Script, shell: ShellReader, depth: int) -> Iterator[Hit]:
    for pipeline in script.pipelines:
        yield from _piped_download(pipeline)
    for command in script.commands:
        yield from _command_hits(command, shell, depth)
    yield from _saved_then_run(script)


def _command_hits(command: Command, shell: ShellReader, depth: int) -> Iterator[Hit]:
    """Hits of the command and of what it contains, all placed where the command starts (the
    text of a backquote or an `sh -c` string is not the file's). A command that runs a
    download stands for the downloads run inside it: `$($(curl …))` is one finding.
    """
    found = command.invocation
    runs_download = found is not None and _runs_substituted_download(command, *found)
    for _, inner in command.substitutions:
        for hit in script_hits(inner, shell, depth):
            if not (runs_download and hit.kind == PIPE_TO_SHELL):
                yield Hit(command.offset, hit.kind, hit.message)
    if found is None:
        return
    index, name = found
    arguments = command.words[index + 1 :]
    if name == "rm" and _removes_root(arguments):
        yield Hit(command.offset, REMOVE_ROOT, f"{shown(command.text)} deletes everything")
    if runs_download:
        message = f"{shown(command.text)} runs a download with {name or 'the shell'}"
        yield Hit(command.offset, PIPE_TO_SHELL, message)
        return
    mode, program = _program(name, arguments)
    if mode == "code" and (name in _SHELLS or name == "eval") and depth < MAX_NESTING:
        yield from _placed(script_hits(shell.read(program or ""), shell, depth + 1), command.offset)


def _placed(hits: Iterator[Hit], offset: int) -> Iterator[Hit]:
    return (Hit(offset, hit.kind, hit.message) for hit in hits)


def _runs_substituted_download(command: Command, index: int, name: str) -> bool:
    """`sh -c "$(curl …)"`, `bash <(curl …)`, `eval "$(wget …)"`, `$(curl …)` as the command:
    a download given as code to something that runs it.
    """
    runs_code = name in _SHELLS or name in _SOURCING or bool(_INTERPRETER.fullmatch(name))
    return any(
        ((runs_code and (where > index or where == -1)) or (name == "" and where == index))
        and fetches(inner)
        for where, inner in command.substitutions
    )


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


def _piped_download(pipeline: Pipeline) -> Iterator[Hit]:
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
                    message = f"{shown(pipeline.text)} runs a download with {runner}"
                    yield Hit(pipeline.offset, PIPE_TO_SHELL, message)
                    return


def _stdin_runner(command: Command) -> str | None:
    found = command.invocation
    if not found:
        return None
    index, name = found
    mode, _ = _program(name, command.words[index + 1 :])
    redirected = any(operator.endswith("<") for operator, _ in command.redirects)
    return name if mode == "stdin" and not redirected else None


def _saved_then_run(script: Script) -> Iterator[Hit]:
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
        if executed and basename(executed[0]) in saved:
            path, runner = executed
            message = f"{shown(command.text)} runs {path}, downloaded before it, with {runner}"
            yield Hit(command.offset, PIPE_TO_SHELL, message)


def _saves(script: Script) -> Iterator[tuple[int, str]]:
    """(offset, file name) of each file a download writes: its own output options and
    redirections, and `tee`/redirections downstream of it in a pipeline.
    """
    for command in script.commands:
        found = command.invocation
        if found and found[1] in DOWNLOADERS:
            index, name = found
            for path in _download_outputs(name, command.words[index + 1 :]):
                yield command.offset, basename(path)
            yield from ((command.offset, basename(p)) for p in _written(command))
    for pipeline in script.pipelines:
        for number, stage in enumerate(pipeline.stages):
            if any(command.downloads for command in stage):
                for later in pipeline.stages[number + 1 :]:
                    for command in later:
                        for path in _tee_files(command) + _written(command):
                            yield pipeline.offset, basename(path)
                break


def _written(command: Command) -> list[str]:
    return [target for operator, target in command.redirects if operator.endswith((">", ">|"))]


def _tee_files(command: Command) -> list[str]:
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


def _url_file(url: str) -> str:
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    return basename(path) if "/" in path else ""


def _executed(command: Command) -> tuple[str, str] | None:
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
