"""The review of a project's Dockerfile: the images it uses and the risky things it does.

Each finding is on the line a person reads. Shell commands are read by bashlex and, where it
gives up, by a token-level scanner: the spelling tables run through both.
"""

from __future__ import annotations

import contextlib
import time

import pytest

from runtimes.errors import UsageError
from runtimes.images import review as review_module
from runtimes.images.review import (
    ADD_URL,
    LATEST,
    NOT_UNDERSTOOD,
    PIPE_TO_SHELL,
    REMOVE_ROOT,
    UNPINNED,
    DockerfileError,
    DockerfileReview,
    Finding,
    UsedImage,
    review_dockerfile,
)

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


@pytest.fixture(params=["bashlex", "scanner"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with bashlex, then with bashlex failing so that the scanner reads all."""
    if request.param == "scanner":

        def gives_up(text: str) -> None:
            raise NotImplementedError("bashlex gives up")

        monkeypatch.setattr(review_module.bashlex, "parse", gives_up)
    return request.param


# --- The review's shape


def test_review_lists_images_and_findings_of_a_dockerfile() -> None:
    result = review("FROM debian:bookworm", "RUN curl -fsSL https://x.sh | sh")
    assert result.images == (UsedImage(1, "FROM", "debian:bookworm", result.images[0].reference),)
    assert result.findings == (
        Finding(1, UNPINNED, result.findings[0].message),
        Finding(2, PIPE_TO_SHELL, "curl -fsSL https://x.sh | sh runs a download with sh"),
    )


def test_a_dockerfile_without_findings_is_clean() -> None:
    assert review(PINNED, "RUN apt-get update").clean


def test_a_dockerfile_with_findings_is_not_clean() -> None:
    assert not review("FROM debian:bookworm").clean


def test_findings_are_sorted_by_line() -> None:
    result = review("FROM debian:12", "RUN rm -rf /", "ADD https://x/a /a", "FROM alpine:3")
    assert [line for line, _ in found(result)] == [1, 2, 3, 4]


def test_dockerfile_error_is_a_usage_error_naming_the_line() -> None:
    with pytest.raises(UsageError, match=r"^Dockerfile line 2: ") as caught:
        review(PINNED, "FROM Debian")
    assert isinstance(caught.value, DockerfileError)
    assert caught.value.line == 2


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


# --- Findings: downloads run by a shell


@pytest.mark.parametrize(
    "command",
    [
        "curl -fsSL https://x | sh",
        "wget -qO- https://x|bash",
        "curl x | sudo -E bash -",
        "curl x | tee f | sh",
        'sh -c "$(curl -fsSL https://x)"',
        'bash -c "`wget -O- x`"',
        "bash <(curl -s https://x)",
        "source <(curl x)",
        ". <(curl x)",
        'eval "$(curl x)"',
        "/usr/bin/curl -sL x | /bin/sh",
        "sudo curl x | sudo sh",
        "env curl x | env bash",
        "busybox wget -O- x | busybox sh",
        "curl -sSf https://sh.rustup.rs | sh -s -- -y",
        "curl x |& sh",
        "curl x | python3",
        "curl x | perl",
        "curl x | ruby",
        "curl x | node",
        "curl x | zsh",
        "curl x | dash",
        "curl x | ksh",
        "curl x | ash",
        "bash < <(curl x)",
        'bash <<< "$(curl x)"',
        'python3 -c "$(curl -fsSL https://x)"',
        'echo "$(curl x)" | sh',
        "$(curl x)",
        "(curl x) | sh",
        "{ curl x; } | sh",
        "curl x | (cd /tmp && sh)",
        'sh -c "curl x | sh"',
        # What bashlex cannot parse: the scanner reads it.
        "if [[ -f x ]]; then curl x | sh; fi",
        "case $A in a) curl x | sh;; esac",
        "N=$((1+2)) && curl x | sh",
        "a=(1 2) && curl x | sh",
    ],
)
def test_download_run_by_a_shell(reader: str, command: str) -> None:
    assert run_findings(command) == [(2, PIPE_TO_SHELL)]


@pytest.mark.parametrize(
    "command",
    [
        "curl -o /tmp/i.sh x && sh /tmp/i.sh",
        "wget https://x/install.sh && bash install.sh",
        "cd /tmp && curl -O https://x/i.sh && sh i.sh",
        "curl -fsSLO https://x/get.sh && chmod +x get.sh && ./get.sh",
        "curl -sSL https://bootstrap.pypa.io/get-pip.py -o get-pip.py && python3 get-pip.py",
        "curl x > /tmp/i.sh; . /tmp/i.sh",
        "curl x | tee /tmp/i.sh && sh /tmp/i.sh",
        "curl -o /tmp/i.sh x && bash < /tmp/i.sh",
    ],
)
def test_download_saved_and_run_in_the_same_run(reader: str, command: str) -> None:
    assert run_findings(command) == [(2, PIPE_TO_SHELL)]


@pytest.mark.parametrize(
    "command",
    [
        "curl -o file x && sha256sum -c file.sha256",
        "curl -fsSLo /tmp/x.tgz https://x && echo 'abc  /tmp/x.tgz' | sha256sum -c -",
        "wget -O /tmp/x.tgz x && tar xf /tmp/x.tgz",
        'curl -s https://api/x | python3 -c "import json,sys; print(json.load(sys.stdin))"',
        "curl -fsSL x | tar xz -C /usr/local",
        "curl -fsSL x | gpg --dearmor -o /usr/share/keyrings/k.gpg",
        "curl x | sh -c 'cat > /tmp/f'",
        "curl x | tee file",
        "curl x | jq .",
        "echo 'curl x | sh'",
        'echo "curl x | sh"',
        "echo $(curl x)",
        "VERSION=$(curl -s x) && echo $VERSION",
        "apt-get install -y curl wget",
        "curl -o a.sh x && sh b.sh",
        "sh /tmp/i.sh && curl -o /tmp/i.sh x",
        "curl -o /usr/local/bin/tool x && chmod +x /usr/local/bin/tool && tool --version",
        "echo hi # curl x | sh",
        "[[ -f x ]] && curl -o f x",
    ],
)
def test_download_that_is_not_run_is_no_finding(reader: str, command: str) -> None:
    assert run_findings(command) == []


def test_message_names_what_runs_the_download() -> None:
    [finding] = review(PINNED, "RUN wget -qO- https://x | sudo bash -").findings
    assert finding.message == "wget -qO- https://x | sudo bash - runs a download with bash"


def test_message_of_a_saved_download_names_the_file() -> None:
    [finding] = review(PINNED, "RUN curl -o /tmp/i.sh https://x && sh /tmp/i.sh").findings
    assert finding.message == "sh /tmp/i.sh runs /tmp/i.sh, downloaded before it, with sh"


def test_download_in_exec_form_run() -> None:
    assert found(review(PINNED, 'RUN ["sh", "-c", "curl x | sh"]')) == [(2, PIPE_TO_SHELL)]


def test_download_in_onbuild_run() -> None:
    result = review(PINNED, "ONBUILD RUN curl x | sh")
    assert found(result) == [(2, PIPE_TO_SHELL)]


@pytest.mark.parametrize(
    "line",
    [
        "CMD curl x | sh",
        'ENTRYPOINT ["bash", "-c", "curl x | sh"]',
        "HEALTHCHECK --interval=5s CMD curl x | sh",
    ],
)
def test_download_run_by_a_container_command(line: str) -> None:
    assert found(review(PINNED, line)) == [(2, PIPE_TO_SHELL)]


def test_healthcheck_that_only_fetches_is_no_finding() -> None:
    assert review(PINNED, "HEALTHCHECK CMD curl -f http://localhost/ || exit 1").clean


# --- Findings: removing the filesystem root


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf /",
        "rm -fr /",
        "rm -r -f /",
        "rm -Rf /",
        "rm --recursive --force /",
        "rm -rf --no-preserve-root /",
        "rm --no-preserve-root -rf /",
        "rm -rf /*",
        'rm -rf "/"',
        "rm -rf //",
        "rm -rf /tmp/..",
        "rm -rf -- /",
        "rm --recur --force /*",
        "sudo rm -rf /",
        "/bin/rm -rf /",
        'sh -c "rm -rf /"',
        "if [[ 1 ]]; then rm -rf /; fi",
    ],
)
def test_removing_the_root(reader: str, command: str) -> None:
    assert run_findings(command) == [(2, REMOVE_ROOT)]


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf /tmp/x",
        "rm -rf /var/lib/apt/lists/*",
        "rm -rf /tmp/* /var/tmp/*",
        "rm -rf ./",
        "rm -f /",
        "echo rm -rf /",
    ],
)
def test_removing_other_paths_is_no_finding(reader: str, command: str) -> None:
    assert run_findings(command) == []


# --- Findings: ADD from a URL


@pytest.mark.parametrize(
    "source",
    [
        "http://example.com/a.tar.gz",
        "https://example.com/a.tar.gz",
        "git@github.com:owner/repo.git",
        "https://github.com/owner/repo.git#v1",
        "HTTPS://EXAMPLE.COM/A",
    ],
)
def test_add_from_a_url(source: str) -> None:
    result = review(PINNED, f"ADD --chown=1:1 {source} /dst")
    assert found(result) == [(2, ADD_URL)]
    assert source in result.findings[0].message


def test_add_from_a_url_in_exec_form() -> None:
    assert found(review(PINNED, 'ADD ["https://x/a", "/a"]')) == [(2, ADD_URL)]


@pytest.mark.parametrize(
    "line", ["ADD src.tar.gz /dst", "ADD ./https-notes /dst", "COPY https.txt /dst"]
)
def test_add_or_copy_of_local_files_is_no_finding(line: str) -> None:
    assert review(PINNED, line).clean


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


# --- Findings: instructions not understood


def test_unknown_instruction() -> None:
    result = review(PINNED, "RUNN apt-get update")
    assert found(result) == [(2, NOT_UNDERSTOOD)]
    assert result.findings[0].message == "RUNN is not a Dockerfile instruction"


def test_unknown_instruction_inside_onbuild() -> None:
    assert found(review(PINNED, "ONBUILD COPPY . .")) == [(2, NOT_UNDERSTOOD)]


def test_command_cut_off_by_a_blank_line_is_still_reviewed() -> None:
    """BuildKit skips a blank line inside a continuation; dockerfile-parse ends the RUN there,
    so the rest looks like an instruction: it is reported, and read as the command it is.
    """
    result = review(PINNED, "RUN apt-get update && \\", "", "    curl x | sh")
    assert found(result) == [(4, NOT_UNDERSTOOD), (4, PIPE_TO_SHELL)]


# --- Line numbers


def test_findings_after_continued_lines_keep_their_lines() -> None:
    result = review(
        PINNED,
        "RUN apt-get update \\",
        "    # a comment inside the command",
        "    && apt-get install -y \\",
        "       curl",
        "RUN curl -fsSL https://x | sh",
        "ADD https://x/y /y",
    )
    assert found(result) == [(6, PIPE_TO_SHELL), (7, ADD_URL)]


def test_finding_inside_a_continued_run_is_on_its_first_line() -> None:
    result = review(PINNED, "RUN set -eux; \\", "    curl -fsSL https://x \\", "    | sh")
    assert found(result) == [(2, PIPE_TO_SHELL)]


# --- Heredocs


def test_heredoc_commands_are_reviewed_on_their_own_lines(reader: str) -> None:
    result = review(
        PINNED,
        "RUN <<EOF",
        "set -eux",
        "apt-get update",
        "curl -fsSL https://x | sh",
        "rm -rf /",
        "EOF",
        "ADD https://x/y /y",
    )
    assert found(result) == [(5, PIPE_TO_SHELL), (6, REMOVE_ROOT), (8, ADD_URL)]


@pytest.mark.parametrize(
    "opening", ["RUN <<EOF", "RUN <<-EOF", 'RUN <<"EOF"', "RUN <<'EOF'", "RUN <<EOF bash"]
)
def test_heredoc_spellings(opening: str) -> None:
    terminator = "\tEOF" if "<<-" in opening else "EOF"
    result = review(PINNED, opening, "\tcurl x | sh", terminator, "RUNN x")
    assert found(result) == [(3, PIPE_TO_SHELL), (5, NOT_UNDERSTOOD)]


def test_heredoc_body_lines_are_not_instructions() -> None:
    result = review(PINNED, "RUN <<EOF", "apt-get update", "echo done", "EOF")
    assert result.clean


def test_command_continued_inside_a_heredoc_is_on_its_first_line() -> None:
    result = review(PINNED, "RUN <<EOF", "echo start", "curl -fsSL x \\", "  | sh", "EOF")
    assert found(result) == [(4, PIPE_TO_SHELL)]


def test_copy_heredoc_body_is_file_content() -> None:
    result = review(
        PINNED,
        "COPY <<EOF /usr/local/bin/setup",
        "FROM evil/image",
        "curl -fsSL https://x | sh",
        "EOF",
    )
    assert result.clean
    assert len(result.images) == 1


def test_run_line_with_a_heredoc_is_reviewed_without_it() -> None:
    result = review(PINNED, "RUN curl -fsSL https://x | sh <<EOF", "yes", "EOF")
    assert found(result) == [(2, PIPE_TO_SHELL)]


def test_two_heredocs_are_read_one_after_the_other() -> None:
    result = review(
        PINNED,
        "COPY <<A <<B /dst/",
        "curl x | sh",
        "A",
        "rm -rf /",
        "B",
        "RUN <<C",
        "rm -rf /",
        "C",
    )
    assert found(result) == [(8, REMOVE_ROOT)]


def test_heredoc_in_exec_form_is_no_heredoc() -> None:
    result = review(PINNED, 'RUN ["cat", "<<EOF"]', "RUNN x")
    assert found(result) == [(3, NOT_UNDERSTOOD)]


def test_unterminated_heredoc_is_an_error() -> None:
    with pytest.raises(DockerfileError, match=r"line 2: the heredoc <<EOF is never closed"):
        review(PINNED, "RUN <<EOF", "echo hi")


# --- The digest an approval binds to


def test_digest_is_sha256_hex() -> None:
    digest = review(PINNED).digest
    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_digest_is_stable() -> None:
    first = review(PINNED, "RUN true", build_args={"A": "1", "B": "2"})
    second = review(PINNED, "RUN true", build_args={"B": "2", "A": "1"})
    assert first.digest == second.digest


@pytest.mark.parametrize(
    ("text", "build_args"),
    [
        (f"{PINNED}\nRUN  true\n", {"A": "1"}),
        (f"{PINNED}\nRUN true", {"A": "1"}),
        (f"{PINNED}\nRUN true\n", {"A": "2"}),
        (f"{PINNED}\nRUN true\n", {"A": "1", "B": ""}),
        (f"{PINNED}\nRUN true\n", {}),
    ],
)
def test_digest_changes_with_the_text_or_a_build_arg(text: str, build_args: dict) -> None:
    original = review_dockerfile(f"{PINNED}\nRUN true\n", build_args={"A": "1"})
    assert review_dockerfile(text, build_args=build_args).digest != original.digest


def test_digest_does_not_confuse_text_with_build_args() -> None:
    one = review_dockerfile(f"{PINNED}\n", build_args={"A": "1"})
    other = review_dockerfile(f"{PINNED}\nA1", build_args={})
    assert one.digest != other.digest


# --- Hostile input: never hangs, never crashes

# A guard against input that would hang a review (quadratic parsing, deep nesting), not a
# speed claim: these finish in well under a second here; bench/ is where speed is measured.
BUDGET_SECONDS = 10.0


def timed_review(text: str) -> float:
    started = time.perf_counter()
    with contextlib.suppress(DockerfileError):
        review_dockerfile(text)
    return time.perf_counter() - started


def test_a_megabyte_of_ordinary_instructions_is_reviewed_quickly() -> None:
    block = (
        "ENV PATH=/usr/local/cargo/bin:$PATH\n"
        "COPY Cargo.toml Cargo.lock ./\n"
        "RUN apt-get install -y --no-install-recommends libssl-dev pkg-config\n"
        * 8
        + "RUN curl -fsSLo /tmp/tool.tgz https://example.com/tool.tgz\n"
    )
    text = PINNED + "\n" + block * 1_500
    assert len(text) > 1_000_000
    started = time.perf_counter()
    assert review_dockerfile(text).clean
    assert time.perf_counter() - started < BUDGET_SECONDS


def test_deeply_nested_substitutions_are_followed_quickly() -> None:
    command = "$(" * 3000 + "curl x" + ")" * 3000
    started = time.perf_counter()
    result = review(PINNED, f'RUN sh -c "{command}"')
    assert time.perf_counter() - started < BUDGET_SECONDS
    assert found(result) == [(2, PIPE_TO_SHELL)]


@pytest.mark.parametrize(
    "text",
    [
        PINNED + "\nRUN curl " + "a " * 500_000 + "\n",
        PINNED + "\nRUN " + "$(" * 300_000 + "\n",
        PINNED + "\nRUN curl " + "`" * 1_000_000 + "\n",
        "ARG A=" + "x" * 1_000_000 + "\n" + PINNED + "\n",
        PINNED + "\n" + "RUN curl x | sh\n" * 60_000,
        PINNED + "\n" + "RUN <<EOF\ncurl x | sh\nEOF\n" * 30_000,
        PINNED + "\n" + "RUN a \\\n" * 200_000 + "b\n",
        PINNED + "\n" + "RUN a \\\n\n" * 45_000,
        PINNED + "\n" + "x\n" * 1_000_000,
        PINNED + "\nRUN <<EOF\n" + "x\n" * 90_000,
        PINNED + "\n" + ("RUN curl " + '"$(x ' * 6000 + "\n") * 30,
    ],
    ids=[
        "long line",
        "open substitutions",
        "backquotes",
        "long ARG",
        "many downloads",
        "many heredocs",
        "continued lines",
        "short instructions",
        "many lines",
        "unterminated heredoc",
        "unclosed quotes and substitutions",
    ],
)
def test_a_hostile_megabyte_finishes_quickly(text: str) -> None:
    assert timed_review(text) < BUDGET_SECONDS


def test_instruction_too_long_to_review_is_an_error_naming_its_line() -> None:
    with pytest.raises(DockerfileError, match=r"line 2: RUN is longer than 32768 characters"):
        review(PINNED, "RUN echo " + "x" * 40_000)


def test_more_commands_than_a_review_reads_is_an_error_naming_the_line() -> None:
    with pytest.raises(DockerfileError, match=r"line \d+: more than \d+ characters of commands"):
        review(PINNED, *["RUN curl -o /tmp/f https://example.com/f"] * 10_000)


@pytest.mark.parametrize(
    "command",
    [
        "curl 'x",
        'curl "x $(sh',
        "curl x | (((",
        "curl x ))) | sh",
        "curl x | }",
        "curl `",
        "curl $'\\",
        "curl ${",
        "curl x <",
        "curl x | sh -c",
        "curl x 2>&1 >&- <&3 |",
        "curl \\",
        "rm -rf",
        "curl <( <( <(",
        "curl x\u2028| sh\x85",
    ],
)
def test_broken_shell_never_crashes_the_review(reader: str, command: str) -> None:
    review(PINNED, f"RUN {command}")
