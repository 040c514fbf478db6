"""Builds cannot tamper with each other: crate code that runs during a build (build scripts,
proc macros) sees the shared CARGO_HOME read-only, on Docker and on Podman.
"""

from __future__ import annotations

import re
import shutil
import threading

import pytest
from docker.types import Mount

from runtimes import caches, naming
from runtimes.engine import Engine
from runtimes.sandbox import (
    CARGO_HOME_DIR,
    SHARED_CARGO_HOME_DIR,
    BuildDiskFull,
    Limits,
    run_command,
)
from runtimes.toolchains import NEWEST_CHANNEL
from tests.support import AARCH64, build, run_binary

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# Every file of the shared CARGO_HOME that a hostile build script may aim at, with its sha256.
_CHECKSUMS = (
    "cd /cache && find registry git -type f ! -name '.cargo-ok' 2>/dev/null "
    "| sort | xargs -r sha256sum"
)


def _attempts(lines: list[str]) -> dict[str, str]:
    """What the hostile build script reported: each path it tried, and what happened."""
    found = (re.search(r"poison (/\S+): (.*)$", line) for line in lines)
    return {match.group(1): match.group(2) for match in found if match}


def _shared_files(engine: Engine, volume: str) -> str:
    """`sha256sum` of every file under the CARGO_HOME volume's registry and git directories."""
    return run_command(
        engine,
        naming.toolchain_image(AARCH64, NEWEST_CHANNEL),
        ["sh", "-c", _CHECKSUMS],
        name="xcargo-test-checksums",
        mounts=[Mount(target="/cache", source=volume, type="volume", read_only=True)],
    )


def test_a_build_script_cannot_change_the_dependencies_another_project_compiles(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    hostile = copy_fixture("poisons-cache", engine)
    lines: list[str] = []

    poisoned = build(engine, hostile, AARCH64, tmp_path / "state", lines=lines)

    assert poisoned.succeeded, lines[-30:]
    attempts = _attempts(lines)
    shared = {
        path: outcome
        for path, outcome in attempts.items()
        if "/registry/" in path or "/git/" in path
    }
    assert len(shared) >= 8, attempts  # src, .crate, index, checkouts, db: in both views
    assert all(outcome.startswith("refused") for outcome in shared.values()), shared
    before = _shared_files(engine, poisoned.volumes.cargo_home)
    assert "hex-0.4.3/src/lib.rs" in before and "hex-0.4.3.crate" in before
    assert "poisoned-by-build-script" not in before
    # cargo's own lock lands in the build's private CARGO_HOME, and nothing of it is shared.
    assert attempts[f"{SHARED_CARGO_HOME_DIR}/.package-cache"].startswith("refused")
    assert attempts[f"{CARGO_HOME_DIR}/.package-cache"] == "WRITTEN"
    stamps = {path for path in (tmp_path / "state").rglob("*") if path.is_file()}

    # A second, unrelated project on the same engine and toolchain, built cold, compiles the
    # same `hex` from the same CARGO_HOME: its binary runs, so the source it read is intact.
    victim = copy_fixture("hello-cross", engine)
    victim_lines: list[str] = []
    result = build(engine, victim, AARCH64, tmp_path / "state", lines=victim_lines)

    assert result.succeeded, victim_lines[-30:]
    assert result.volumes.cargo_home == poisoned.volumes.cargo_home
    assert any("Compiling hex v0.4.3" in line for line in victim_lines)
    assert run_binary(AARCH64, result.artifacts[0].path).startswith("hello-cross ok")
    after = _shared_files(engine, poisoned.volumes.cargo_home)
    assert set(before.splitlines()) <= set(after.splitlines()), "no file it could see changed"
    # The fetch stamps live on the host, out of every container's sight.
    assert stamps <= {path for path in (tmp_path / "state").rglob("*") if path.is_file()}
    # (Its files are named after volumes and stamps, never after what the build script wrote.)
    assert not any("poisoned" in path.name for path in (tmp_path / "state").rglob("*"))


def test_a_build_past_its_disk_limit_is_stopped_and_gives_the_space_back_while_another_builds(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    runaway = copy_fixture("fills-disk", engine)
    neighbour = copy_fixture("hello-cross", engine)
    free_before = shutil.disk_usage("/var/lib").free
    outcome: dict[str, object] = {}

    def build_neighbour() -> None:
        outcome["neighbour"] = build(engine, neighbour, AARCH64, tmp_path / "state")

    other = threading.Thread(target=build_neighbour)
    other.start()
    lines: list[str] = []
    with pytest.raises(BuildDiskFull, match=r"past its disk limit of 600m \(629\.1 MB\)") as stop:
        build(engine, runaway, AARCH64, tmp_path / "state", lines=lines, limits=Limits(disk="600m"))
    other.join()

    assert "--disk-limit" in str(stop.value.hint)
    volume = naming.target_volume(runaway.key, AARCH64, _image_id(engine))
    assert any(line.startswith(f"xcargo: removed the target cache {volume}") for line in lines)
    assert not engine.client.volumes.list(filters={"name": volume})
    neighbour_result = outcome["neighbour"]
    assert neighbour_result.succeeded, "a build on the same host at the same time goes on"
    assert run_binary(AARCH64, neighbour_result.artifacts[0].path).startswith("hello-cross ok")
    neighbour_size = sum(
        row.size for row in caches.usage(engine) if row.name == neighbour_result.volumes.target
    )
    # What the runaway wrote (600 MB and more) is gone; the neighbour's cache is what remains.
    assert shutil.disk_usage("/var/lib").free + neighbour_size > free_before - 150 * 1000**2


def _image_id(engine: Engine) -> str:
    return engine.client.images.get(naming.toolchain_image(AARCH64, NEWEST_CHANNEL)).id
