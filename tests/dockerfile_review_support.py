"""What the Dockerfile review tests share: a base image pinned by digest (so with no finding
of its own), reviewing a few lines, and a review's findings and images as tuples to compare.
"""

from __future__ import annotations

from runtimes.images.review import DockerfileReview, review_dockerfile

DIGEST = "sha256:" + "0123456789abcdef" * 4
PINNED = f"FROM debian@{DIGEST}"


def review(*lines: str, build_args: dict[str, str] | None = None) -> DockerfileReview:
    return review_dockerfile("\n".join(lines) + "\n", build_args=build_args)


def found(result: DockerfileReview) -> list[tuple[int, str]]:
    return [(finding.line, finding.kind) for finding in result.findings]


def used(result: DockerfileReview) -> list[tuple[int, str, str]]:
    return [(image.line, image.how, image.reference.canonical) for image in result.images]


def run_findings(command: str) -> list[tuple[int, str]]:
    """Findings of one RUN on line 2, under a base image that is pinned (so has none)."""
    return found(review(PINNED, f"RUN {command}"))
