"""The review of a project's Dockerfile: the images it uses and the risky things it does.

Each finding is on the line a person reads. Here: the review's shape, the instructions it
reads (ADD, unknown ones, continued lines, heredocs), the digest and hostile input; the images
are in test_dockerfile_review_images.py, the shell commands in test_dockerfile_review_shell.py.
"""

from __future__ import annotations

import contextlib
import time

import pytest

from runtimes.errors import UsageError
from runtimes.images.review import (
    ADD_URL,
    NOT_UNDERSTOOD,
    PIPE_TO_SHELL,
    REMOVE_ROOT,
    UNPINNED,
    DockerfileError,
    Finding,
    UsedImage,
    review_dockerfile,
)
from tests.dockerfile_review_support import PINNED, found, review

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
    ("lines", "sources"),
    [
        (["COPY tools/greeting ./a.sh /usr/local/bin/"], ("tools/greeting", "a.sh")),
        (["COPY . /src"], ("*",)),
        (["COPY ./ /src", "ADD /etc/x /y"], ("*", "etc/x")),
        (['COPY ["a b", "/c"]'], ("a b",)),
        (["ADD https://example.com/x.tar /x", "COPY --from=0 /a /b"], ()),
        (["COPY <<EOF /f", "hello", "EOF"], ()),
        (["ONBUILD COPY . /src"], ()),
        (["ARG WHAT=src", "COPY $WHAT /src"], None),
    ],
)
def test_the_context_paths_copy_and_add_take(lines, sources) -> None:
    assert review(PINNED, *lines).context_sources == sources
