"""Getting a project's source onto the build machine: what may reach git, and what a checkout
or a copy of a local directory promises (right commit, file times kept, nothing followed).

The git tests use real repositories: a working repository and a bare clone of it, reached
through a file:// URL as a remote would be.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtimes.errors import UsageError
from runtimes.sources import (
    SourceError,
    checkout_git,
    copy_local,
    redact_url,
    validate_git_url,
    validate_local_path,
    validate_ref,
)

CARGO_TOML = '[package]\nname = "hello"\nversion = "0.1.0"\n'


# --- git URLs


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/rust-lang/cargo.git",
        "http://git.example.com/team/app.git",
        "ssh://git@git.example.com:2222/team/app.git",
        "git://git.example.com/app.git",
        "file:///srv/git/app.git",
        "git@github.com:team/app.git",
    ],
)
def test_a_git_url_with_an_allowed_transport_is_accepted_unchanged(url: str) -> None:
    assert validate_git_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("ext::sh -c touch% /tmp/pwned", id="ext-transport-runs-a-command"),
        pytest.param("ext::sh", id="ext-transport-without-spaces"),
        pytest.param("-uhttps://x", id="option-injection"),
        pytest.param("--upload-pack=touch /tmp/x", id="upload-pack-option"),
        pytest.param("fd::17", id="fd-transport"),
        pytest.param("https://example.com/a b.git", id="space-inside"),
        pytest.param(" https://example.com/a.git", id="leading-space"),
        pytest.param("https://example.com/a.git\n", id="trailing-newline"),
        pytest.param("https://example.com/a\n.git", id="newline-inside"),
        pytest.param("https://example.com/\x00a.git", id="nul"),
        pytest.param("file://relative", id="file-url-without-absolute-path"),
        pytest.param("http:///nohost", id="http-without-host"),
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("ssh://-oProxyCommand=touch%20x/repo", id="ssh-host-as-option"),
        pytest.param("git@-oProxyCommand:repo", id="scp-like-host-as-option"),
        pytest.param("", id="empty"),
    ],
)
def test_a_url_git_must_not_be_pointed_at_is_refused_with_the_forms_allowed(url: str) -> None:
    with pytest.raises(UsageError) as refused:
        validate_git_url(url)
    assert refused.value.hint


def test_an_unknown_transport_is_refused_as_not_allowed() -> None:
    with pytest.raises(UsageError) as refused:
        validate_git_url("ext::sh")
    assert "allowed git transport" in refused.value.message
    assert "https://" in refused.value.hint


def test_a_url_starting_with_a_dash_is_refused_as_not_a_url() -> None:
    with pytest.raises(UsageError) as refused:
        validate_git_url("-uhttps://x")
    assert "starts with '-'" in refused.value.message


def test_a_file_url_must_name_an_absolute_path() -> None:
    with pytest.raises(UsageError) as refused:
        validate_git_url("file://relative")
    assert "absolute path" in refused.value.message
    assert refused.value.hint == "file:///srv/git/repo.git"


def test_a_url_of_500_characters_is_accepted_and_of_501_refused() -> None:
    base = "https://example.com/"
    assert validate_git_url(base + "a" * (500 - len(base)))
    with pytest.raises(UsageError) as refused:
        validate_git_url(base + "a" * (501 - len(base)))
    assert "longer than 500" in refused.value.message


# --- refs


A_COMMIT_SHA = "3f786850e387550fdab836ed7e6dc881de23001b"


@pytest.mark.parametrize(
    "ref", ["main", "v1.2.0", "feature/x", "release_2024+hotfix", A_COMMIT_SHA]
)
def test_a_branch_tag_or_commit_name_is_accepted(ref: str) -> None:
    assert validate_ref(ref) == ref


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("-x", id="option"),
        pytest.param("--upload-pack=x", id="upload-pack-option"),
        pytest.param("main\n", id="trailing-newline"),
        pytest.param("a..b", id="range"),
        pytest.param("a//b", id="empty-component"),
        pytest.param("x.lock", id="lock-suffix"),
        pytest.param("x/", id="trailing-slash"),
        pytest.param("x.", id="trailing-dot"),
        pytest.param("@{-1}", id="reflog-shorthand"),
        pytest.param("main@{1}", id="reflog-suffix"),
        pytest.param("", id="empty"),
        pytest.param("a b", id="space"),
        pytest.param("a\x00b", id="nul"),
        pytest.param("a" * 201, id="201-characters"),
    ],
)
def test_a_ref_that_is_an_option_a_range_or_not_git_syntax_is_refused(ref: str) -> None:
    with pytest.raises(UsageError) as refused:
        validate_ref(ref)
    assert "is not a git branch, tag or commit name" in refused.value.message
    assert "not starting with '-'" in refused.value.hint


def test_a_ref_of_200_characters_is_accepted() -> None:
    assert validate_ref("a" * 200)


# --- server-local directories


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "sources"
    directory.mkdir()
    return directory


def cargo_project(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Cargo.toml").write_text(CARGO_TOML)
    return directory


def test_a_cargo_project_under_a_root_is_accepted_as_its_resolved_path(root: Path) -> None:
    project = cargo_project(root / "team" / "app")
    assert validate_local_path(str(project), [root]) == project.resolve()


def test_a_project_under_the_second_root_is_accepted(root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    project = cargo_project(other / "app")
    assert validate_local_path(str(project), [root, other]) == project.resolve()


def test_a_relative_path_is_refused(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cargo_project(root / "app")
    monkeypatch.chdir(root)
    with pytest.raises(UsageError) as refused:
        validate_local_path("app", [root])
    assert "not an absolute path" in refused.value.message
    assert str(root) in refused.value.hint


def test_a_project_outside_the_roots_is_refused(root: Path, tmp_path: Path) -> None:
    outside = cargo_project(tmp_path / "elsewhere")
    with pytest.raises(UsageError) as refused:
        validate_local_path(str(outside), [root])
    assert "outside the allowed source directories" in refused.value.message
    assert "XCARGO_SOURCE_ROOTS" in refused.value.hint


def test_dot_dot_cannot_lead_out_of_a_root(root: Path, tmp_path: Path) -> None:
    cargo_project(tmp_path / "elsewhere")
    with pytest.raises(UsageError) as refused:
        validate_local_path(f"{root}/../elsewhere", [root])
    assert "outside the allowed source directories" in refused.value.message


def test_a_symlink_inside_a_root_pointing_outside_it_is_refused(root: Path, tmp_path: Path) -> None:
    outside = cargo_project(tmp_path / "elsewhere")
    (root / "link").symlink_to(outside)
    with pytest.raises(UsageError) as refused:
        validate_local_path(str(root / "link"), [root])
    assert "outside the allowed source directories" in refused.value.message


def test_a_symlink_staying_inside_the_root_is_accepted(root: Path) -> None:
    project = cargo_project(root / "app")
    (root / "link").symlink_to(project)
    assert validate_local_path(str(root / "link"), [root]) == project.resolve()


def test_a_directory_without_cargo_toml_is_refused(root: Path) -> None:
    (root / "notes").mkdir()
    with pytest.raises(UsageError) as refused:
        validate_local_path(str(root / "notes"), [root])
    assert "no Cargo.toml" in refused.value.message


def test_a_path_with_nul_is_refused(root: Path) -> None:
    cargo_project(root / "app")
    with pytest.raises(UsageError):
        validate_local_path(f"{root}/app\x00/x", [root])


def test_no_path_is_accepted_when_no_root_is_configured(root: Path) -> None:
    project = cargo_project(root / "app")
    with pytest.raises(UsageError) as refused:
        validate_local_path(str(project), [])
    assert "(none configured)" in refused.value.hint


# --- credentials in URLs


def test_a_password_in_a_url_is_hidden() -> None:
    redacted = redact_url("https://user:secret@git.example.com/team/app.git")
    assert "secret" not in redacted
    assert redacted == "https://user:***@git.example.com/team/app.git"


def test_a_token_as_user_name_is_hidden() -> None:
    redacted = redact_url("https://ghp_0123456789abcdef@github.com/team/app.git")
    assert "ghp_0123456789abcdef" not in redacted
    assert redacted == "https://***@github.com/team/app.git"


@pytest.mark.parametrize(
    "url",
    ["https://github.com/team/app.git", "file:///srv/git/app.git", "git@github.com:team/app.git"],
)
def test_a_url_without_credentials_is_left_unchanged(url: str) -> None:
    assert redact_url(url) == url


# --- copying a local directory


@pytest.fixture
def project_tree(tmp_path: Path) -> Path:
    source = cargo_project(tmp_path / "source")
    (source / "src").mkdir()
    (source / "src" / "main.rs").write_text("fn main() {}\n")
    (source / "target" / "debug").mkdir(parents=True)
    (source / "target" / "debug" / "hello").write_text("old binary")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    old = time.time() - 86_400
    for path in (source / "Cargo.toml", source / "src" / "main.rs"):
        os.utime(path, (old, old))
    return source


def test_a_copy_keeps_file_times(project_tree: Path, tmp_path: Path) -> None:
    copy = copy_local(project_tree, tmp_path / "copy")
    for name in ("Cargo.toml", "src/main.rs"):
        assert (copy / name).stat().st_mtime_ns == (project_tree / name).stat().st_mtime_ns
        assert (copy / name).read_text() == (project_tree / name).read_text()


def test_a_copy_leaves_out_target_and_git(project_tree: Path, tmp_path: Path) -> None:
    copy = copy_local(project_tree, tmp_path / "copy")
    assert not (copy / "target").exists()
    assert not (copy / ".git").exists()
    assert (copy / "src" / "main.rs").is_file()


def test_a_source_module_named_target_is_copied(project_tree: Path, tmp_path: Path) -> None:
    """Only cargo's own target/ at the project root is build output; `mod target;` is code."""
    (project_tree / "src" / "target").mkdir()
    (project_tree / "src" / "target" / "mod.rs").write_text("pub fn triple() {}\n")
    copy = copy_local(project_tree, tmp_path / "copy")
    assert (copy / "src" / "target" / "mod.rs").read_text() == "pub fn triple() {}\n"


def test_a_symlink_is_copied_as_a_link_and_never_followed(
    project_tree: Path, tmp_path: Path
) -> None:
    (project_tree / "passwords").symlink_to("/etc/passwd")
    (project_tree / "src" / "lib.rs").symlink_to("main.rs")
    copy = copy_local(project_tree, tmp_path / "copy")
    assert (copy / "passwords").is_symlink()
    assert os.readlink(copy / "passwords") == "/etc/passwd"
    assert (copy / "src" / "lib.rs").is_symlink()
    assert os.readlink(copy / "src" / "lib.rs") == "main.rs"


def test_a_copy_replaces_the_previous_one(project_tree: Path, tmp_path: Path) -> None:
    (project_tree / "src" / "old.rs").write_text("// gone soon\n")
    destination = tmp_path / "copy"
    copy_local(project_tree, destination)
    (project_tree / "src" / "old.rs").unlink()
    (project_tree / "src" / "new.rs").write_text("// new\n")
    copy_local(project_tree, destination)
    assert not (destination / "src" / "old.rs").exists()
    assert (destination / "src" / "new.rs").read_text() == "// new\n"


def test_a_copy_creates_missing_parent_directories(project_tree: Path, tmp_path: Path) -> None:
    copy = copy_local(project_tree, tmp_path / "checkouts" / "hello" / "aarch64")
    assert (copy / "Cargo.toml").is_file()


# --- git checkouts

# The test's own git calls ignore the machine's configuration, like the code under test.
GIT_ENVIRONMENT = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.invalid",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.invalid",
}


def git(*arguments: str, cwd: Path) -> str:
    completed = subprocess.run(
        ["git", *arguments],
        cwd=cwd,
        env=GIT_ENVIRONMENT,
        check=True,
        capture_output=True,
        text=True,
    )
    return completed.stdout.strip()


@dataclass
class Remote:
    """A working repository and the bare repository it pushes to, reached by a file:// URL."""

    work: Path
    bare: Path

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def commit(self, path: str, text: str, *, branch: str = "main") -> str:
        """Commit `text` as `path` on `branch` and push it; the new commit's sha."""
        git("checkout", "-q", branch, cwd=self.work)
        target = self.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        git("add", path, cwd=self.work)
        git("commit", "-qm", f"change {path}", cwd=self.work)
        git("push", "-q", "origin", branch, cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)


def make_remote(directory: Path) -> Remote:
    work = cargo_project(directory / "work")
    (work / "src").mkdir()
    (work / "src" / "main.rs").write_text("fn main() {}\n")
    git("init", "-q", "-b", "main", cwd=work)
    git("add", ".", cwd=work)
    git("commit", "-qm", "first", cwd=work)
    bare = directory / "app.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=directory)
    git("remote", "add", "origin", str(bare), cwd=work)
    return Remote(work=work, bare=bare)


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path / "remote")


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """Where the worker keeps the mirror and the checkout."""
    return {"mirror": tmp_path / "mirrors" / "app.git", "workdir": tmp_path / "checkouts" / "app"}


def head_of(remote: Remote, ref: str = "main") -> str:
    return git("rev-parse", f"{ref}^{{commit}}", cwd=remote.bare)


def test_an_empty_ref_checks_out_the_default_branch_head(
    remote: Remote, places: dict[str, Path]
) -> None:
    checkout = checkout_git(remote.url, "", **places)
    assert checkout.commit == head_of(remote)
    assert checkout.is_default_branch and not checkout.is_tag
    assert checkout.directory == places["workdir"]
    assert (places["workdir"] / "Cargo.toml").read_text() == CARGO_TOML


def test_a_named_branch_is_checked_out(remote: Remote, places: dict[str, Path]) -> None:
    git("branch", "feature/x", cwd=remote.work)
    feature = remote.commit("src/feature.rs", "// feature\n", branch="feature/x")
    checkout = checkout_git(remote.url, "feature/x", **places)
    assert checkout.commit == feature
    assert checkout.ref_name == "refs/heads/feature/x"
    assert not checkout.is_default_branch and not checkout.is_tag
    assert (places["workdir"] / "src" / "feature.rs").read_text() == "// feature\n"


def test_a_tag_is_checked_out_as_the_commit_it_tags(
    remote: Remote, places: dict[str, Path]
) -> None:
    tagged = head_of(remote)
    git("tag", "-a", "v1.2.0", "-m", "release", cwd=remote.work)
    git("push", "-q", "origin", "v1.2.0", cwd=remote.work)
    remote.commit("src/later.rs", "// after the tag\n")
    checkout = checkout_git(remote.url, "v1.2.0", **places)
    assert checkout.commit == tagged
    assert checkout.ref_name == "refs/tags/v1.2.0" and checkout.is_tag
    assert not (places["workdir"] / "src" / "later.rs").exists()


def test_a_commit_sha_is_checked_out(remote: Remote, places: dict[str, Path]) -> None:
    first = head_of(remote)
    remote.commit("src/later.rs", "// later\n")
    checkout = checkout_git(remote.url, first, **places)
    assert checkout.commit == first
    assert checkout.ref_name == "" and not checkout.is_tag and not checkout.is_default_branch
    assert not (places["workdir"] / "src" / "later.rs").exists()


def test_a_second_checkout_sees_a_commit_pushed_since_the_first(
    remote: Remote, places: dict[str, Path]
) -> None:
    first = checkout_git(remote.url, "main", **places)
    pushed = remote.commit("src/new.rs", "// new\n")
    second = checkout_git(remote.url, "main", **places)
    assert first.commit != pushed
    assert second.commit == pushed
    assert (places["workdir"] / "src" / "new.rs").read_text() == "// new\n"


def mtimes(directory: Path) -> dict[str, int]:
    return {
        str(path.relative_to(directory)): path.stat().st_mtime_ns
        for path in directory.rglob("*")
        if ".git" not in path.parts
    }


def test_checking_out_the_same_commit_again_keeps_file_times(
    remote: Remote, places: dict[str, Path]
) -> None:
    """cargo decides what to rebuild from file times: an unchanged tree must look unchanged."""
    checkout_git(remote.url, "main", **places)
    before = mtimes(places["workdir"])
    time.sleep(0.05)
    checkout_git(remote.url, "main", **places)
    assert mtimes(places["workdir"]) == before


def test_files_a_new_commit_does_not_touch_keep_their_times(
    remote: Remote, places: dict[str, Path]
) -> None:
    checkout_git(remote.url, "main", **places)
    before = mtimes(places["workdir"])
    remote.commit("src/new.rs", "// new\n")
    time.sleep(0.05)
    checkout_git(remote.url, "main", **places)
    after = mtimes(places["workdir"])
    assert after["src/main.rs"] == before["src/main.rs"]
    assert after["Cargo.toml"] == before["Cargo.toml"]


def test_files_left_in_the_checkout_by_a_build_are_removed(
    remote: Remote, places: dict[str, Path]
) -> None:
    checkout_git(remote.url, "main", **places)
    (places["workdir"] / "src" / "generated.rs").write_text("// left over\n")
    (places["workdir"] / "Cargo.toml").write_text("# edited\n")
    checkout_git(remote.url, "main", **places)
    assert not (places["workdir"] / "src" / "generated.rs").exists()
    assert (places["workdir"] / "Cargo.toml").read_text() == CARGO_TOML


def test_an_unknown_ref_is_a_usage_error_naming_it(remote: Remote, places: dict[str, Path]) -> None:
    with pytest.raises(UsageError) as refused:
        checkout_git(remote.url, "no-such-branch", **places)
    assert "'no-such-branch'" in refused.value.message


def test_an_invalid_ref_never_reaches_git(remote: Remote, places: dict[str, Path]) -> None:
    with pytest.raises(UsageError):
        checkout_git(remote.url, "--upload-pack=touch x", **places)
    assert not places["mirror"].exists()


def test_an_invalid_url_never_reaches_git(places: dict[str, Path]) -> None:
    with pytest.raises(UsageError):
        checkout_git("ext::sh -c touch% /tmp/pwned", "", **places)
    assert not places["mirror"].exists()


def test_a_repository_that_does_not_exist_is_a_source_error_saying_why(
    places: dict[str, Path],
) -> None:
    with pytest.raises(SourceError) as failed:
        checkout_git("file:///nonexistent.git", "", **places)
    assert "/nonexistent.git" in failed.value.message
    assert "does not appear to be a git repository" in failed.value.message
    assert "reachable" in failed.value.hint


def test_an_unreachable_server_is_a_source_error_without_the_credentials(
    places: dict[str, Path],
) -> None:
    with pytest.raises(SourceError) as failed:
        checkout_git("https://user:secret@127.0.0.1:1/x.git", "", **places)
    assert "secret" not in str(failed.value)
    assert "127.0.0.1" in failed.value.message


def test_git_ignores_the_users_global_configuration(
    remote: Remote, places: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's ~/.gitconfig must not redirect a project's URL to another repository."""
    decoy = make_remote(tmp_path / "decoy")
    decoy.commit("src/decoy.rs", "// not the project\n")
    home = tmp_path / "home"
    home.mkdir()
    config = home / ".gitconfig"
    config.write_text(f'[url "{decoy.url}"]\n\tinsteadOf = {remote.url}\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    checkout = checkout_git(remote.url, "main", **places)
    assert checkout.commit == head_of(remote)
    assert checkout.commit != head_of(decoy)
