"""Getting a project's source onto the build machine: a git repository or a local directory.

A git repository is mirrored once per machine and fetched for each build; each project and
target builds in its own checkout of that mirror, so a checkout of the same commit leaves file
times alone and cargo's target cache stays valid. A local directory is copied (times kept) so
that a build never reads a tree someone is editing, and the original is never mounted.

Everything that reaches git is validated first: URLs with an allowed scheme only (no `ext::`,
no option injection), refs in git's own ref syntax, and git runs without prompts or hooks.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from runtimes import vocabulary
from runtimes.errors import UsageError, XcargoError

ALLOWED_SCHEMES = ("https", "http", "ssh", "git", "file")
GIT_TIMEOUT_SECONDS = 600
# user@host:path, the scp-like form of ssh URLs
_SCP_LIKE = re.compile(r"\A[A-Za-z0-9._-]+@[A-Za-z0-9][A-Za-z0-9.-]*:[A-Za-z0-9._~/-]+\Z")
# A branch, tag or commit in git's ref syntax, never an option or a range: the one rule, which
# the API's description gives clients too (so it uses no Python-only syntax).
REF_PATTERN = r"(?!.*\.\.)(?!.*//)(?!.*@\{)(?!.*(\.lock|/|\.)$)[A-Za-z0-9_][A-Za-z0-9._/+-]{0,199}"
_REF = re.compile(REF_PATTERN)


class SourceError(XcargoError):
    """The source could not be fetched or checked out (a network or repository problem)."""

    kind = vocabulary.SOURCE


@dataclass(frozen=True)
class Checkout:
    directory: Path
    commit: str
    # What the ref named: `refs/heads/…`, `refs/tags/…`, or "" for a commit id.
    ref_name: str = ""
    # The remote's default branch (`refs/heads/main`), "" when it has none.
    default_branch: str = ""

    @property
    def is_tag(self) -> bool:
        return self.ref_name.startswith("refs/tags/")

    @property
    def is_default_branch(self) -> bool:
        return bool(self.default_branch) and self.ref_name == self.default_branch


def validate_git_url(url: str) -> str:
    """The URL, if git may be pointed at it; a UsageError saying why not otherwise."""
    hint = "use https://, ssh://, git://, file:// or user@host:path"
    if not url or any(c.isspace() or ord(c) < 32 or c == "\x7f" for c in url):
        raise UsageError("the git URL is empty or has spaces or control characters", hint=hint)
    if url.startswith("-"):
        raise UsageError(f"{url!r} is not a git URL (it starts with '-')", hint=hint)
    if len(url) > 500:
        raise UsageError("the git URL is longer than 500 characters", hint=hint)
    if _SCP_LIKE.match(url):
        return url
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or "::" in url.split("/", 1)[0]:
        raise UsageError(f"{url!r} does not use an allowed git transport", hint=hint)
    if parts.scheme == "file" and not parts.path.startswith("/"):
        raise UsageError(f"{url!r} must name an absolute path", hint="file:///srv/git/repo.git")
    if parts.scheme != "file" and not parts.hostname:
        raise UsageError(f"{url!r} names no host", hint=hint)
    # ssh would read a host (or user) starting with '-' as an option, like -oProxyCommand=…
    if parts.netloc.startswith("-") or (parts.hostname or "").startswith("-"):
        raise UsageError(f"{url!r} names a host starting with '-'", hint=hint)
    return url


def redact_url(url: str) -> str:
    """The URL with any password or token in it replaced, for logs and pages."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.split(":", 1)[0]
    return parts._replace(netloc=f"{name}:***@{host}" if ":" in user else f"***@{host}").geturl()


def validate_ref(ref: str) -> str:
    """A branch, tag or commit name in git's ref syntax (never an option, never a range)."""
    if not _REF.fullmatch(ref):
        raise UsageError(
            f"{ref!r} is not a git branch, tag or commit name",
            hint="letters, digits and . _ / + -, not starting with '-', like main or v1.2.0",
        )
    return ref


def validate_local_path(path: str, roots: list[Path]) -> Path:
    """An existing Cargo project directory inside one of `roots`, with symlinks resolved so
    that `..` or a link cannot lead outside them.
    """
    allowed = ", ".join(str(root) for root in roots) or "(none configured)"
    hint = f"server-local projects must be under one of: {allowed} (XCARGO_SOURCE_ROOTS)"
    if not path or "\x00" in path or not os.path.isabs(path):
        raise UsageError(f"{path!r} is not an absolute path", hint=hint)
    resolved = Path(path).resolve()
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise UsageError(f"{path} is outside the allowed source directories", hint=hint)
    if not (resolved / "Cargo.toml").is_file():
        raise UsageError(f"{path} holds no Cargo.toml", hint="name the project's root directory")
    return resolved


def copy_local(source: Path, destination: Path) -> Path:
    """Replace `destination` with a copy of `source` (file times kept, the root's `target/`
    and every `.git` left out, symlinks copied as links and never followed).
    """
    if destination.exists():
        shutil.rmtree(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        source,
        destination,
        symlinks=True,
        ignore=lambda directory, names: _left_out(source, Path(directory), names),
        copy_function=shutil.copy2,
    )
    return destination


def _left_out(source: Path, directory: Path, names: list[str]) -> set[str]:
    """What a copy skips in `directory`: git metadata anywhere, and cargo's build output,
    which is the `target/` at the project's root only (`src/target/` is a module).
    """
    left_out = {name for name in names if name == ".git"}
    if directory == source and "target" in names and (directory / "target").is_dir():
        left_out.add("target")
    return left_out


def checkout_git(url: str, ref: str, *, mirror: Path, workdir: Path) -> Checkout:
    """Bring `mirror` up to date with `url`, then check out `ref` (the remote's default branch
    when empty) into `workdir`; returns the commit checked out.
    """
    validate_git_url(url)
    if ref:
        validate_ref(ref)
    with _locked(mirror.with_name(mirror.name + ".lock")):
        if (mirror / "HEAD").is_file():
            _git(["remote", "set-url", "origin", url], cwd=mirror)
            _git(["fetch", "--prune", "--force", "origin"], cwd=mirror)
        else:
            mirror.parent.mkdir(parents=True, exist_ok=True)
            _git(["clone", "--mirror", "--", url, str(mirror)], cwd=mirror.parent)
        commit, ref_name = _resolve(mirror, ref or "HEAD")
        head = _git(["symbolic-ref", "--quiet", "HEAD"], cwd=mirror, check=False)
        default_branch = head.stdout.strip() if head.returncode == 0 else ""
    # The checkout borrows the mirror's objects (--shared), so every fetched commit is there.
    if not (workdir / ".git").is_dir():
        workdir.parent.mkdir(parents=True, exist_ok=True)
        _git(["clone", "--shared", "--no-checkout", "--", str(mirror), str(workdir)], cwd=mirror)
    _git(["checkout", "--force", "--detach", commit], cwd=workdir)
    _git(["clean", "-ffdx"], cwd=workdir)
    return Checkout(
        directory=workdir, commit=commit, ref_name=ref_name, default_branch=default_branch
    )


def _resolve(mirror: Path, ref: str) -> tuple[str, str]:
    """(commit, the full name git resolved `ref` to: "" when it is a commit id)."""
    for candidate in (ref, f"refs/tags/{ref}", f"refs/heads/{ref}"):
        completed = _git(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{candidate}^{{commit}}"],
            cwd=mirror,
            check=False,
        )
        if completed.returncode == 0:
            named = _git(
                ["rev-parse", "--symbolic-full-name", "--end-of-options", candidate],
                cwd=mirror,
                check=False,
            )
            # git echoes --end-of-options before the name; a commit id has no name.
            lines = named.stdout.split() if named.returncode == 0 else []
            full_name = lines[-1] if lines and lines[-1].startswith("refs/") else ""
            return completed.stdout.strip(), full_name
    raise UsageError(
        f"the repository has no branch, tag or commit named {ref!r}",
        hint="push it, or choose another ref",
    )


def _git(
    arguments: list[str], *, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """git with no prompt, no hooks, no system or global config, and allowed transports only."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ALLOW_PROTOCOL": ":".join(ALLOWED_SCHEMES),
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
    }
    command = ["git", "-c", "core.hooksPath=/dev/null", "-c", "protocol.ext.allow=never"]
    try:
        completed = subprocess.run(
            [*command, *arguments],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as error:
        raise SourceError(f"git {arguments[0]} took longer than {GIT_TIMEOUT_SECONDS} s") from error
    if check and completed.returncode != 0:
        detail = _failure_detail(completed.stderr or completed.stdout)
        for argument in arguments:
            detail = detail.replace(argument, redact_url(argument))
        raise SourceError(
            f"git {arguments[0]} failed: {detail}",
            hint="check that the repository URL is right and reachable from the worker",
        )
    return completed


def _failure_detail(output: str) -> str:
    """What git said went wrong: its fatal and error lines (the first names the cause; advice
    such as "Please make sure you have the correct access rights" follows it), else its last
    lines.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return " ".join(errors[:3] or lines[-3:])


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process at a time updates a mirror (two fetches would fight over ref locks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
