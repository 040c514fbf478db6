"""A rootless engine: Podman run by an unprivileged user of its own (scripts/podman-rootless.sh).
It is recognised as rootless, builds as the rootful engines do, and what its builds leave (the
artifacts on the host, the volumes on the engine) the caller can read and clean; a project its
user may not read is refused with what to do.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtimes import caches, doctor
from runtimes.errors import XcargoError
from runtimes.project import locate_project
from tests.conftest import FIXTURES
from tests.support import AARCH64, build, run_binary

pytestmark = [pytest.mark.engine, pytest.mark.podman, pytest.mark.slow]


@pytest.fixture
def readable_dir() -> Iterator[Path]:
    """A directory the engine's user can read, as a project is when that user builds it (the
    test's own directories are root's alone).
    """
    path = Path(tempfile.mkdtemp(prefix="xcargo-rootless-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_rootless_podman_is_recognised_and_the_doctor_says_so(rootless_podman):
    engine = rootless_podman

    checks = doctor.engine_checks(engine)

    assert engine.kind == "podman" and engine.rootless
    assert any(check.message.startswith("rootless podman: builds run as") for check in checks)
    [test_container] = [check for check in checks if check.message.startswith("test container")]
    assert test_container.status == "ok", test_container


def test_a_build_on_rootless_podman_leaves_artifacts_and_caches_the_caller_can_use(
    rootless_podman, readable_dir, tmp_path
):
    engine = rootless_podman
    shutil.copytree(FIXTURES / "hello-tiny", readable_dir / "hello-tiny")
    project = locate_project(readable_dir / "hello-tiny")
    lines: list[str] = []

    result = build(engine, project, AARCH64, tmp_path / "state", lines=lines)

    assert result.succeeded, lines[-30:]
    [artifact] = result.artifacts
    facts = artifact.path.stat()
    assert (facts.st_uid, facts.st_gid) == (os.getuid(), os.getgid()), "the caller's own file"
    assert run_binary(AARCH64, artifact.path).splitlines() == ["hello-tiny ok", "arch: aarch64"]
    # The target cache holds files of the user's subordinate ids: the engine removes them.
    report = caches.clean(engine, selection=caches.CleanFilter(project=project.key))
    assert result.volumes.target in {volume.name for volume in report.removed}
    assert result.volumes.target not in {volume.name for volume in engine.client.volumes.list()}


def test_a_project_the_engines_user_may_not_read_is_refused_with_what_to_do(
    rootless_podman, copy_fixture, tmp_path
):
    project = copy_fixture("hello-tiny", rootless_podman)  # under root's own 0700 directory

    with pytest.raises(XcargoError) as refused:
        build(rootless_podman, project, AARCH64, tmp_path / "state")

    assert refused.value.message.startswith(
        f"the engine (podman, rootless) may not read {project.root}: it runs as a user"
    )
    assert "readable by that user" in (refused.value.hint or "")
