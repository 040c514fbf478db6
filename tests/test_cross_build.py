"""Cross-builds in real containers, each test on Docker and on Podman: what a user gets, on
cold and warm caches.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from runtimes import naming
from runtimes.artifacts import Artifact
from runtimes.engine import Engine
from runtimes.images.pulling import PullFailed
from runtimes.sandbox import BuildBusy, BuildStopped, Limits
from runtimes.smoke import PASSED
from runtimes.toolchains import NEWEST_CHANNEL
from tests.support import (
    AARCH64,
    ARMV7,
    X86_64,
    build,
    containers_of,
    run_binary,
    wait_until_running,
)

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): _sha256(path) for path in root.rglob("*") if path.is_file()
    }


def _copied(artifact: Artifact) -> tuple[object, ...]:
    """What the collecting phase says of an artifact (its smoke-run comes after)."""
    return artifact.path, artifact.size, artifact.sha256, artifact.glibc


def _remove_cargo_home(engine: Engine, rustc: str) -> None:
    """Start from a cold registry cache, as on a fresh machine. Tests run one at a time, so a
    container still holding the volume is one an earlier test left while it was being removed.
    """
    name = naming.cargo_home_volume(naming.toolchain_key(rustc, ""))
    for container in engine.client.containers.list(all=True, filters={"volume": name}):
        container.remove(force=True)
    for volume in engine.client.volumes.list(filters={"name": name}):
        if volume.name == name:
            volume.remove(force=True)


def test_aarch64_build_on_cold_caches_gives_a_binary_that_runs_under_qemu(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    image = engine.client.images.get(naming.toolchain_image(AARCH64, NEWEST_CHANNEL))
    _remove_cargo_home(engine, image.labels[naming.LABEL_RUSTC])
    project = copy_fixture("hello-cross", engine)
    lines: list[str] = []

    result = build(engine, project, AARCH64, tmp_path / "state", lines=lines)

    assert result.succeeded, lines[-30:]
    assert result.crates_downloaded >= 10
    assert result.volumes.cargo_home_created and result.volumes.target_created
    assert not result.fetch_skipped
    assert set(result.phases) == {"prepare", "fetch", "build", "collect", "smoke"}
    assert any("Compiling hello-cross" in line for line in lines)
    [artifact] = result.artifacts
    assert artifact.path == project.root / "target" / AARCH64 / "debug" / "hello-cross"
    assert artifact.sha256 == _sha256(artifact.path)
    assert artifact.size == artifact.path.stat().st_size
    output = run_binary(AARCH64, artifact.path).splitlines()
    assert output[:2] == ["hello-cross ok", "arch: aarch64"]
    assert artifact.smoke.state == PASSED, artifact.smoke
    assert artifact.smoke.output == ("hello-cross 0.3.1",)
    assert f"xcargo: smoke-run hello-cross: {artifact.smoke.describe()}" in lines
    assert result.rustc_version.startswith(NEWEST_CHANNEL)
    assert result.image_digest


def test_bootstrap_makes_a_labelled_toolchain_image(toolchain_engine):
    image = toolchain_engine.client.images.get(naming.toolchain_image(AARCH64, NEWEST_CHANNEL))

    assert image.labels[naming.LABEL_TARGETS] == AARCH64
    assert image.labels[naming.LABEL_RUSTC].startswith(NEWEST_CHANNEL)
    assert image.labels[naming.LABEL_TOOLCHAIN] == NEWEST_CHANNEL
    assert image.labels[naming.LABEL_KIND] == naming.KIND_TOOLCHAIN


def test_rebuild_without_change_downloads_nothing_and_compiles_nothing(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("hello-cross", engine)
    first = build(engine, project, AARCH64, tmp_path / "state")
    lines: list[str] = []

    second = build(engine, project, AARCH64, tmp_path / "state", lines=lines)

    assert second.succeeded
    assert second.crates_downloaded == 0
    assert second.fetch_skipped, "an unchanged Cargo.lock on the same cache needs no fetch"
    assert not second.volumes.target_created
    assert second.volumes.target == first.volumes.target
    assert not any("Compiling" in line or "Finished" in line for line in lines)
    assert [_copied(artifact) for artifact in second.artifacts] == [
        _copied(artifact) for artifact in first.artifacts
    ]
    assert (
        "xcargo: nothing changed since the last build (the project's files, Cargo.lock, image, "
        "options) and its artifacts are as it left them: cargo not started"
    ) in lines
    assert containers_of(engine, project) == [], "the container it looked through is gone"
    assert second.artifacts[0].smoke == first.artifacts[0].smoke
    assert any(
        line.startswith("xcargo: smoke-run hello-cross: passed") and "not started again" in line
        for line in lines
    ), lines


def test_a_file_cargo_does_not_read_changed_runs_cargo_which_finds_all_fresh_and_copies_nothing(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("hello-cross", engine)
    [made] = build(engine, project, AARCH64, tmp_path / "state").artifacts
    (project.root / "NOTES.md").write_text("not part of the crate\n")
    lines: list[str] = []

    [again] = build(engine, project, AARCH64, tmp_path / "state", lines=lines).artifacts

    assert any("Finished" in line for line in lines), "xcargo cannot know cargo ignores it"
    assert not any("Compiling" in line for line in lines)
    assert "xcargo: hello-cross: fresh, as already copied: not copied again" in lines
    assert _copied(again) == _copied(made)


def test_a_fresh_artifact_whose_host_copy_changed_is_copied_again(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("hello-cross", engine)
    [made] = build(engine, project, AARCH64, tmp_path / "state").artifacts
    made.path.write_bytes(b"not what cargo made")
    lines: list[str] = []

    [again] = build(engine, project, AARCH64, tmp_path / "state", lines=lines).artifacts

    assert not any("Compiling" in line or "not copied again" in line for line in lines)
    assert _copied(again) == _copied(made)
    assert _sha256(again.path) == made.sha256


def test_cache_survives_the_removal_of_every_container(toolchain_engine, copy_fixture, tmp_path):
    engine = toolchain_engine
    project = copy_fixture("hello-cross", engine)
    first = build(engine, project, AARCH64, tmp_path / "state")
    for container in engine.client.containers.list(all=True, filters={"status": "exited"}):
        container.remove(force=True)
    assert containers_of(engine, project) == [], "build containers are removed after each phase"
    assert engine.client.volumes.get(first.volumes.target)
    lines: list[str] = []

    again = build(engine, project, AARCH64, tmp_path / "other-state", lines=lines)

    assert again.succeeded
    assert not again.fetch_skipped, "a new state dir has no stamp: the fetch runs..."
    assert again.crates_downloaded == 0, "...and finds every crate in the cached CARGO_HOME"
    assert not any("Compiling" in line for line in lines)


def test_one_changed_file_recompiles_the_crate_but_no_dependency(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("hello-cross", engine)
    build(engine, project, AARCH64, tmp_path / "state")
    with (project.root / "src" / "greeting.rs").open("a") as source:
        source.write("\n// one more line\n")
    lines: list[str] = []

    result = build(engine, project, AARCH64, tmp_path / "state", lines=lines)

    assert result.succeeded
    compiled = [line.split()[1] for line in lines if line.strip().startswith("Compiling")]
    assert compiled == ["hello-cross"]


def test_a_build_script_writing_into_the_source_fails_clearly_and_the_source_is_untouched(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("writes-source", engine)
    before = _snapshot(project.root)

    result = build(engine, project, X86_64, tmp_path / "state")

    assert not result.succeeded
    assert result.exit_code != 0
    assert "read-only" in (result.failure or "")
    assert "source directory" in (result.failure or "")
    assert _snapshot(project.root) == before
    assert not (project.root / "generated.rs").exists()


def test_a_build_past_its_timeout_is_killed_and_leaves_no_container(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("slow-build", engine)
    started = time.monotonic()

    with pytest.raises(BuildStopped, match="reached its time limit"):
        build(engine, project, X86_64, tmp_path / "state", timeout=20)

    assert time.monotonic() - started < 60
    assert containers_of(engine, project) == []


def test_a_build_over_its_memory_limit_is_stopped_with_what_to_do(
    toolchain_engine, copy_fixture, tmp_path
):
    """Docker reports the container's OOM kill; Podman never does, so there the build is
    explained from cargo's report of its killed compiler. Without the compiler cache: under
    it, the rustc killed is sccache's child (README, Not done yet).
    """
    engine = toolchain_engine
    project = copy_fixture(
        "hello-cross", engine, xcargo_toml="[container.cache]\ncompiler_cache = false\n"
    )

    try:
        result = build(engine, project, AARCH64, tmp_path / "state", limits=Limits(memory="60m"))
    except BuildStopped as stopped:  # the container, or cargo itself, was the one killed
        said, hint = stopped.message, stopped.hint or ""
        assert "ran out of memory" in said
    else:
        said = hint = result.failure or ""
        assert not result.succeeded
    assert "60m" in said
    assert "--memory" in hint
    assert containers_of(engine, project) == []


def test_the_build_container_is_hardened(toolchain_engine, copy_fixture, tmp_path):
    """Inspected while it runs: no capabilities, no network, read-only root and source, limits."""
    engine = toolchain_engine
    project = copy_fixture("slow-build", engine)
    name = naming.build_container(project.key, X86_64, "build")
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            build(engine, project, X86_64, tmp_path / "state", timeout=20)
        except BuildStopped as error:
            outcome.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    attrs = wait_until_running(engine, name)
    # What the build's processes hold, not how the engine spells the request (Docker keeps
    # "ALL", Podman lists each capability it would have given).
    status = engine.client.containers.get(name).exec_run(["cat", "/proc/1/status"]).output
    worker.join()

    assert "CapEff:\t0000000000000000" in status.decode(), "no capability at all"
    host = attrs["HostConfig"]
    assert "no-new-privileges" in " ".join(host["SecurityOpt"])
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["Memory"] == 4 * 1024**3
    assert host["PidsLimit"] == 4096
    # Podman spells them RLIMIT_NOFILE, RLIMIT_NPROC.
    limits = {limit["Name"].lower().removeprefix("rlimit_") for limit in host["Ulimits"]}
    assert limits == {"nofile", "nproc"}
    mounts = {mount["Destination"]: mount for mount in attrs["Mounts"]}
    assert mounts["/project"]["RW"] is False
    assert mounts["/xcargo/target"]["RW"] is True
    assert mounts["/xcargo/target"]["Type"] == "volume"
    assert outcome, "the slow build must end in a timeout"


def test_two_builds_of_one_project_and_target_never_share_the_target_cache(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("hello-cross", engine)
    name = naming.build_container(project.key, AARCH64, "fetch")
    running = engine.client.containers.run(
        naming.toolchain_image(AARCH64, NEWEST_CHANNEL),
        ["sleep", "60"],
        name=name,
        detach=True,
        network_mode="none",
    )
    try:
        with pytest.raises(BuildBusy, match="still running"):
            build(engine, project, AARCH64, tmp_path / "state")
        assert running.status in ("created", "running")
    finally:
        running.remove(force=True)


def test_caching_off_uses_scratch_volumes_and_removes_them(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture(
        "hello-cross", engine, xcargo_toml="[container]\ncache.enabled = false\n"
    )

    result = build(engine, project, AARCH64, tmp_path / "state")

    assert result.succeeded
    assert result.volumes.scratch
    assert result.crates_downloaded >= 10, "no CARGO_HOME cache: every crate is downloaded"
    names = {volume.name for volume in engine.client.volumes.list()}
    assert result.volumes.cargo_home not in names
    assert result.volumes.target not in names


def test_an_image_named_in_xcargo_toml_is_used(toolchain_engine, copy_fixture, tmp_path):
    engine = toolchain_engine
    custom = "localhost/team/aarch64-cross:1"
    engine.client.images.get(naming.toolchain_image(AARCH64, NEWEST_CHANNEL)).tag(
        *custom.rsplit(":", 1)
    )
    toml = f'[targets."{AARCH64}".container]\nimage = "{custom}"\n'
    project = copy_fixture("hello-tiny", engine, xcargo_toml=toml)
    try:
        result = build(engine, project, AARCH64, tmp_path / "state")
    finally:
        engine.client.images.remove(custom)

    assert result.succeeded
    assert result.image == custom


def test_an_image_without_the_targets_standard_library_is_named_as_the_cause(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("hello-cross", engine)
    aarch64_only = naming.toolchain_image(AARCH64, NEWEST_CHANNEL)

    result = build(engine, project, ARMV7, tmp_path / "state", image=aarch64_only)

    assert not result.succeeded
    assert result.failure == (
        f"{aarch64_only} has no Rust standard library for {ARMV7}: use an image made for it "
        f"(`xcargo images bootstrap --target {ARMV7}`)"
    )


def test_a_missing_image_is_a_clear_error_and_nothing_is_pulled(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("hello-cross", engine)

    with pytest.raises(PullFailed, match="is not on the engine, and registry localhost") as raised:
        build(engine, project, AARCH64, tmp_path / "state", image="localhost/nobody/nothing:1")

    assert "pull" in (raised.value.hint or "")
    assert containers_of(engine, project) == []


def test_registry_and_git_paths_bind_host_directories_instead_of_the_volume(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    registry, git = tmp_path / "host-cache" / "registry", tmp_path / "host-cache" / "git"
    toml = f'[container]\ncache.registry_path = "{registry}"\ncache.git_path = "{git}"\n'
    project = copy_fixture("hello-cross", engine, xcargo_toml=toml)

    result = build(engine, project, AARCH64, tmp_path / "state")

    assert result.succeeded
    assert result.crates_downloaded >= 10, "an empty host registry directory is a cold cache"
    assert len(list(registry.glob("cache/*/*.crate"))) == result.crates_downloaded
    assert git.is_dir()


def test_a_build_that_misses_a_download_right_after_a_fetch_fails_saying_so(
    toolchain_engine, copy_fixture, tmp_path
):
    engine = toolchain_engine
    project = copy_fixture("needs-network", engine)
    lines: list[str] = []

    result = build(engine, project, X86_64, tmp_path / "state", lines=lines)

    assert not result.succeeded
    assert not result.fetch_skipped, "the fetch had just run: nothing to fetch again"
    assert result.failure is not None
    assert "needed a download that `cargo fetch` had not made" in result.failure
    assert "no network" in result.failure
    assert sum("fetching, building again" in line for line in lines) == 0
