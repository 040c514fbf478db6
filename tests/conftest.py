"""Shared fixtures: real engines, bootstrapped toolchain images, throwaway copies of fixture crates.

Builds here run in real containers. Docker is expected on its default socket and Podman on
/run/podman/podman.sock (`.ci/run` starts it with scripts/podman-service.sh); a missing engine
fails the tests that need it rather than skipping them, so CI cannot pass without them.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import pytest

from runtimes import naming
from runtimes.bootstrap import bootstrap
from runtimes.engine import Engine, connect
from runtimes.images.catalogue import TOOLCHAIN_REPOSITORY
from runtimes.project import CargoProject, locate_project
from runtimes.toolchains import NEWEST_CHANNEL, RECIPES
from tests.registries import Registries, push, running_registries
from tests.support import AARCH64, ARMV7, OLDEST, X86_64

FIXTURES = Path(__file__).parent / "fixtures"
DOCKER_URL = "unix:///var/run/docker.sock"
PODMAN_URL = "unix:///run/podman/podman.sock"
ROOTLESS_PODMAN = Path(__file__).resolve().parent.parent / "scripts" / "podman-rootless.sh"


def _print_line(line: str) -> None:
    print(line)


@pytest.fixture(scope="session")
def docker_engine() -> Engine:
    return connect("docker", environ={"XCARGO_ENGINE_URL": DOCKER_URL})


@pytest.fixture(scope="session")
def podman_engine() -> Engine:
    return connect("podman", environ={"XCARGO_ENGINE_URL": PODMAN_URL})


@pytest.fixture(scope="session")
def docker_toolchains(docker_engine: Engine) -> Engine:
    """Every target's image of the newest toolchain it has, aarch64's of Debian's oldest
    (1.85), and the smoke image, on Docker; a no-op when `make test` made them already.
    """
    bootstrap(docker_engine, list(RECIPES), on_line=_print_line)
    bootstrap(docker_engine, [AARCH64], toolchains=[OLDEST], on_line=_print_line)
    return docker_engine


@pytest.fixture(scope="session")
def podman_toolchains(podman_engine: Engine) -> Engine:
    """The images the engine tests build with, on Podman: the newest toolchain for aarch64,
    armv7 and the host, aarch64's of Debian's oldest, and the smoke image.
    """
    bootstrap(podman_engine, [AARCH64, ARMV7, X86_64], on_line=_print_line)
    bootstrap(podman_engine, [AARCH64], toolchains=[OLDEST], on_line=_print_line)
    return podman_engine


@pytest.fixture(params=["docker", pytest.param("podman", marks=pytest.mark.podman)])
def toolchain_engine(request: pytest.FixtureRequest) -> Engine:
    """An engine with its toolchain images: a test that takes it runs once on Docker and
    once on Podman, the same test on both.
    """
    return request.getfixturevalue(f"{request.param}_toolchains")


# What `bootstrap(engine, [AARCH64])` finds up to date: the layers under the newest aarch64
# toolchain image, the image itself and the smoke image.
_ROOTLESS_IMAGES = (
    naming.BASE_IMAGE,
    naming.TOOLCHAIN_BASE_IMAGE,
    naming.rustc_image(NEWEST_CHANNEL),
    naming.toolchain_image(AARCH64, NEWEST_CHANNEL),
    naming.SMOKE_IMAGE,
)


@pytest.fixture(scope="session")
def rootless_podman(podman_toolchains: Engine) -> Engine:
    """Podman run by an unprivileged user (scripts/podman-rootless.sh, which `make test`
    starts), holding the aarch64 images of the rootful Podman, copied through the engines' own
    save and load: making them again as that user would take as long as a bootstrap.
    """
    url = subprocess.run(
        [ROOTLESS_PODMAN], check=True, capture_output=True, text=True, timeout=120
    ).stdout.strip()
    engine = connect("podman", environ={"XCARGO_ENGINE_URL": url})
    present = {tag for image in engine.client.images.list() for tag in image.tags}
    wanted = [tag for tag in _ROOTLESS_IMAGES if tag not in present]
    if wanted:
        # Loading 2 GB takes minutes: a client of its own, without xcargo's 10 s timeout.
        loader = docker.DockerClient(base_url=url, timeout=900)
        with subprocess.Popen(
            ["podman", "save", "--multi-image-archive", *wanted], stdout=subprocess.PIPE
        ) as archive:
            # The low-level call: Podman answers a multi-image load with the names joined
            # by commas, which docker-py's `images.load` then looks up as one name.
            for _progress in loader.api.load_image(archive.stdout):
                pass
        assert archive.returncode == 0
    bootstrap(engine, [AARCH64], on_line=_print_line)  # finds them up to date
    return engine


# An image name from a registry nobody trusts: the newest aarch64 toolchain image, tagged so
# on the engine (never pulled: no registry answers there).
UNTRUSTED_IMAGE = "127.0.0.1:5999/team/rust:1"


@contextmanager
def untrusted_image_on(engine: Engine) -> Iterator[str]:
    """UNTRUSTED_IMAGE on `engine` while the block runs."""
    repository, tag = UNTRUSTED_IMAGE.rsplit(":", 1)
    newest = naming.toolchain_image(AARCH64, NEWEST_CHANNEL)
    engine.client.images.get(newest).tag(repository, tag)
    try:
        yield UNTRUSTED_IMAGE
    finally:
        engine.client.images.remove(UNTRUSTED_IMAGE)


@pytest.fixture
def untrusted_image(docker_toolchains: Engine) -> Iterator[str]:
    """UNTRUSTED_IMAGE on Docker (the server's engine) while the test runs."""
    with untrusted_image_on(docker_toolchains) as name:
        yield name


@pytest.fixture(scope="session")
def registries() -> Iterator[Registries]:
    """Two real registries on loopback (tests/registries.py), for the whole session."""
    with running_registries() as running:
        yield running


#: The newest aarch64 toolchain image as a team's registry holds it: made elsewhere, pushed.
def registry_toolchain(host: str) -> str:
    return f"{host}/{TOOLCHAIN_REPOSITORY}:{naming.slug(AARCH64, limit=80)}-{NEWEST_CHANNEL}"


@pytest.fixture(scope="session")
def pushed_toolchain(docker_toolchains: Engine, registries: Registries) -> str:
    """The newest aarch64 toolchain image pushed to the public registry (about 40 s, once),
    under the catalogue's name and as `team/rust:1`; returns its digest.
    """
    own = naming.toolchain_image(AARCH64, NEWEST_CHANNEL)
    digest = push(docker_toolchains, own, registry_toolchain(registries.public))
    push(docker_toolchains, own, f"{registries.public}/team/rust:1")
    return digest


@pytest.fixture(scope="session")
def pushed_private_toolchain(docker_toolchains: Engine, registries: Registries) -> str:
    """The same image pushed to the private registry with its login (about 40 s, once)."""
    own = naming.toolchain_image(AARCH64, NEWEST_CHANNEL)
    return push(docker_toolchains, own, registry_toolchain(registries.private), registries.login)


ProjectFactory = Callable[..., CargoProject]


@pytest.fixture
def copy_fixture(tmp_path: Path) -> Iterator[ProjectFactory]:
    """Copies a fixture crate (without any target/) into a fresh directory, so each test has
    its own project key and target volume; the volumes are removed afterwards.
    """
    made: list[tuple[Engine, CargoProject]] = []

    def make(
        name: str, engine: Engine, *, xcargo_toml: str | None = None, under: str = ""
    ) -> CargoProject:
        """A copy of fixture `name`; `under` names a directory of its own, for a second copy
        (a project of its own) of the same fixture.
        """
        destination = tmp_path / under / name
        shutil.copytree(FIXTURES / name, destination, ignore=shutil.ignore_patterns("target"))
        if xcargo_toml is not None:
            (destination / "xcargo.toml").write_text(xcargo_toml)
        project = locate_project(destination)
        made.append((engine, project))
        return project

    yield make
    for engine, project in made:
        _remove_project_volumes(engine, project)


def _remove_project_volumes(engine: Engine, project: CargoProject) -> None:
    label = f"{naming.LABEL_PROJECT}={project.key}"
    for volume in engine.client.volumes.list(filters={"label": label}):
        volume.remove(force=True)
