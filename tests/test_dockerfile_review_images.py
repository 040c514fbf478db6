"""The review of a project's Dockerfile: the images it uses (FROM with its ARGs, COPY --from,
RUN --mount, the syntax directive), what makes one impossible to review, and the findings
about base images that can change.
"""

from __future__ import annotations

import pytest

from runtimes.images.review import LATEST, UNPINNED, DockerfileError, review_dockerfile
from runtimes.images.review.used_images import platform_args
from tests.dockerfile_review_support import DIGEST, PINNED, found, review, used

# --- Images: FROM


def test_from_image_is_listed_canonical_with_its_line() -> None:
    assert used(review("# a comment", "FROM rust:1.80")) == [
        (2, "FROM", "docker.io/library/rust:1.80")
    ]


def test_from_image_keeps_the_reference_as_written() -> None:
    assert review("FROM rust:1.80").images[0].written == "rust:1.80"


def test_platform_flag_is_skipped() -> None:
    result = review("FROM --platform=linux/arm64 rust:1.80 AS build")
    assert used(result) == [(1, "FROM", "docker.io/library/rust:1.80")]


def test_scratch_is_not_an_image() -> None:
    assert review(PINNED, "FROM scratch").images[1:] == ()


def test_from_an_earlier_stage_is_not_an_image() -> None:
    result = review("FROM rust:1.80 AS build", "RUN cargo build", "FROM build", "RUN true")
    assert used(result) == [(1, "FROM", "docker.io/library/rust:1.80")]


def test_stage_names_are_case_insensitive() -> None:
    result = review("FROM rust:1.80 as Build", "FROM BUILD")
    assert used(result) == [(1, "FROM", "docker.io/library/rust:1.80")]


def test_a_stage_named_like_its_own_image_still_pulls_that_image() -> None:
    assert used(review("FROM debian:12 AS debian")) == [(1, "FROM", "docker.io/library/debian:12")]


def test_later_stage_from_an_untrusted_looking_registry_is_listed_with_its_registry() -> None:
    result = review("FROM rust:1.80 AS build", "FROM 127.0.0.1:5999/evil/base:1", "COPY . .")
    image = result.images[1]
    assert (image.line, image.how, image.written) == (2, "FROM", "127.0.0.1:5999/evil/base:1")
    assert image.reference.registry == "127.0.0.1:5999"
    assert image.reference.canonical == "127.0.0.1:5999/evil/base:1"


def test_every_use_of_an_image_is_listed_in_file_order() -> None:
    result = review("FROM alpine:3 AS a", "FROM debian:12", "COPY --from=alpine:3 /x /x")
    assert used(result) == [
        (1, "FROM", "docker.io/library/alpine:3"),
        (2, "FROM", "docker.io/library/debian:12"),
        (3, "COPY --from", "docker.io/library/alpine:3"),
    ]


# --- Images: COPY --from and RUN --mount


def test_copy_from_a_stage_is_not_an_image() -> None:
    result = review("FROM rust:1.80 AS build", "FROM debian:12", "COPY --from=build /a /b")
    assert [how for _, how, _ in used(result)] == ["FROM", "FROM"]


def test_copy_from_a_stage_defined_further_down_is_not_an_image() -> None:
    result = review("FROM debian:12", "COPY --from=tools /a /b", "FROM alpine:3 AS tools")
    assert [how for _, how, _ in used(result)] == ["FROM", "FROM"]


def test_copy_from_a_stage_index_is_not_an_image() -> None:
    result = review("FROM rust:1.80", "FROM debian:12", "COPY --from=0 /a /b")
    assert [how for _, how, _ in used(result)] == ["FROM", "FROM"]


def test_copy_from_an_image_is_listed() -> None:
    result = review(PINNED, "COPY --from=ghcr.io/owner/tools:2 --chown=1:1 /bin/t /bin/t")
    assert used(result)[1:] == [(2, "COPY --from", "ghcr.io/owner/tools:2")]


def test_run_mount_from_an_image_is_listed() -> None:
    result = review(PINNED, "RUN --mount=type=cache,from=img:1,target=/x cargo build")
    assert used(result)[1:] == [(2, "RUN --mount", "docker.io/library/img:1")]


def test_run_mount_from_a_stage_is_not_an_image() -> None:
    result = review(
        "FROM rust:1.80 AS deps", "FROM debian:12", "RUN --mount=from=deps,target=/d ls"
    )
    assert [how for _, how, _ in used(result)] == ["FROM", "FROM"]


def test_run_mount_without_from_names_no_image() -> None:
    result = review(PINNED, "RUN --mount=type=cache,target=/root/.cargo cargo build")
    assert len(result.images) == 1


# --- Images: the syntax directive


def test_syntax_directive_names_an_image() -> None:
    result = review("# syntax=docker/dockerfile:1", PINNED)
    assert used(result)[0] == (1, "# syntax", "docker.io/docker/dockerfile:1")


@pytest.mark.parametrize(
    "lines",
    [
        ("#syntax = docker/dockerfile:1.7",),
        ("# escape=`", "# syntax=docker/dockerfile:1.7"),
        ("#!/usr/bin/env dockerfile-frontend", "# syntax=docker/dockerfile:1.7"),
        ("// syntax=docker/dockerfile:1.7",),
    ],
)
def test_syntax_directive_spellings_buildkit_reads(lines: tuple[str, ...]) -> None:
    result = review(*lines, PINNED)
    assert result.images[0].how == "# syntax"


@pytest.mark.parametrize(
    "lines",
    [
        (PINNED, "# syntax=evil/frontend"),
        ("# a comment first", "# syntax=evil/frontend", PINNED),
        ("", "# syntax=evil/frontend", PINNED),
        (" # syntax=evil/frontend", PINNED),
    ],
)
def test_syntax_directive_counts_only_in_the_leading_directives(lines: tuple[str, ...]) -> None:
    assert [image.how for image in review(*lines).images] == ["FROM"]


def test_syntax_image_is_not_reported_unpinned() -> None:
    assert review("# syntax=docker/dockerfile:1", PINNED).clean


# --- Images: ARG substitution


def test_arg_default_is_substituted_into_from() -> None:
    result = review("ARG BASE=debian:12", "FROM $BASE")
    assert used(result) == [(2, "FROM", "docker.io/library/debian:12")]
    assert result.images[0].written == "debian:12"


@pytest.mark.parametrize(
    "reference", ["$BASE", "${BASE}", "${BASE:-alpine:3}", "${BASE-alpine:3}", "$BASE-slim"]
)
def test_arg_spellings_in_from(reference: str) -> None:
    expected = "debian:12-slim" if reference.endswith("-slim") else "debian:12"
    assert review("ARG BASE=debian:12", f"FROM {reference}").images[0].written == expected


def test_build_arg_wins_over_the_default() -> None:
    result = review("ARG BASE=debian:12", "FROM ${BASE}", build_args={"BASE": "alpine:3"})
    assert used(result) == [(2, "FROM", "docker.io/library/alpine:3")]


def test_default_in_the_reference_is_used_without_a_value() -> None:
    assert review("ARG TAG", "FROM rust:${TAG:-1.80}").images[0].written == "rust:1.80"


def test_arg_default_may_use_an_earlier_arg() -> None:
    result = review("ARG REGISTRY=ghcr.io", "ARG IMAGE=$REGISTRY/owner/x:1", "FROM $IMAGE")
    assert used(result) == [(3, "FROM", "ghcr.io/owner/x:1")]


def test_arg_declared_in_a_stage_does_not_change_later_from_lines() -> None:
    result = review("ARG V=1", "FROM rust:$V", "ARG V=2", "FROM alpine:$V")
    assert [image.written for image in result.images] == ["rust:1", "alpine:1"]


def test_copy_from_sees_the_args_its_stage_declares() -> None:
    lines = ("ARG TOOLS=ghcr.io/owner/tools:1", PINNED, "ARG TOOLS", "COPY --from=$TOOLS /t /t")
    assert used(review(*lines))[1:] == [(4, "COPY --from", "ghcr.io/owner/tools:1")]


def test_unresolved_arg_is_an_error_naming_the_line() -> None:
    with pytest.raises(DockerfileError, match=r"Dockerfile line 3: \$BASE has no value"):
        review("ARG BASE", PINNED, "FROM $BASE")


def test_the_platform_args_docker_defines_by_itself_resolve_to_this_machines_platform() -> None:
    arch = platform_args()["TARGETARCH"]

    result = review(f"FROM alpine:3-$TARGETARCH@{DIGEST}", "ARG BUILDOS", "RUN echo $BUILDOS")

    assert used(result) == [(1, "FROM", f"docker.io/library/alpine:3-{arch}@{DIGEST}")]
    assert platform_args()["TARGETPLATFORM"] == f"linux/{arch}"


def test_build_arg_for_an_undeclared_name_does_not_resolve_from() -> None:
    """Docker hands build arguments only to ARGs the file declares."""
    with pytest.raises(DockerfileError, match=r"line 1: \$BASE has no value"):
        review("FROM $BASE", build_args={"BASE": "debian:12"})


def test_unresolved_arg_in_copy_from_is_an_error() -> None:
    with pytest.raises(DockerfileError, match=r"line 2: \$\{TOOLS\} has no value"):
        review(PINNED, "COPY --from=${TOOLS} /a /b")


# --- Images: what cannot be reviewed


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("FROM Debian", "repository names must be lowercase"),
        ("FROM debian:-x", "not a valid tag"),
        ("FROM debian@sha256:abc", "'@' must be followed by sha256:"),
        ("FROM https://evil.example/x", "no URL scheme"),
        ("COPY --from=UPPER/x /a /b", "repository names must be lowercase"),
        ("RUN --mount=from=a//b,target=/x true", "empty path component"),
    ],
)
def test_malformed_reference_is_an_error_naming_line_and_reason(line: str, reason: str) -> None:
    with pytest.raises(DockerfileError, match=r"^Dockerfile line 3: ") as caught:
        review("# comment", PINNED, line)
    assert reason in str(caught.value)


def test_malformed_syntax_directive_is_an_error_naming_its_line() -> None:
    with pytest.raises(DockerfileError, match=r"^Dockerfile line 1: # syntax"):
        review("# syntax=Docker/Dockerfile", PINNED)


def test_from_with_extra_words_is_an_error() -> None:
    with pytest.raises(DockerfileError, match=r"line 1: .*is not FROM <image> \[AS <name>\]"):
        review("FROM debian:12 extra words")


@pytest.mark.parametrize("text", ["", "  \n\n\t\n", "\ufeff"])
def test_empty_dockerfile_is_an_error(text: str) -> None:
    with pytest.raises(DockerfileError, match="empty"):
        review_dockerfile(text)


@pytest.mark.parametrize("text", ["# only a comment\n", "RUN true\n", "ARG X=1\n"])
def test_dockerfile_without_from_is_an_error(text: str) -> None:
    with pytest.raises(DockerfileError, match="no FROM"):
        review_dockerfile(text)


def test_byte_order_mark_is_ignored_as_docker_does() -> None:
    assert used(review_dockerfile(f"\ufeff{PINNED}\n"))[0][0] == 1


# --- Findings: base images that can change


def test_from_not_pinned_by_digest() -> None:
    result = review("FROM rust:1.80")
    assert found(result) == [(1, UNPINNED)]
    assert "rust:1.80" in result.findings[0].message


@pytest.mark.parametrize("reference", [f"debian@{DIGEST}", f"debian:12@{DIGEST}"])
def test_from_pinned_by_digest_is_no_finding(reference: str) -> None:
    assert review(f"FROM {reference}").clean


@pytest.mark.parametrize(
    "line", ["COPY --from=alpine:3 /a /b", "RUN --mount=from=alpine:3,target=/x true"]
)
def test_images_of_copy_and_mount_not_pinned(line: str) -> None:
    assert found(review(PINNED, line)) == [(2, UNPINNED)]


@pytest.mark.parametrize(
    "reference",
    [
        "localhost/xcargo/debian:trixie",
        "localhost/xcargo/toolchain:aarch64-unknown-linux-gnu-1.96",
        "localhost/xcargo/rustc",
    ],
)
def test_xcargo_own_images_are_not_reported(reference: str) -> None:
    assert review(f"FROM {reference}").clean


@pytest.mark.parametrize(
    "reference", ["localhost/other/debian:trixie", "localhost:5000/xcargo/debian:trixie"]
)
def test_images_merely_resembling_xcargo_own_are_reported(reference: str) -> None:
    assert found(review(f"FROM {reference}")) == [(1, UNPINNED)]


@pytest.mark.parametrize("reference", ["debian", "debian:latest", "ghcr.io/owner/image"])
def test_from_tagged_latest_written_or_implied(reference: str) -> None:
    result = review(f"FROM {reference}")
    assert found(result) == [(1, LATEST)]
    assert ":latest" in result.findings[0].message


def test_latest_in_copy_from_is_one_latest_finding() -> None:
    assert found(review(PINNED, "COPY --from=alpine /a /b")) == [(2, LATEST)]
