"""The target cache sheds what no build used for a while (runtimes.target_sweep): the sweep's
script on a target directory laid out as cargo lays it out, its report, and (on Docker and on
Podman) a workspace switched between two feature sets, one of which nobody builds any more.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from runtimes import naming
from runtimes.target_sweep import SWEEP_PREFIX, TargetSweep, parse_sweep, with_sweep
from runtimes.toolchains import NEWEST_CHANNEL
from tests.support import AARCH64, build

USED, UNUSED = "0123456789abcdef", "fedcba9876543210"
MONTH = 30 * 24 * 3600


def _unit(profile: Path, name: str, hash_: str, *, last_read: float) -> None:
    """One compiled unit as cargo leaves it: fingerprint, dep-info, library, build dir."""
    fingerprint = profile / ".fingerprint" / f"{name}-{hash_}"
    fingerprint.mkdir(parents=True)
    (fingerprint / f"lib-{name}").write_text("fingerprint")
    os.utime(fingerprint / f"lib-{name}", (last_read, time.time()))
    (profile / "deps").mkdir(exist_ok=True)
    (profile / "deps" / f"{name}-{hash_}.d").write_text("dep-info")
    (profile / "deps" / f"lib{name}-{hash_}.rlib").write_bytes(b"\0" * 40_000)
    (profile / "build" / f"{name}-{hash_}" / "out").mkdir(parents=True)


def _sweep(target: Path, *, days: int = 14, path: str | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "CARGO_TARGET_DIR": str(target)}
    if path is not None:
        environment["PATH"] = path
    return subprocess.run(
        with_sweep(["true"], unused_days=days), env=environment, capture_output=True, text=True
    )


def test_units_no_build_read_for_longer_than_the_days_go_and_the_rest_stay(tmp_path):
    profile = tmp_path / "target" / AARCH64 / "release"
    _unit(profile, "serde", USED, last_read=time.time() - 3600)
    _unit(profile, "serde", UNUSED, last_read=time.time() - MONTH)
    (profile / "hello").write_text("the uplifted binary: no unit of its own")
    # The host's profile (build scripts, proc macros), none of whose units a build used lately.
    host_profile = tmp_path / "target" / "release"
    _unit(host_profile, "serde_derive", UNUSED, last_read=time.time() - MONTH)

    done = _sweep(tmp_path / "target")

    assert done.returncode == 0
    assert done.stdout.strip().startswith(f"{SWEEP_PREFIX}2 ")
    left = sorted(path.name for path in profile.rglob("*"))
    assert all(UNUSED not in name for name in left), left
    assert f"libserde-{USED}.rlib" in left and f"serde-{USED}" in left and "hello" in left
    assert not list((host_profile / "deps").iterdir()), "every unit of the host's profile went"


def test_the_build_command_keeps_its_exit_status_and_a_failed_build_sheds_nothing(tmp_path):
    profile = tmp_path / "target" / "debug"
    _unit(profile, "old", UNUSED, last_read=time.time() - MONTH)

    failed = subprocess.run(
        with_sweep(["sh", "-c", "exit 101"], unused_days=14),
        env={**os.environ, "CARGO_TARGET_DIR": str(tmp_path / "target")},
        capture_output=True,
        text=True,
    )

    assert failed.returncode == 101 and failed.stdout == ""
    assert (profile / "deps" / f"libold-{UNUSED}.rlib").exists()


def test_a_find_that_cannot_read_access_times_removes_nothing(tmp_path):
    profile = tmp_path / "target" / "debug"
    _unit(profile, "old", UNUSED, last_read=time.time() - MONTH)
    shims = tmp_path / "bin"
    shims.mkdir()
    find = shims / "find"
    find.write_text('#!/bin/sh\ncase "$*" in *-amin*) exit 1 ;; esac\nexec /usr/bin/find "$@"\n')
    find.chmod(find.stat().st_mode | stat.S_IEXEC)

    done = _sweep(tmp_path / "target", path=f"{shims}:{os.environ['PATH']}")

    assert done.returncode == 0 and SWEEP_PREFIX not in done.stdout
    assert (profile / "deps" / f"libold-{UNUSED}.rlib").exists()


def test_the_report_reads_as_units_and_size():
    sweep = parse_sweep(f"{SWEEP_PREFIX}3 2048\n", unused_days=14)

    assert sweep == TargetSweep(units=3, freed=2048 * 1024, unused_days=14)
    assert sweep.summary() == (
        "target cache: removed 3 compiled units no build used in 14 days (2.1 MB)"
    )
    assert parse_sweep(f"{SWEEP_PREFIX}\n", unused_days=14) is None


@pytest.mark.engine
@pytest.mark.slow
def test_a_feature_set_nobody_builds_any_more_is_shed_and_the_one_in_use_stays_fresh(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("workspace-features", engine)

    target_volume = ""

    def build_app(*features: str) -> list[str]:
        nonlocal target_volume
        lines: list[str] = []
        # An output directory of its own: each build starts cargo (no unchanged-build skip).
        result = build(
            engine, project, AARCH64, tmp_path / "state", lines=lines,
            output_dir=tmp_path / "out", cargo_args=("-p", "app", *features),
        )  # fmt: skip
        assert result.succeeded, lines[-20:]
        target_volume = result.volumes.target
        return lines

    build_app("--features", "loud")
    build_app()
    # A month passes: every unit in the target cache was last read then.
    engine.client.containers.run(
        naming.toolchain_image(AARCH64, NEWEST_CHANNEL),
        ["sh", "-c", f"find /target -exec touch -a -d @{int(time.time() - MONTH)} {{}} +"],
        volumes={target_volume: {"bind": "/target", "mode": "rw"}},
        remove=True,
    )

    after_a_month = build_app()
    again = build_app()
    loud_again = build_app("--features", "loud")

    assert not any("Compiling" in line for line in after_a_month), "the default set is fresh"
    [shed] = [line for line in after_a_month if "target cache: removed" in line]
    # The loud set's greeter library and app's two binaries; the default set's stay.
    assert shed.startswith(
        "xcargo: target cache: removed 3 compiled units no build used in 14 days"
    )
    assert not any("Compiling" in line or "target cache:" in line for line in again)
    assert any("Compiling greeter" in line for line in loud_again), "the loud set was shed"
