"""A cross-build, start to finish: image, caches, fetch online, build offline, artifacts out.

This is the one place that knows the order of a build; the CLI and the server's worker both
call `run_build` and only differ in where the log lines go and where the artifacts land.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from docker.errors import ImageNotFound
from docker.models.images import Image
from docker.types import Mount

from runtimes import caches, fetch_stamps, naming
from runtimes.artifacts import (
    Artifact,
    artifact_paths,
    extract_single_file,
    parse_message,
    relative_output_path,
)
from runtimes.bootstrap import BootstrapError, rustc_version
from runtimes.config import XcargoConfig
from runtimes.engine import Engine
from runtimes.errors import UsageError
from runtimes.project import CargoProject
from runtimes.sandbox import (
    CA_BUNDLE_PATH,
    CARGO_HOME_DIR,
    SOURCE_DIR,
    TARGET_DIR,
    ContainerSpec,
    Limits,
    PhaseContainer,
)
from runtimes.targets import validate_triple

LineCallback = Callable[[str], None]
DEFAULT_TIMEOUT_SECONDS = 30 * 60

_DOWNLOADED = re.compile(r"^\s*Downloaded \S+ v\S+")
_READ_ONLY = "Read-only file system"
# What cargo says when --offline finds a crate missing from CARGO_HOME.
_OFFLINE_MISS = ("--offline was specified", "you're using offline mode", "offline mode")


@dataclass(frozen=True)
class BuildRequest:
    project: CargoProject
    triple: str
    config: XcargoConfig
    release: bool = False
    image: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    limits: Limits = field(default_factory=Limits)
    state_dir: Path = Path(".")
    ca_bundle: Path | None = None
    output_dir: Path | None = None

    @property
    def profile_dir(self) -> str:
        return "release" if self.release else "debug"


@dataclass
class BuildResult:
    triple: str
    image: str
    image_id: str
    image_digest: str
    rustc_version: str
    volumes: caches.CacheVolumes
    exit_code: int = -1
    phases: dict[str, float] = field(default_factory=dict)
    fetch_skipped: bool = False
    crates_downloaded: int = 0
    artifacts: list[Artifact] = field(default_factory=list)
    failure: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and self.failure is None


class ImageMissing(BootstrapError):
    """The image a build needs is not on the engine."""


def resolve_image(engine: Engine, request: BuildRequest) -> tuple[str, Image]:
    """Which image builds this target: the --container-image flag, xcargo.toml, then the
    bootstrapped toolchain image. Images are never pulled implicitly: xcargo does not reach
    out to a registry the user did not choose.
    """
    target_config = request.config.for_target(request.triple)
    if request.image:
        reference = request.image
    elif target_config.image is not None:
        reference = target_config.image.canonical
    elif target_config.dockerfile is not None:
        raise UsageError(
            f"targets.{request.triple}.container.dockerfile is set, but custom Dockerfiles "
            "are not supported yet",
            hint="build the image yourself and set `image`, or pass --container-image",
        )
    else:
        reference = naming.toolchain_image(request.triple)
    try:
        return reference, engine.client.images.get(reference)
    except ImageNotFound:
        bootstrap_hint = (
            f"run `xcargo images bootstrap --target {request.triple}`"
            if reference == naming.toolchain_image(request.triple)
            else f"load or pull {reference} into the engine first (`docker pull {reference}`)"
        )
        raise ImageMissing(f"image {reference} is not on the engine", hint=bootstrap_hint) from None


def run_build(engine: Engine, request: BuildRequest, on_line: LineCallback) -> BuildResult:
    """Run one build and return what happened; raises only for errors before cargo runs,
    timeouts and engine failures. A cargo failure is a result with `failure` set.
    """
    validate_triple(request.triple)
    lockfile = request.project.require_lockfile()
    started = time.monotonic()
    reference, image = resolve_image(engine, request)
    rustc = image.labels.get(naming.LABEL_RUSTC) or rustc_version(engine, image.id)
    toolchain = naming.toolchain_key(image.labels.get(naming.LABEL_RUSTC), image.id)
    volumes = caches.ensure_volumes(
        engine,
        config=request.config.container.cache,
        project=request.project.key,
        triple=request.triple,
        image_id=image.id,
        toolchain=toolchain,
    )
    result = BuildResult(
        triple=request.triple,
        image=reference,
        image_id=image.id,
        image_digest=(image.attrs.get("RepoDigests") or [image.id])[0],
        rustc_version=rustc,
        volumes=volumes,
    )
    result.phases["prepare"] = time.monotonic() - started
    deadline = started + request.timeout
    try:
        _fetch_and_build(engine, request, image.id, lockfile, result, on_line, deadline)
    finally:
        caches.remove_scratch(engine, volumes)
    return result


def _fetch_and_build(
    engine: Engine,
    request: BuildRequest,
    image_id: str,
    lockfile: Path,
    result: BuildResult,
    on_line: LineCallback,
    deadline: float,
) -> None:
    volumes = result.volumes
    stamp = (request.state_dir, volumes.cargo_home, volumes.cargo_home_generation, lockfile)
    result.fetch_skipped = not volumes.scratch and fetch_stamps.is_fetched(*stamp)
    if result.fetch_skipped:
        on_line("xcargo: Cargo.lock unchanged since the last fetch into this cache: not fetching")
    elif not _fetch(engine, request, image_id, result, on_line, deadline):
        return
    if not volumes.scratch:
        fetch_stamps.mark_fetched(*stamp)
    log: list[str] = []
    retry = _build(engine, request, image_id, result, on_line, deadline, log)
    if retry and result.fetch_skipped:
        on_line("xcargo: the cache misses crates the stamp promised: fetching, then building again")
        fetch_stamps.forget(*stamp)
        result.fetch_skipped = False
        if _fetch(engine, request, image_id, result, on_line, deadline):
            fetch_stamps.mark_fetched(*stamp)
            _build(engine, request, image_id, result, on_line, deadline, [])


def _fetch(
    engine: Engine,
    request: BuildRequest,
    image_id: str,
    result: BuildResult,
    on_line: LineCallback,
    deadline: float,
) -> bool:
    """`cargo fetch --locked` with the network on; counts the crates it downloads."""
    mounts = [_source_mount(request), *result.volumes.mounts(with_target=False)]
    environment = _environment()
    if request.ca_bundle is not None:
        mounts.append(
            Mount(target=CA_BUNDLE_PATH, source=str(request.ca_bundle), type="bind", read_only=True)
        )
        environment["CARGO_HTTP_CAINFO"] = CA_BUNDLE_PATH

    def count(line: str) -> None:
        if _DOWNLOADED.match(line):
            result.crates_downloaded += 1
        on_line(line)

    command = ["cargo", "fetch", "--locked"]
    spec = _spec(request, image_id, "fetch", command, mounts, environment, network=True)
    with PhaseContainer(engine, spec) as phase:
        outcome = phase.run(count, timeout=_remaining(deadline))
    result.phases["fetch"] = outcome.seconds
    if outcome.exit_code != 0:
        result.exit_code = outcome.exit_code
        result.failure = "cargo fetch failed: dependencies could not be downloaded (see the log)"
        return False
    return True


def _build(
    engine: Engine,
    request: BuildRequest,
    image_id: str,
    result: BuildResult,
    on_line: LineCallback,
    deadline: float,
    log: list[str],
) -> bool:
    """`cargo build --offline` with no network, then the artifacts out. True means "retry
    after a fetch": the offline build missed crates that a stale stamp said were cached.
    """
    command = [
        "cargo", "build", "--offline", "--locked", "--target", request.triple,
        "--message-format=json-render-diagnostics",
    ]  # fmt: skip
    if request.release:
        command.append("--release")
    messages: list[dict[str, object]] = []

    def route(line: str) -> None:
        message = parse_message(line)
        if message is not None:
            messages.append(message)
            return
        log.append(line)
        on_line(line)

    mounts = [_source_mount(request), *result.volumes.mounts(with_target=True)]
    spec = _spec(request, image_id, "build", command, mounts, _environment())
    with PhaseContainer(engine, spec) as phase:
        outcome = phase.run(route, timeout=_remaining(deadline))
        result.phases["build"] = outcome.seconds
        result.exit_code = outcome.exit_code
        if outcome.exit_code != 0:
            if any(hint in line for line in log for hint in _OFFLINE_MISS):
                return True
            result.failure = _explain_failure(log)
            return False
        collect_started = time.monotonic()
        output_root = request.output_dir or request.project.root / "target"
        for container_path in artifact_paths(messages):
            relative = relative_output_path(container_path, TARGET_DIR)
            artifact = extract_single_file(
                phase.archive(container_path), output_root.joinpath(*relative.parts)
            )
            result.artifacts.append(artifact)
        result.phases["collect"] = time.monotonic() - collect_started
    return False


def _explain_failure(log: list[str]) -> str:
    if any(_READ_ONLY in line for line in log):
        return (
            "the build tried to write into the source directory, which xcargo mounts "
            "read-only; build scripts must write into OUT_DIR (the source is untouched)"
        )
    return "cargo build failed (see the log above)"


def _spec(
    request: BuildRequest,
    image_id: str,
    phase: str,
    command: list[str],
    mounts: list[Mount],
    environment: dict[str, str],
    *,
    network: bool = False,
) -> ContainerSpec:
    """Only the fetch phase gets a network; the build runs with none."""
    return ContainerSpec(
        name=naming.build_container(request.project.key, request.triple, phase),
        image=image_id,
        command=command,
        mounts=mounts,
        environment=environment,
        labels=naming.managed_labels(
            naming.KIND_BUILD, project=request.project.key, target=request.triple, phase=phase
        ),
        limits=request.limits,
        network=network,
    )


def _source_mount(request: BuildRequest) -> Mount:
    return Mount(target=SOURCE_DIR, source=str(request.project.root), type="bind", read_only=True)


def _environment() -> dict[str, str]:
    return {
        "CARGO_HOME": CARGO_HOME_DIR,
        "CARGO_TARGET_DIR": TARGET_DIR,
        "CARGO_TERM_COLOR": "never",
        "CARGO_TERM_PROGRESS_WHEN": "never",
        "HOME": "/tmp",
    }


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 1.0)
