"""review_dockerfile, the review from start to end: the file read, the images it uses,
the findings of each instruction, and the digest an approval binds to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from runtimes.images.review.context_sources import context_sources
from runtimes.images.review.dockerfile import TOO_LARGE_HINT, read_dockerfile
from runtimes.images.review.instruction_rules import instruction_findings
from runtimes.images.review.result import DockerfileError, DockerfileReview
from runtimes.images.review.shell_reader import OverBudget, ShellReader
from runtimes.images.review.used_images import image_findings, used_images


def review_dockerfile(
    text: str, *, build_args: Mapping[str, str] | None = None
) -> DockerfileReview:
    """Review a Dockerfile as `docker build` would read it with these build arguments.

    Raises DockerfileError for what the build itself would refuse or what leaves an image
    unknown: an empty file, no FROM, an unterminated heredoc, a reference that is malformed or
    depends on a variable without a value.
    """
    arguments = dict(build_args or {})
    lines, instructions = read_dockerfile(text)
    images = used_images(lines, instructions, arguments)
    shell = ShellReader()
    findings = [*image_findings(images)]
    for instruction in instructions:
        try:
            findings.extend(instruction_findings(instruction, shell))
        except OverBudget as err:
            raise DockerfileError(str(err), line=instruction.line, hint=TOO_LARGE_HINT) from err
    ordered = sorted(dict.fromkeys(findings), key=lambda finding: finding.line)
    return DockerfileReview(
        _digest(text, arguments), tuple(images), tuple(ordered), context_sources(instructions)
    )


def _digest(text: str, build_args: Mapping[str, str]) -> str:
    """JSON keeps text and arguments apart unambiguously, so no two inputs share a digest."""
    payload = json.dumps([text, sorted(build_args.items())])
    return hashlib.sha256(payload.encode()).hexdigest()
