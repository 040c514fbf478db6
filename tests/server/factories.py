"""Rows the server tests make directly, as the worker would have written them."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile

from builds.models import Artifact, Build, LogChunk
from builds.services.build_log import CHUNK_LINES

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
