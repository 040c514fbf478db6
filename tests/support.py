"""Helpers the engine tests share: running a build as the CLI does, running its binary."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from docker.models.containers import Container

from runtimes import naming
from runtimes.build_values import BuildRequest, BuildResult
from runtimes.config import XcargoConfig, load_config, load_config_text
from runtimes.cross_build import run_build
from runtimes.engine import Engine
from runtimes.errors import ConfigError
from runtimes.project import CargoProject

AARCH64 = "aarch64-unknown-linux-gnu"
ARMV7 = "armv7-unknown-linux-gnueabihf"
X86_64 = "x86_64-unknown-linux-gnu"
# Debian trixie's own rustc, the oldest toolchain xcargo makes.
OLDEST = "1.85"
QEMU = {
    AARCH64: ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"],
    ARMV7: ["qemu-arm", "-L", "/usr/arm-linux-gnueabihf"],
    X86_64: [],
}


def build(
    engine: Engine,
    project: CargoProject,
    triple: str,
    state_dir: Path,
    *,
    lines: list[str] | None = None,
    **options: object,
) -> BuildResult:
    """One build the way the CLI runs it, collecting the log lines it streams."""
    collected = lines if lines is not None else []
    request = BuildRequest(
        project=project,
        triple=triple,
        config=load_config(project.root),
        state_dir=state_dir,
        ca_bundle=Path("/etc/ssl/certs/ca-certificates.crt"),
        **options,  # type: ignore[arg-type]
    )
    return run_build(engine, request, collected.append)


XCARGO = str(Path(sys.executable).parent / "xcargo")


def run_xcargo(
    engine: Engine, cwd: Path, *arguments: str, **environment: str
) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it in `cwd`, on the test's engine, with extra variables set."""
    return subprocess.run(
        [XCARGO, *arguments],
        cwd=cwd,
        env={**os.environ, "XCARGO_ENGINE_URL": engine.url, **environment},
        capture_output=True,
        text=True,
        timeout=900,
    )


def run_binary(triple: str, path: Path) -> str:
    """Run a built binary on this x86_64 host, under qemu for foreign architectures."""
    completed = subprocess.run(
        [*QEMU[triple], str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    return completed.stdout


def containers_of(engine: Engine, project: CargoProject) -> list[Container]:
    label = f"{naming.LABEL_PROJECT}={project.key}"
    return engine.client.containers.list(all=True, filters={"label": label})


def wait_until_running(engine: Engine, name: str, limit: float = 120) -> dict:
    """The attributes of container `name` once it runs (a build phase under way)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for container in engine.client.containers.list(filters={"name": name}):
            if container.name == name and container.status == "running":
                return container.attrs
        time.sleep(0.2)
    raise AssertionError(f"{name} never ran")


def load_toml(project: Path, text: str) -> XcargoConfig:
    """An xcargo.toml given as an indented literal, loaded as the project's."""
    return load_config_text(textwrap.dedent(text), base_dir=project)


def toml_error(project: Path, text: str) -> ConfigError:
    """The error an xcargo.toml given as an indented literal is refused with."""
    with pytest.raises(ConfigError) as caught:
        load_toml(project, text)
    return caught.value
