"""What the shared compiler cache served, counted per volume: each build adds its hits and
misses to the volume's row, measuring the volumes again keeps them, a volume gone from the
engine takes them with it, and the caches page says them. Results and measurements are made
directly: no engine, no worker.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from builds.models import CacheVolume, EngineHost, Project
from builds.services import engines
from builds.services.engines import measure_volumes, record_build_usage, register_host
from builds.services.projects import create_project
from runtimes import caches, naming
from runtimes.build_values import BuildResult
from runtimes.compiler_cache import CompilerCacheUse
from tests.conftest import FIXTURES
from tests.server.conftest import AARCH64
from tests.server.factories import result_of

TOOLCHAIN = "rustc-1-98-1"
CARGO_HOME = naming.cargo_home_volume(TOOLCHAIN)
TARGET = "xcargo-target-hello-cross"
COMPILER_CACHE = naming.compiler_cache_volume(TOOLCHAIN, AARCH64)


@pytest.fixture
def host(db: None) -> EngineHost:
    return register_host(name="local", engine_url="unix:///var/run/docker.sock", runtime="docker")


@pytest.fixture
def project(db: None, user: User) -> Project:
    return create_project(
        name="hello-cross",
        local_path=str(FIXTURES / "hello-cross"),
        triples=[AARCH64],
        created_by=user,
    )


def built(hits: int, misses: int, *, compiler_cache: str = COMPILER_CACHE) -> BuildResult:
    """A build's result as run_build returns it, having gone through the compiler cache."""
    volumes = caches.CacheVolumes(
        cargo_home=CARGO_HOME,
        target=TARGET,
        cargo_home_created=False,
        target_created=False,
        scratch=False,
        compiler_cache=compiler_cache,
    )
    use = CompilerCacheUse(volume=compiler_cache, hits=hits, misses=misses, writable=True)
    return result_of(volumes=volumes, compiler_cache=use)


def measured(monkeypatch: pytest.MonkeyPatch, host: EngineHost, *names: str) -> None:
    """The worker measures the host's volumes, and the engine holds `names`."""
    kinds = {CARGO_HOME: naming.KIND_CARGO_HOME, TARGET: naming.KIND_TARGET}
    usage = [
        caches.VolumeUsage(
            name, kinds.get(name, naming.KIND_COMPILER_CACHE), "", AARCH64, 10**6, False
        )
        for name in names
    ]
    monkeypatch.setattr(engines, "connect_host", lambda _host: object())
    monkeypatch.setattr(caches, "usage", lambda _engine: usage)
    measure_volumes(host)


def counts(name: str = COMPILER_CACHE) -> tuple[int, int, int]:
    volume = CacheVolume.objects.get(name=name)
    return volume.compiler_hits, volume.compiler_misses, volume.compiler_builds


def test_each_build_adds_what_the_compiler_cache_served_it_to_that_volume(host, project):
    record_build_usage(host, project, AARCH64, built(hits=0, misses=31))
    record_build_usage(host, project, AARCH64, built(hits=31, misses=0))

    assert counts() == (31, 31, 2)
    assert counts(CARGO_HOME) == (0, 0, 0), "only the compiler cache's row counts"
    assert counts(TARGET) == (0, 0, 0)


def test_a_build_without_the_compiler_cache_counts_nothing(host, project):
    record_build_usage(host, project, AARCH64, built(hits=3, misses=1))
    result = built(hits=0, misses=0)
    result.compiler_cache = None  # sccache printed no counts

    record_build_usage(host, project, AARCH64, result)

    assert counts() == (3, 1, 1)


def test_measuring_the_volumes_again_keeps_the_counts(monkeypatch, host, project):
    measured(monkeypatch, host, CARGO_HOME, TARGET, COMPILER_CACHE)
    record_build_usage(host, project, AARCH64, built(hits=57, misses=3))

    measured(monkeypatch, host, CARGO_HOME, TARGET, COMPILER_CACHE)

    assert counts() == (57, 3, 1)
    assert CacheVolume.objects.get(name=COMPILER_CACHE).size == 10**6


def test_a_volume_gone_from_the_engine_takes_its_counts_with_it(monkeypatch, host, project):
    record_build_usage(host, project, AARCH64, built(hits=57, misses=3))

    measured(monkeypatch, host, CARGO_HOME, TARGET)
    record_build_usage(host, project, AARCH64, built(hits=0, misses=31))

    assert counts() == (0, 31, 1), "a new volume of that name is a new, empty cache"


def test_the_caches_page_says_what_each_compiler_cache_served(client: Client, user, host, project):
    record_build_usage(host, project, AARCH64, built(hits=27, misses=3))
    record_build_usage(host, project, AARCH64, built(hits=30, misses=0))
    client.force_login(user)

    page = client.get(reverse("caches")).content.decode()

    assert f"{COMPILER_CACHE}</td>" in page
    assert "<td>57 of 60 compiles from it (95 %) over 2 builds</td>" in page
    assert page.count("compiles from it") == 1, "a CARGO_HOME or target cache serves none"
