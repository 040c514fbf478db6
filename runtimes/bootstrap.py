"""Toolchain images made on this machine, with no container registry at all.

Three layers: a Debian base made by debootstrap and imported into the engine, a toolchain base
(rustc, cargo, gcc) built from `dockerfiles/base.Dockerfile`, and one image per target built
from `native.Dockerfile` or `cross.Dockerfile`. Each built image carries a recipe label (a hash
of its Dockerfile, build arguments and parent image), so running the bootstrap again finds
every image up to date and builds nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from docker.errors import APIError, BuildError, ImageNotFound
from docker.models.images import Image

from runtimes import naming, vocabulary
from runtimes.engine import Engine
from runtimes.errors import XcargoError
from runtimes.sandbox import run_command
from runtimes.toolchains import dockerfile_text, recipe_for

LineCallback = Callable[[str], None]
DEBIAN_SUITE = "trixie"


class BootstrapError(XcargoError):
    """A toolchain image could not be made."""

    kind = vocabulary.IMAGE


@dataclass(frozen=True)
class ImageBuild:
    """One image of the bootstrap: its Dockerfile (in `dockerfiles/`), tag, arguments, labels.
    `build_args["BASE_IMAGE"]` names the parent, whose id is part of the recipe hash.
    """

    dockerfile: str
    tag: str
    build_args: dict[str, str]
    labels: dict[str, str]


@dataclass(frozen=True)
class BootstrapOutcome:
    image: str
    image_id: str
    built: bool
    seconds: float


def bootstrap(
    engine: Engine,
    targets: Sequence[str],
    *,
    on_line: LineCallback,
    refresh: bool = False,
) -> list[BootstrapOutcome]:
    """Make (or find up to date) the toolchain image of each target, in order."""
    recipes = [recipe_for(target) for target in targets]
    outcomes = [ensure_debian_base(engine, on_line=on_line, refresh=refresh)]
    toolchain_base = ImageBuild(
        dockerfile="base.Dockerfile",
        tag=naming.TOOLCHAIN_BASE_IMAGE,
        build_args={"BASE_IMAGE": naming.BASE_IMAGE},
        labels=naming.managed_labels("toolchain-base", source="bootstrap"),
    )
    outcomes.append(_ensure_built(engine, toolchain_base, on_line))
    rustc = rustc_version(engine, naming.TOOLCHAIN_BASE_IMAGE)
    for recipe in recipes:
        toolchain = ImageBuild(
            dockerfile=recipe.dockerfile_for(engine.debian_arch),
            tag=naming.toolchain_image(recipe.rust_target),
            build_args={
                "BASE_IMAGE": naming.TOOLCHAIN_BASE_IMAGE,
                **recipe.build_args(engine.debian_arch),
            },
            labels=naming.managed_labels(
                naming.KIND_TOOLCHAIN,
                targets=recipe.rust_target,
                rustc=rustc,
                source=f"bootstrap (Debian {DEBIAN_SUITE})",
            ),
        )
        outcomes.append(_ensure_built(engine, toolchain, on_line))
    return outcomes


def ensure_debian_base(engine: Engine, *, on_line: LineCallback, refresh: bool) -> BootstrapOutcome:
    """Import a minimal Debian made by debootstrap, unless the engine has it already."""
    started = time.monotonic()
    existing = _find_image(engine, naming.BASE_IMAGE)
    if existing is not None and not refresh:
        on_line(f"{naming.BASE_IMAGE} is present ({naming.image_key(existing.id)})")
        return BootstrapOutcome(naming.BASE_IMAGE, existing.id, False, time.monotonic() - started)
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise BootstrapError(
            "debootstrap is not installed, and it makes the Debian base image",
            hint="apt-get install debootstrap",
        )
    if os.geteuid() != 0:
        raise BootstrapError(
            "debootstrap needs root to make the Debian base image", hint="run it with sudo"
        )
    with tempfile.TemporaryDirectory(prefix="xcargo-debootstrap-") as work:
        rootfs, tarball = Path(work, "rootfs"), Path(work, "rootfs.tar")
        command = [debootstrap, "--variant=minbase", DEBIAN_SUITE, str(rootfs)]
        if mirror := os.environ.get("XCARGO_DEBIAN_MIRROR"):
            command.append(mirror)
        on_line(f"$ {' '.join(command)}")
        _run_streaming(command, on_line)
        _run_streaming(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."], on_line
        )
        on_line(f"importing the root filesystem as {naming.BASE_IMAGE}")
        try:
            # The tag goes inside `repository`: Podman ignores the separate `tag` parameter.
            engine.client.api.import_image_from_file(str(tarball), repository=naming.BASE_IMAGE)
        except APIError as error:
            raise BootstrapError(f"the engine refused the Debian base image: {error}") from error
    image = engine.client.images.get(naming.BASE_IMAGE)
    return BootstrapOutcome(naming.BASE_IMAGE, image.id, True, time.monotonic() - started)


def rustc_version(engine: Engine, image: str) -> str:
    """`1.85.1` from `rustc 1.85.1 (4eb161250 2025-03-15)`, asked of the image itself."""
    output = run_command(
        engine, image, ["rustc", "--version"], name=f"xcargo-probe-{naming.short_hash(image)}"
    )
    words = output.split()
    return words[1] if len(words) > 1 and words[0] == "rustc" else output.strip()


def recipe_hash(dockerfile: str, build_args: dict[str, str], parent_ids: dict[str, str]) -> str:
    """What an image is made from; equal hashes mean rebuilding would change nothing."""
    material = json.dumps(
        {"dockerfile": dockerfile, "args": build_args, "parents": parent_ids}, sort_keys=True
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _ensure_built(engine: Engine, build: ImageBuild, on_line: LineCallback) -> BootstrapOutcome:
    started = time.monotonic()
    parent = build.build_args["BASE_IMAGE"]
    parent_image = _find_image(engine, parent)
    if parent_image is None:
        raise BootstrapError(f"{build.tag} needs {parent}, which the engine does not have")
    dockerfile = dockerfile_text(build.dockerfile)
    wanted = recipe_hash(dockerfile, build.build_args, {parent: parent_image.id})
    existing = _find_image(engine, build.tag)
    if existing is not None and existing.labels.get(naming.LABEL_RECIPE) == wanted:
        on_line(f"{build.tag} is up to date ({naming.image_key(existing.id)})")
        return BootstrapOutcome(build.tag, existing.id, False, time.monotonic() - started)
    on_line(f"building {build.tag} from {build.dockerfile}")
    image_id = _build(engine, build, {**build.labels, naming.LABEL_RECIPE: wanted}, on_line)
    return BootstrapOutcome(build.tag, image_id, True, time.monotonic() - started)


def _build(engine: Engine, build: ImageBuild, labels: dict[str, str], on_line: LineCallback) -> str:
    context = resources.files("runtimes").joinpath("dockerfiles")
    with resources.as_file(context) as context_dir:
        try:
            for message in engine.client.api.build(
                path=str(context_dir),
                dockerfile=build.dockerfile,
                tag=build.tag,
                buildargs=build.build_args,
                labels=labels,
                rm=True,
                forcerm=True,
                decode=True,
            ):
                if "error" in message:
                    raise BootstrapError(f"building {build.tag} failed: {message['error'].strip()}")
                for line in str(message.get("stream", "")).splitlines():
                    if line.strip():
                        on_line(line)
        except (APIError, BuildError) as error:
            raise BootstrapError(f"building {build.tag} failed: {error}") from error
    return engine.client.images.get(build.tag).id


def _find_image(engine: Engine, reference: str) -> Image | None:
    try:
        return engine.client.images.get(reference)
    except ImageNotFound:
        return None


def _run_streaming(command: list[str], on_line: LineCallback) -> None:
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
        assert process.stdout is not None
        tail: list[str] = []
        for line in process.stdout:
            on_line(line.rstrip())
            tail = [*tail[-9:], line.rstrip()]
    if process.returncode != 0:
        raise BootstrapError(
            f"`{' '.join(command[:3])} …` failed with exit code {process.returncode}:\n"
            + "\n".join(tail),
            hint="check that Debian's mirror is reachable, or set XCARGO_DEBIAN_MIRROR",
        )
