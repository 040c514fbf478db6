"""The review of a project's Dockerfile: the shell commands it runs, downloads run by a
shell and the removal of the filesystem root.

Shell commands are read by bashlex and, where it gives up, by a token-level scanner: the
spelling tables run through both.
"""

from __future__ import annotations

import bashlex
import pytest

from runtimes.images.review import ADD_URL, PIPE_TO_SHELL, REMOVE_ROOT
from tests.dockerfile_review_support import PINNED, found, review, run_findings


@pytest.fixture(params=["bashlex", "scanner"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with bashlex, then with bashlex failing so that the scanner reads all."""
    if request.param == "scanner":

        def gives_up(text: str) -> None:
            raise NotImplementedError("bashlex gives up")

        monkeypatch.setattr(bashlex, "parse", gives_up)
    return request.param


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


# --- Heredocs: their commands on their own lines


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


# --- Broken shell: never crashes the review


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
