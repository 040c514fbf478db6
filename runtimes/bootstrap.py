"""Toolchain images made on this machine, with no container registry at all.

Four layers, each shared by everything above it: a Debian base made by debootstrap and
imported into the engine; the toolchain base (gcc, zig, cargo-zigbuild) from
`dockerfiles/base.Dockerfile`; one rustc layer per toolchain (`rustc.Dockerfile`); one image per
target and toolchain (`native.Dockerfile` or `cross.Dockerfile`). Each built image carries a
recipe label (a hash of its Dockerfile, build arguments and parent image), so running the
bootstrap again finds every image up to date and builds nothing.
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
from pathlib import Path

from docker.errors import APIError

from runtimes import naming, vocabulary, zig_bundle
from runtimes.engine import Engine
from runtimes.errors import XcargoError
from runtimes.images.builder import build_image, find_image, label_instruction
from runtimes.sandbox import run_command
from runtimes.smoke import SYSROOTS, sysroot_arches
from runtimes.toolchains import (
    TOOLCHAINS,
    DebianToolchain,
    ToolchainRecipe,
    check_builds_for,
    dockerfile_text,
    newest_for,
    recipe_for,
    toolchain_for,
)

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
    # Whether the build context carries zig and cargo-zigbuild (the shared base only).
    bundles_zig: bool = False
    # Files of `dockerfiles/` the Dockerfile copies in; their text is part of the recipe.
    context_files: tuple[str, ...] = ()


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
    toolchains: Sequence[str] | None = None,
    on_line: LineCallback,
    refresh: bool = False,
) -> list[BootstrapOutcome]:
    """Make (or find up to date) the image of each target for each toolchain (None: the
    newest each target has), the shared layers first, so that a second toolchain or target
    adds only its own.
    """
    recipes = [recipe_for(target) for target in targets]
    wanted: dict[str, list[ToolchainRecipe]] = {}
    for recipe in recipes:
        for channel in toolchains or [newest_for(recipe.rust_target)]:
            toolchain = toolchain_for(channel)
            check_builds_for(toolchain, recipe.rust_target)
            wanted.setdefault(toolchain.channel, []).append(recipe)
    outcomes = [ensure_debian_base(engine, on_line=on_line, refresh=refresh)]
    common = ImageBuild(
        dockerfile="base.Dockerfile",
        tag=naming.TOOLCHAIN_BASE_IMAGE,
        build_args={"BASE_IMAGE": naming.BASE_IMAGE, **zig_bundle.versions()},
        labels=naming.managed_labels(
            "toolchain-base", source="bootstrap", compiler_cache="sccache"
        ),
        bundles_zig=True,
    )
    outcomes.append(_ensure_built(engine, common, on_line))
    for channel, of_toolchain in sorted(
        wanted.items(), key=lambda item: TOOLCHAINS[item[0]].version
    ):
        outcomes += _ensure_toolchain(engine, TOOLCHAINS[channel], of_toolchain, on_line)
    outcomes.append(ensure_smoke_image(engine, on_line=on_line))
    return outcomes


def ensure_smoke_image(engine: Engine, *, on_line: LineCallback) -> BootstrapOutcome:
    """The image artifacts are smoke-run in (`smoke.Dockerfile`), made on the Debian base."""
    smoke = ImageBuild(
        dockerfile="smoke.Dockerfile",
        tag=naming.SMOKE_IMAGE,
        build_args={
            "BASE_IMAGE": naming.BASE_IMAGE,
            "SYSROOT_SUITES": " ".join(suite for suite, _glibc in SYSROOTS),
            "SYSROOT_ARCHES": " ".join(sysroot_arches()),
        },
        labels=naming.managed_labels(naming.KIND_SMOKE, source="bootstrap"),
        context_files=("wasi-run.mjs",),
    )
    return _ensure_built(engine, smoke, on_line)


def _ensure_toolchain(
    engine: Engine,
    toolchain: DebianToolchain,
    recipes: Sequence[ToolchainRecipe],
    on_line: LineCallback,
) -> list[BootstrapOutcome]:
    """One toolchain's rustc layer, then its image of each target on top."""
    source = f"bootstrap (Debian {toolchain.suite})"
    rustc_layer = ImageBuild(
        dockerfile="rustc.Dockerfile",
        tag=naming.rustc_image(toolchain.channel),
        build_args={"BASE_IMAGE": naming.TOOLCHAIN_BASE_IMAGE, **toolchain.rustc_args()},
        labels=naming.managed_labels("rustc", toolchain=toolchain.channel, source=source),
    )
    outcomes = [_ensure_built(engine, rustc_layer, on_line)]
    rustc = rustc_version(engine, rustc_layer.tag)
    for recipe in recipes:
        image = ImageBuild(
            dockerfile=recipe.dockerfile_for(engine.debian_arch),
            tag=naming.toolchain_image(recipe.rust_target, toolchain.channel),
            build_args={
                "BASE_IMAGE": rustc_layer.tag,
                **recipe.build_args(engine.debian_arch, toolchain),
            },
            labels=naming.managed_labels(
                naming.KIND_TOOLCHAIN,
                targets=recipe.rust_target,
                rustc=rustc,
                toolchain=toolchain.channel,
                zig=zig_bundle.versions()["ZIG_VERSION"],
                source=source,
                **recipe.image_labels(),
            ),
        )
        outcomes.append(_ensure_built(engine, image, on_line))
    return outcomes


def ensure_debian_base(engine: Engine, *, on_line: LineCallback, refresh: bool) -> BootstrapOutcome:
    """Import a minimal Debian made by debootstrap, unless the engine has it already."""
    started = time.monotonic()
    existing = find_image(engine, naming.BASE_IMAGE)
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
        _slim(rootfs)
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


# What a build image never reads: documentation, manuals, translations, apt's indexes. The
# dpkg setting keeps every later layer's packages from bringing theirs back.
_SLIM_PATHS = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
               "usr/share/lintian", "var/lib/apt/lists", "var/cache/apt")  # fmt: skip
_DPKG_EXCLUDES = "".join(f"path-exclude=/{path}/*\n" for path in _SLIM_PATHS[:5]) + (
    "path-include=/usr/share/doc/*/copyright\n"
)


def _slim(rootfs: Path) -> None:
    """Leave out of the base what no build reads, keeping the copyright files Debian asks for."""
    for relative in _SLIM_PATHS:
        for entry in sorted((rootfs / relative).glob("*")):
            keeps_copyright = relative == "usr/share/doc" and (entry / "copyright").is_file()
            for path in entry.iterdir() if keeps_copyright else (entry,):
                if path.name == "copyright" and keeps_copyright:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
    Path(rootfs, "etc/dpkg/dpkg.cfg.d/xcargo-slim").write_text(_DPKG_EXCLUDES)


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
    parent_image = find_image(engine, parent)
    if parent_image is None:
        raise BootstrapError(f"{build.tag} needs {parent}, which the engine does not have")
    material = "".join(map(dockerfile_text, (build.dockerfile, *build.context_files)))
    wanted = recipe_hash(material, build.build_args, {parent: parent_image.id})
    existing = find_image(engine, build.tag)
    if existing is not None and existing.labels.get(naming.LABEL_RECIPE) == wanted:
        on_line(f"{build.tag} is up to date ({naming.image_key(existing.id)})")
        return BootstrapOutcome(build.tag, existing.id, False, time.monotonic() - started)
    on_line(f"building {build.tag} from {build.dockerfile}")
    image_id = _build(engine, build, {**build.labels, naming.LABEL_RECIPE: wanted}, on_line)
    return BootstrapOutcome(build.tag, image_id, True, time.monotonic() - started)


def _build(engine: Engine, build: ImageBuild, labels: dict[str, str], on_line: LineCallback) -> str:
    with tempfile.TemporaryDirectory(prefix="xcargo-context-") as context:
        for name in build.context_files:
            Path(context, name).write_text(dockerfile_text(name))
        Path(context, build.dockerfile).write_text(
            dockerfile_text(build.dockerfile) + label_instruction(labels)
        )
        if build.bundles_zig:
            zig_bundle.copy_into(Path(context), engine.debian_arch)
        return build_image(
            engine,
            tag=build.tag,
            on_line=on_line,
            error=BootstrapError,
            path=context,
            dockerfile=build.dockerfile,
            buildargs=build.build_args,
        )


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
