"""Names and labels of everything xcargo creates on an engine.

Names are deterministic so that a second build finds the first one's caches and a crashed
build's container can be found and removed. Labels let xcargo list, size and clean what is its
own without touching anything else on the engine.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

LABEL_PREFIX = "io.xcargo."
LABEL_MANAGED = f"{LABEL_PREFIX}managed"
LABEL_KIND = f"{LABEL_PREFIX}kind"
LABEL_PROJECT = f"{LABEL_PREFIX}project"
LABEL_PROJECT_KEY = f"{LABEL_PREFIX}project-key"
LABEL_TARGET = f"{LABEL_PREFIX}target"
LABEL_TARGETS = f"{LABEL_PREFIX}targets"
LABEL_RUSTC = f"{LABEL_PREFIX}rustc"
# The channel a toolchain image was made for ("1.96"), and the zig it links with (if any).
LABEL_TOOLCHAIN = f"{LABEL_PREFIX}toolchain"
LABEL_ZIG = f"{LABEL_PREFIX}zig"
# What a build on the image compiles with -Zbuild-std: its sysroot has no standard library.
LABEL_BUILD_STD = f"{LABEL_PREFIX}build-std"
# The compiler cache the image's builds can use ("sccache"): images made from xcargo's have it.
LABEL_COMPILER_CACHE = f"{LABEL_PREFIX}compiler-cache"
LABEL_SOURCE = f"{LABEL_PREFIX}source"
LABEL_RECIPE = f"{LABEL_PREFIX}recipe"
LABEL_GENERATION = f"{LABEL_PREFIX}generation"
LABEL_LANE = f"{LABEL_PREFIX}lane"
# The server's build id on each of its build containers, for cleaning up after a dead worker.
LABEL_BUILD = f"{LABEL_PREFIX}build"

KIND_CARGO_HOME = "cargo-home"
KIND_TARGET = "target"
KIND_COMPILER_CACHE = "compiler-cache"
KIND_SCRATCH = "scratch"
KIND_BUILD = "build"
KIND_TOOLCHAIN = "toolchain"
KIND_SMOKE = "smoke"
KIND_CUSTOM = "custom"

BASE_IMAGE = "localhost/xcargo/debian:trixie"
TOOLCHAIN_BASE_IMAGE = "localhost/xcargo/toolchain-base:trixie"
RUSTC_REPOSITORY = "localhost/xcargo/rustc"
TOOLCHAIN_REPOSITORY = "localhost/xcargo/toolchain"
# Where artifacts are started once after a build (qemu-user, wabt, older glibcs).
SMOKE_IMAGE = "localhost/xcargo/smoke:trixie"
# Images made from projects' Dockerfiles, tagged by a hash of what they are made from.
CUSTOM_REPOSITORY = "localhost/xcargo/custom"
#: Every image xcargo makes on this machine is named under this prefix: made here, from
#: recipes xcargo or a reviewed Dockerfile holds, they come from no registry to trust.
OWN_IMAGES_PREFIX = "localhost/xcargo/"

_UNSAFE = re.compile(r"[^a-z0-9_.-]+")
# Engines accept up to 255 characters; staying far below keeps `docker volume ls` readable.
_MAX_PART = 40


def slug(text: str, *, limit: int = _MAX_PART) -> str:
    """Lower-case `text` into characters every engine accepts in a name."""
    cleaned = _UNSAFE.sub("-", text.lower()).strip("-.") or "x"
    return cleaned[:limit].rstrip("-.") or "x"


def short_hash(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def project_key(name: str, path: str) -> str:
    """One key per project checkout: its name for people, a hash of its path for uniqueness."""
    return f"{slug(name, limit=30)}-{short_hash(path, 8)}"


def image_key(image_id: str) -> str:
    """The short form of an image id (`sha256:abc…` → `abc…`, 12 hex digits)."""
    return image_id.split(":", 1)[-1][:12]


def toolchain_key(rustc_version: str | None, image_id: str) -> str:
    """What a CARGO_HOME is shared by: the rustc version when known, else the image itself."""
    return f"rustc-{slug(rustc_version)}" if rustc_version else f"image-{image_key(image_id)}"


def cargo_home_volume(toolchain: str) -> str:
    return f"xcargo-cargo-home-{toolchain}"


def compiler_cache_volume(toolchain: str, triple: str) -> str:
    """The compiler cache (sccache) every project of one toolchain and target shares."""
    return f"xcargo-compiler-cache-{toolchain}-{slug(triple)}"


def target_volume(project: str, triple: str, image_id: str, lane: str = "") -> str:
    """The target cache of a project, target and image; `lane` names an unprotected ref's
    cache of its own ("" is the protected one, the only one the CLI uses).
    """
    volume = f"xcargo-target-{project}-{slug(triple)}-{image_key(image_id)}"
    return f"{volume}-ref-{slug(lane, limit=24)}-{short_hash(lane, 8)}" if lane else volume


def build_container(project: str, triple: str, phase: str) -> str:
    return f"xcargo-build-{project}-{slug(triple)}-{slug(phase)}"


def rustc_image(channel: str) -> str:
    """The layer of one rustc that every target image of that toolchain is built on."""
    return f"{RUSTC_REPOSITORY}:{slug(channel)}"


def toolchain_image(triple: str, channel: str) -> str:
    """The image of one target and one toolchain: `…/toolchain:aarch64-unknown-linux-gnu-1.96`."""
    return f"{TOOLCHAIN_REPOSITORY}:{slug(triple, limit=80)}-{slug(channel)}"


def labelled_targets(labels: Mapping[str, str]) -> tuple[str, ...]:
    """The targets an image's labels say it builds (a comma-separated list)."""
    return tuple(filter(None, labels.get(LABEL_TARGETS, "").split(",")))


def is_own_image(reference: str) -> bool:
    """Whether a canonical reference names an image xcargo made on this machine."""
    return reference.startswith(OWN_IMAGES_PREFIX)


def custom_image(digest: str) -> str:
    """A custom image's name: the same Dockerfile, arguments and context give the same one."""
    return f"{CUSTOM_REPOSITORY}:{digest[:24]}"


def managed_labels(kind: str, **extra: str) -> dict[str, str]:
    """Labels that mark an object as xcargo's; `extra` keys are LABEL_* suffixes (`target`…)."""
    labels = {LABEL_MANAGED: "true", LABEL_KIND: kind}
    labels.update({f"{LABEL_PREFIX}{key.replace('_', '-')}": value for key, value in extra.items()})
    return labels
