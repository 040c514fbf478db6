"""The shared compiler cache (sccache) on Docker: a second project with the same dependencies
compiles none of them again; a build of an unprotected ref reads the cache and writes nothing
to it; a project can turn it off.
"""

from __future__ import annotations

import pytest

from runtimes import naming
from runtimes.sandbox import COMPILER_CACHE_DIR as CACHE_DIR
from tests.support import AARCH64, build, run_binary

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# hello-cross's dependencies compile 31 libraries sccache can cache (serde, syn, sha2,
# itertools…); the crate itself is a binary, and proc macros and build scripts too are never
# cached.
DEPENDENCY_COMPILES = 25


@pytest.fixture
def warm_compiler_cache(docker_toolchains, copy_fixture, tmp_path):
    """One project built, so the compiler cache of aarch64 holds hello-cross's dependencies
    (it may hold them already from an earlier build on this engine).
    """
    project = copy_fixture("hello-cross", docker_toolchains, under="first")
    result = build(docker_toolchains, project, AARCH64, tmp_path / "first-state")
    assert result.succeeded
    return result.compiler_cache


def test_a_second_project_with_the_same_dependencies_compiles_none_of_them_again(
    docker_toolchains, copy_fixture, tmp_path, warm_compiler_cache
):
    engine = docker_toolchains
    project = copy_fixture("hello-cross", engine)
    lines: list[str] = []

    result = build(engine, project, AARCH64, tmp_path / "state", lines=lines)

    assert result.succeeded, lines[-30:]
    assert result.volumes.target_created, "a cold target cache of its own"
    use = result.compiler_cache
    assert use is not None and use.writable
    assert use.volume == warm_compiler_cache.volume
    assert use.volume.startswith("xcargo-compiler-cache-rustc-1.98")
    assert use.hits >= DEPENDENCY_COMPILES and use.misses == 0, use
    assert f"xcargo: {use.summary()}" in lines
    labels = engine.client.volumes.get(use.volume).attrs["Labels"]
    assert labels[naming.LABEL_KIND] == naming.KIND_COMPILER_CACHE
    assert labels[naming.LABEL_TARGET] == AARCH64
    [artifact] = result.artifacts
    assert "hello-cross 0.3.1" in run_binary(AARCH64, artifact.path)


def test_an_unprotected_ref_reads_the_compiler_cache_and_writes_nothing_to_it(
    docker_toolchains, copy_fixture, tmp_path, warm_compiler_cache
):
    engine = docker_toolchains
    # Linked at the image's own glibc: zig's stubs, which such a build would compile in each
    # of its cold target caches, are not what is tested.
    project = copy_fixture("hello-cross", engine, xcargo_toml='[container]\nglibc = "2.41"\n')
    # Flags no protected build uses: every dependency compile misses the cache.
    unseen = ("--config", 'build.rustflags=["--cfg", "xcargo_read_only_check"]')

    def lane_build(lane: str):
        return build(
            engine, project, AARCH64, tmp_path / "state", target_lane=lane, cargo_args=unseen
        )

    first, second = lane_build("feature/one"), lane_build("feature/two")

    assert first.succeeded and second.succeeded
    for result in (first, second):
        use = result.compiler_cache
        assert use is not None and not use.writable
        assert use.summary().endswith("; read-only for this ref")
        assert use.misses >= DEPENDENCY_COMPILES, "nothing the first one compiled was kept"
        [mount] = [m for m in result.volumes.build_mounts() if m["Target"] == CACHE_DIR]
        assert mount["ReadOnly"] is True


def test_a_project_can_turn_the_compiler_cache_off(docker_toolchains, copy_fixture, tmp_path):
    engine = docker_toolchains
    # At the image's glibc: without the compiler cache, zig would compile its stubs here.
    config = '[container]\nglibc = "2.41"\n\n[container.cache]\ncompiler_cache = false\n'
    project = copy_fixture("hello-tiny", engine, xcargo_toml=config)

    result = build(engine, project, AARCH64, tmp_path / "state")

    assert result.succeeded
    assert result.compiler_cache is None
    assert result.volumes.compiler_cache == ""
    assert all(mount["Target"] != CACHE_DIR for mount in result.volumes.build_mounts())
