"""Protected refs: the default branch, tags and refs an admin marks protected build on a
target cache that builds of other refs cannot write.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.test import Client

from builds.models import Build, Project, Target
from builds.services.cache_lanes import target_lane
from builds.services.projects import create_project
from runtimes.sources import Checkout
from tests.server.conftest import AARCH64
from tests.server.test_build_queue import finished, trigger, wait_for


def _resolved(ref_name: str, default_branch: str = "refs/heads/main") -> Checkout:
    """A checkout whose ref git resolved to `ref_name` ("" for a commit id)."""
    return Checkout(Path("."), "c" * 40, ref_name, default_branch)


MAIN = _resolved("refs/heads/main")

# A build script on a branch that overwrites a compiled dependency in its target directory,
# which a later build linking it without recompiling would ship.
_TAMPERING_BUILD_RS = r"""
use std::{env, fs, path::PathBuf};
fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let deps = out.ancestors().nth(3).unwrap().join("deps");
    for entry in fs::read_dir(&deps).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with("libhex-") {
            fs::write(entry.path(), b"tampered").unwrap();
        }
    }
    fs::write(deps.join("TAMPERED"), b"x").unwrap();
}
"""


def _build(ref: str, *, default_ref: str = "main", protected_refs: str = "") -> Build:
    project = Project(slug="p", git_url="file:///r.git", default_ref=default_ref)
    project.protected_refs = protected_refs
    return Build(project=project, target=Target(project=project, triple=AARCH64), ref=ref)


@pytest.mark.parametrize(
    ("ref", "checkout", "protected_refs", "lane"),
    [
        ("", MAIN, "", ""),
        ("main", MAIN, "", ""),
        ("v1.0", _resolved("refs/tags/v1.0"), "", ""),
        ("feature", _resolved("refs/heads/feature"), "", "feature"),
        ("release/2", _resolved("refs/heads/release/2"), "release/*", ""),
        ("release/2", _resolved("refs/heads/release/2"), "rel", "release/2"),
        ("c" * 40, _resolved(""), "", "c" * 40),
        # The remote's default branch, even when the project's default_ref names another.
        ("trunk", _resolved("refs/heads/trunk", "refs/heads/trunk"), "", ""),
    ],
)  # fmt: skip
def test_which_refs_write_the_protected_target_cache(ref, checkout, protected_refs, lane):
    assert target_lane(_build(ref, protected_refs=protected_refs), checkout) == lane


def test_a_server_local_project_has_only_the_protected_cache():
    assert target_lane(_build("", default_ref=""), None) == ""


@pytest.mark.engine
@pytest.mark.slow
def test_a_branch_that_tampers_with_its_target_cache_never_reaches_the_default_branch(
    api_client, user, git_repository, engine_host, celery_worker, tmp_path
):
    bare = Path(git_repository.removeprefix("file://"))
    _push_branch(bare, tmp_path / "evil-src", "evil", {"build.rs": _TAMPERING_BUILD_RS})
    _push_tag(bare, "v1.0", "main")
    project = create_project(
        name="hello-lanes", git_url=git_repository, default_ref="main", triples=[AARCH64]
    )

    main = wait_for(api_client, trigger(api_client, project.slug)["id"], until=finished)
    assert main["success"] is True, (main, celery_worker.log_tail())
    assert main["target_cache_protected"] is True and main["target_cache_seeded"] is False

    evil = wait_for(api_client, trigger(api_client, project.slug, ref="evil")["id"], until=finished)
    assert evil["state"] == "finished", (evil, celery_worker.log_tail())
    assert evil["target_cache_protected"] is False
    assert evil["target_cache_seeded"] is True, "a branch starts from a copy of the protected cache"
    assert evil["target_cache"] != main["target_cache"]
    assert evil["success"] is False, "it linked the dependency its own build script broke"

    again = wait_for(api_client, trigger(api_client, project.slug)["id"], until=finished)
    assert again["success"] is True, (again, celery_worker.log_tail())
    assert again["target_cache"] == main["target_cache"]
    assert again["artifacts"][0]["sha256"] == main["artifacts"][0]["sha256"]
    log = api_client.get(f"/api/builds/{again['id']}/log").json()["lines"]
    assert not any("Compiling" in line for line in log), "warm, and nothing tampered with in it"

    tag = wait_for(api_client, trigger(api_client, project.slug, ref="v1.0")["id"], until=finished)
    assert tag["target_cache"] == main["target_cache"] and tag["target_cache_protected"] is True

    page = _page(user, evil["id"])
    assert evil["target_cache"] in page and "this ref's own" in page
    assert "made as a copy of the protected one" in page
    assert "protected (default branch, tags, protected refs)" in _page(user, main["id"])


def _page(user, build_id: int) -> str:
    client = Client()
    client.force_login(user)
    return client.get(f"/builds/{build_id}/").content.decode()


def _git(*arguments: str, cwd: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, *arguments], cwd=cwd, check=True, capture_output=True)


def _push_branch(bare: Path, work: Path, branch: str, files: dict[str, str]) -> None:
    subprocess.run(["git", "clone", "-q", str(bare), str(work)], check=True, capture_output=True)
    _git("checkout", "-q", "-b", branch, cwd=work)
    for name, text in files.items():
        (work / name).write_text(text)
    _git("add", ".", cwd=work)
    _git("commit", "-qm", f"{branch} changes", cwd=work)
    _git("push", "-q", "origin", branch, cwd=work)


def _push_tag(bare: Path, tag: str, commit: str) -> None:
    _git("tag", tag, commit, cwd=bare)
