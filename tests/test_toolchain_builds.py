"""Toolchains, glibc floors and strategies on real builds, on Docker and on Podman: a crate
that needs a newer rustc gets one by itself, binaries start on an older Debian, and use_when
chooses native.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from runtimes import naming
from runtimes.engine import Engine
from runtimes.errors import UsageError
from runtimes.glibc import DEFAULT_FLOOR, GlibcVersion
from runtimes.toolchains import NEWEST_CHANNEL
from tests.support import AARCH64, ARMV7, OLDEST, X86_64, build, containers_of, run_binary

pytestmark = [pytest.mark.engine, pytest.mark.slow]

FLOOR_217 = GlibcVersion((2, 17))
NEWER_STD_OUTPUT = ["dropped 10", "dropped 5", "dropped 8", "kept 3, dropped 3 in all"]


def objdump_highest_glibc(path: Path) -> GlibcVersion:
    """The highest GLIBC_ version `objdump -T` lists: the oracle the floor is checked against."""
    listing = subprocess.run(
        ["objdump", "-T", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return max(GlibcVersion.parse(found) for found in re.findall(r"GLIBC_([0-9.]+)", listing))


# --- which toolchain


def test_a_crate_needing_a_newer_rustc_builds_with_a_newer_toolchain_chosen_by_itself(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("newer-std", engine)
    lines: list[str] = []

    result = build(engine, project, AARCH64, tmp_path / "state", lines=lines)

    assert result.succeeded, lines[-30:]
    assert result.toolchain == NEWEST_CHANNEL
    assert result.toolchain_reason == "the newest available (nothing asked for another)"
    assert result.image == naming.toolchain_image(AARCH64, NEWEST_CHANNEL)
    assert f"xcargo: toolchain {NEWEST_CHANNEL}: the newest available" in "\n".join(lines)
    [artifact] = result.artifacts
    assert run_binary(AARCH64, artifact.path).splitlines() == NEWER_STD_OUTPUT


def test_with_only_1_85_offered_the_crate_is_refused_before_any_container_starts(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("newer-std", engine)

    with pytest.raises(UsageError) as refused:
        build(engine, project, AARCH64, tmp_path / "state", offered_toolchains=(OLDEST,))

    assert "newer-std needs rustc 1.88 (its rust-version)" in refused.value.message
    assert "available here: 1.85" in (refused.value.hint or "")
    assert "xcargo images bootstrap --toolchain" in (refused.value.hint or "")
    assert containers_of(engine, project) == []


def test_rust_toolchain_toml_picks_the_toolchain_and_each_toolchain_has_its_own_caches(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    pinned = copy_fixture("hello-tiny", engine)
    (pinned.root / "rust-toolchain.toml").write_text(f'[toolchain]\nchannel = "{OLDEST}"\n')
    newest = build(engine, pinned, AARCH64, tmp_path / "state", toolchain=NEWEST_CHANNEL)

    result = build(engine, pinned, AARCH64, tmp_path / "state")

    assert result.succeeded and newest.succeeded
    assert result.toolchain == OLDEST and result.rustc_version.startswith(OLDEST)
    assert result.toolchain_reason == f"rust-toolchain.toml: channel {OLDEST}"
    assert newest.toolchain_reason == "named by --toolchain"
    assert result.volumes.target != newest.volumes.target
    assert result.volumes.cargo_home != newest.volumes.cargo_home
    [artifact] = result.artifacts
    assert run_binary(AARCH64, artifact.path).splitlines() == ["hello-tiny ok", "arch: aarch64"]


# --- the glibc floor


@pytest.mark.parametrize(("triple", "arch"), [(AARCH64, "aarch64"), (ARMV7, "arm")])
def test_a_floor_of_2_17_links_c_code_too_and_the_binary_starts_on_debian_12(
    toolchain_engine, copy_fixture, tmp_path, triple, arch
):
    engine = toolchain_engine
    project = copy_fixture("c-floor", engine)
    lines: list[str] = []

    result = build(engine, project, triple, tmp_path / "state", lines=lines, glibc_floor=FLOOR_217)

    assert result.succeeded, lines[-30:]
    assert result.strategy == "zig"
    assert "glibc floor 2.17" in result.strategy_reason
    assert result.glibc_floor == "2.17"
    assert any("Compiling c-floor" in line for line in lines)
    [artifact] = result.artifacts
    assert objdump_highest_glibc(artifact.path) <= FLOOR_217
    assert artifact.glibc is not None and artifact.glibc.highest == objdump_highest_glibc(
        artifact.path
    )
    # The sysroots qemu runs it on are Debian bookworm's libc6-*-cross: glibc 2.36, Debian 12.
    assert run_binary(triple, artifact.path).splitlines() == [
        "hello from C on glibc 2.36",
        f"and from Rust on {arch}",
    ]


def test_with_no_floor_set_a_gnu_target_gets_the_2_28_default(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("c-floor", engine)

    result = build(engine, project, AARCH64, tmp_path / "state")

    assert result.succeeded
    assert result.glibc_floor == str(DEFAULT_FLOOR) == "2.28"
    assert "the default: RHEL 8, Debian 10, Ubuntu 20.04" in result.strategy_reason
    [artifact] = result.artifacts
    assert objdump_highest_glibc(artifact.path) <= DEFAULT_FLOOR


def test_xcargo_toml_sets_a_targets_floor(toolchain_engine, copy_fixture, tmp_path):
    engine = toolchain_engine
    toml = f'[container]\nglibc = "2.31"\n[targets."{AARCH64}".container]\nglibc = "2.17"\n'
    project = copy_fixture("c-floor", engine, xcargo_toml=toml)

    result = build(engine, project, AARCH64, tmp_path / "state")

    assert result.succeeded and result.glibc_floor == "2.17"
    assert f'[targets."{AARCH64}".container] glibc' in result.strategy_reason


def test_an_artifact_above_its_floor_fails_the_build_naming_the_symbols(
    toolchain_engine, copy_fixture, tmp_path
):
    """An image without zig (here: ours with its zig label cleared, as a team's own image
    would be) links against its own glibc 2.41; the floor is then checked, not met.
    """
    engine = toolchain_engine
    no_zig = "localhost/xcargo-test/no-zig:1"
    dockerfile = (
        f'FROM {naming.toolchain_image(AARCH64, NEWEST_CHANNEL)}\nLABEL {naming.LABEL_ZIG}=""\n'
    ).encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        entry = tarfile.TarInfo("Dockerfile")
        entry.size = len(dockerfile)
        tar.addfile(entry, io.BytesIO(dockerfile))
    context.seek(0)
    engine.client.images.build(fileobj=context, custom_context=True, tag=no_zig, rm=True)
    project = copy_fixture("c-floor", engine)

    try:
        result = build(engine, project, AARCH64, tmp_path / "state", image=no_zig)
    finally:
        engine.client.images.remove(no_zig)

    assert result.strategy == "container"
    assert "has no zig" in result.strategy_reason
    assert not result.succeeded
    [artifact] = result.artifacts
    assert artifact.glibc is not None and artifact.glibc.highest > DEFAULT_FLOOR
    assert f"c-floor needs GLIBC_{artifact.glibc.highest} (" in (result.failure or "")
    assert "above its floor 2.28" in (result.failure or "")


# --- strategies


def test_use_when_false_builds_the_hosts_own_target_natively_with_the_hosts_cargo(
    docker_toolchains, copy_fixture, tmp_path
):
    """No engine takes part: once, on Docker."""
    engine = docker_toolchains
    toml = '[container]\nuse_when = "target.os != host.os"\n'
    project = copy_fixture("newer-std", engine, xcargo_toml=toml)
    lines: list[str] = []

    result = build(engine, project, X86_64, tmp_path / "state", lines=lines)

    assert result.succeeded, lines[-30:]
    assert result.strategy == "native"
    assert (
        'xcargo.toml: [container] use_when "target.os != host.os" is false'
        in result.strategy_reason
    )
    assert result.volumes is None and result.image == ""
    assert containers_of(engine, project) == []
    [artifact] = result.artifacts
    assert artifact.path == project.root / "target" / X86_64 / "debug" / "newer-std"
    assert run_binary(X86_64, artifact.path).splitlines() == NEWER_STD_OUTPUT


def test_use_when_true_builds_in_a_container(toolchain_engine, copy_fixture, tmp_path):
    engine = toolchain_engine
    toml = f'[targets."{X86_64}".container]\nuse_when = "target.arch == host.arch"\n'
    project = copy_fixture("newer-std", engine, xcargo_toml=toml)

    result = build(engine, project, X86_64, tmp_path / "state")

    assert result.succeeded
    assert result.strategy == "zig"
    assert (
        f'xcargo.toml: [targets."{X86_64}".container] use_when "target.arch == host.arch" is true'
        in (result.strategy_reason)
    )


def test_the_server_builds_in_a_container_whatever_use_when_says(
    toolchain_engine, copy_fixture, tmp_path
):
    engine: Engine = toolchain_engine
    toml = '[container]\nuse_when = "false"\n'
    project = copy_fixture("newer-std", engine, xcargo_toml=toml)

    result = build(engine, project, X86_64, tmp_path / "state", containers_only=True)

    assert result.succeeded and result.strategy == "zig"
    assert "the server builds every target in a container" in result.strategy_reason
