"""SELinux: where an engine enforces it, bind mounts (the project's source, the CA bundle)
carry the shared label option `z`, or a container could not read them; never from macOS, whose
binds come from the Mac through the Podman machine. No engine here enforces SELinux: the
containers below show that both engines take the relabelled request and the source reads
the same through it.
"""

from __future__ import annotations

import dataclasses

import pytest
from docker.types import Mount

from runtimes import naming
from runtimes.engine import relabels_binds
from runtimes.sandbox import SOURCE_DIR, ContainerSpec, PhaseContainer

SELINUX_DOCKER = {"SecurityOptions": ["name=seccomp,profile=builtin", "name=selinux"]}
SELINUX_PODMAN = {"SecurityOptions": ["name=selinux", "name=seccomp,profile=default"]}


@pytest.mark.parametrize("info", [SELINUX_DOCKER, SELINUX_PODMAN])
def test_an_engine_that_enforces_selinux_gets_relabelled_binds(info):
    assert relabels_binds(info, platform="linux")


@pytest.mark.parametrize(
    ("info", "platform"),
    [
        ({"SecurityOptions": ["name=seccomp,profile=default", "name=rootless"]}, "linux"),
        ({}, "linux"),
        (SELINUX_PODMAN, "darwin"),  # the Podman machine's VM enforces it; the Mac's files
    ],
)
def test_no_relabelling_without_selinux_or_from_macos(info, platform):
    assert not relabels_binds(info, platform=platform)


@pytest.mark.engine
def test_both_engines_run_a_container_whose_binds_are_relabelled(toolchain_engine, tmp_path):
    engine = dataclasses.replace(toolchain_engine, relabel_binds=True)
    (tmp_path / "Cargo.toml").write_text("[package]\n")
    spec_name = f"xcargo-relabel-test-{engine.kind}"
    spec = ContainerSpec(
        name=spec_name,
        image=naming.BASE_IMAGE,
        command=["cat", f"{SOURCE_DIR}/Cargo.toml"],
        mounts=[
            Mount(target=SOURCE_DIR, source=str(tmp_path), type="bind", read_only=True),
            Mount(target="/scratch", source=spec_name, type="volume"),
        ],
    )
    lines: list[str] = []

    try:
        with PhaseContainer(engine, spec) as phase:
            host_config, mounts = (
                phase.container.attrs["HostConfig"],
                phase.container.attrs["Mounts"],
            )
            outcome = phase.run(lines.append, timeout=60)
    finally:
        engine.client.volumes.get(spec_name).remove(force=True)

    # Podman adds its own defaults after ours (",rprivate,rbind"), and lists volumes there too.
    [bind] = [bind for bind in host_config["Binds"] if bind.startswith(f"{tmp_path}:")]
    assert bind.startswith(f"{tmp_path}:{SOURCE_DIR}:ro,z"), bind
    [volume] = [mount for mount in mounts if mount["Destination"] == "/scratch"]
    assert volume["Type"] == "volume", "a volume stays a mount"
    assert (outcome.exit_code, lines) == (0, ["[package]"])
