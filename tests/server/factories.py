"""Rows the server tests make directly, as the worker would have written them."""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.base import ContentFile

from builds.models import Artifact, Build, LogChunk
from builds.services.build_log import CHUNK_LINES
from runtimes import artifacts
from runtimes.build_values import BuildResult

AARCH64 = "aarch64-unknown-linux-gnu"


def add_log(build: Build, lines: list[str], *, chunk: int = CHUNK_LINES) -> None:
    """Store `lines` as the log writer does: consecutive chunks, then the build's line count."""
    LogChunk.objects.filter(build=build).delete()
    for start in range(0, len(lines), chunk):
        part = lines[start : start + chunk]
        LogChunk.objects.create(
            build=build, first_line=start, line_count=len(part), text="\n".join(part)
        )
    Build.objects.filter(pk=build.pk).update(log_lines=len(lines))
    build.refresh_from_db()


def add_artifact(
    build: Build,
    content: bytes = b"\x7fELF binary",
    *,
    name: str = "hello-cross",
    profile: str = "debug",
) -> Artifact:
    """A stored artifact of `build`, with its size and sha256, in MEDIA_ROOT."""
    artifact = Artifact(
        build=build,
        name=name,
        path=f"{AARCH64}/{profile}/{name}",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    artifact.file.save(name, ContentFile(content), save=True)
    return artifact


def result_of(*made: artifacts.Artifact, **fields: Any) -> BuildResult:
    """A result of a build that ran to its end, as run_build returns it."""
    values: dict[str, Any] = dict(
        triple=AARCH64,
        image=f"localhost/xcargo/toolchain:{AARCH64}",
        image_source="toolchain",
        image_reason="the toolchain image",
        image_id="sha256:" + "a" * 64,
        image_digest="",
        rustc_version="rustc 1.85.0",
        toolchain="1.85",
        toolchain_reason="the newest",
        strategy="zig",
        strategy_reason="zig links for the floor",
        volumes=None,
        exit_code=0,
        phases={"build": 12.0, "collect": 0.1, "smoke": 0.5},
        artifacts=list(made),
    )
    return BuildResult(**{**values, **fields})
