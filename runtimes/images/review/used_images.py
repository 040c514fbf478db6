"""The images a Dockerfile makes the build pull: FROM (with its ARGs applied as Docker
applies them, earlier stages left out), COPY --from, RUN --mount from= and BuildKit's
`# syntax=` directive, each with its line; and the findings about them, a base that can
change under the build.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterator, Mapping, Sequence

from runtimes import naming
from runtimes.errors import UsageError
from runtimes.images.references import DEFAULT_TAG, parse_image_reference
from runtimes.images.review.dockerfile import Instruction, dequoted, split_flags, split_words
from runtimes.images.review.result import (
    COPY_FROM,
    FROM,
    LATEST,
    RUN_MOUNT,
    SYNTAX,
    UNPINNED,
    DockerfileError,
    Finding,
    UsedImage,
)

_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+])(?P<word>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*")
_DIRECTIVES = frozenset({"syntax", "escape", "check"})
_ARG_HINT = "declare it with ARG before the first FROM, with a default or a build argument"


def used_images(
    lines: Sequence[str], instructions: Sequence[Instruction], build_args: Mapping[str, str]
) -> list[UsedImage]:
    images = [image for image in [_syntax_image(lines)] if image]
    walk = _ImageWalk(build_args, _stage_names(instructions))
    for instruction in instructions:
        if not instruction.onbuild:
            images.extend(walk.visit(instruction))
    if not walk.stages_seen:
        raise DockerfileError("there is no FROM instruction", hint="start the build with FROM")
    return images


def _stage_names(instructions: Sequence[Instruction]) -> frozenset[str]:
    """Every stage name in the file: `COPY --from` may name a stage defined further down."""
    froms = (_from_parts(i) for i in instructions if i.keyword == FROM and not i.onbuild)
    return frozenset(stage for _, stage in froms if stage)


def _from_parts(instruction: Instruction) -> tuple[str, str | None]:
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


# Docker's names for this machine's architectures, as its platform ARGs spell them.
_DOCKER_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


def platform_args() -> dict[str, str | None]:
    """The platform ARGs Docker and Podman define by themselves (`FROM base-$TARGETARCH` needs
    no ARG line): images are built on this machine's engine, so its platform, for both the
    build and the target platform.
    """
    arch = _DOCKER_ARCH.get(platform.machine(), platform.machine())
    values = {"PLATFORM": f"linux/{arch}", "OS": "linux", "ARCH": arch, "VARIANT": ""}
    return {
        f"{side}{name}": value for side in ("TARGET", "BUILD") for name, value in values.items()
    }


class _ImageWalk:
    """Follows stages and ARG values through the file, as Docker resolves them: ARGs declared
    before the first FROM are what FROM lines see; a stage sees only the ARGs it declares
    (inheriting those global defaults); build arguments win, but only for declared names.
    """

    def __init__(self, build_args: Mapping[str, str], stage_names: frozenset[str]) -> None:
        self.build_args = build_args
        self.stage_names = stage_names
        self.earlier_stages: set[str] = set()
        self.global_args: dict[str, str | None] = platform_args()
        self.stage_args: dict[str, str | None] | None = None
        self.stages_seen = 0

    def visit(self, instruction: Instruction) -> list[UsedImage]:
        if instruction.keyword == "ARG":
            self._declare(instruction)
        elif instruction.keyword == FROM:
            return self._from(instruction)
        elif instruction.keyword in ("COPY", "RUN"):
            return self._flag_images(instruction)
        return []

    def _declare(self, instruction: Instruction) -> None:
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

    def _from(self, instruction: Instruction) -> list[UsedImage]:
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

    def _flag_images(self, instruction: Instruction) -> list[UsedImage]:
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
    for word in split_words(value):
        name, equals, default = word.partition("=")
        yield dequoted(name), dequoted(default) if equals else None


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


def _image_flags(instruction: Instruction) -> Iterator[tuple[str, str]]:
    """Images named by `COPY --from=X` and by `RUN --mount=…,from=X,…`."""
    flags, _ = split_flags(instruction.value)
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


def image_findings(images: Sequence[UsedImage]) -> Iterator[Finding]:
    """One finding per image that can change under the build: LATEST where the tag is latest
    (written or implied), else UNPINNED. xcargo's own images are made on this machine.
    """
    for image in images:
        reference = image.reference
        if image.how == SYNTAX or reference.digest or naming.is_own_image(reference.canonical):
            continue
        used = f"{image.how} {image.written}"
        if reference.tag == DEFAULT_TAG:
            message = f"{used} uses {reference.canonical}, which moves with every push"
            yield Finding(image.line, LATEST, message)
        else:
            message = f"{used} is not pinned by digest, so the registry decides what it is"
            yield Finding(image.line, UNPINNED, message)
