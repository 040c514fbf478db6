"""Finding what a build produced, from cargo's JSON messages, and copying it to the host.

cargo names every file it makes in `compiler-artifact` messages, so xcargo never guesses paths;
only the project's own binaries and libraries are collected, not those of dependencies.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from runtimes.errors import XcargoError
from runtimes.glibc import GlibcNeeds, GlibcVersion, needed_glibc
from runtimes.smoke import SmokeRun

_COLLECTED_KINDS = {"bin", "cdylib", "staticlib", "dylib"}
_LIBRARY_SUFFIXES = (".so", ".a", ".dylib", ".dll", ".lib", ".wasm")


@dataclass(frozen=True)
class Artifact:
    name: str
    path: Path
    size: int
    sha256: str
    # The newest glibc version it needs, read from its ELF symbol versions; None: none.
    glibc: GlibcNeeds | None = None
    # What starting it once after the build showed; None: not an executable, or not tried.
    smoke: SmokeRun | None = None


def with_glibc(artifact: Artifact) -> Artifact:
    """The artifact with the glibc it needs, read from the file on the host."""
    return dataclasses.replace(artifact, glibc=needed_glibc(artifact.path))


def floor_failure(artifacts: Iterable[Artifact], floor: str) -> str | None:
    """Why artifacts that need a glibc above the build's floor fail it (None: all keep it)."""
    if not floor:
        return None
    version = GlibcVersion.parse(floor)
    above = [
        f"{artifact.name} {problem}"
        for artifact in artifacts
        if artifact.glibc and (problem := artifact.glibc.describe_above(version))
    ]
    if not above:
        return None
    return (
        "; ".join(above)
        + ": it would not start on the systems of its floor. Raise the floor (glibc = in "
        "xcargo.toml) or find what links the newer symbols"
    )


def parse_message(line: str) -> dict[str, object] | None:
    """A cargo JSON message, or None for an ordinary log line."""
    if not line.startswith('{"reason":'):
        return None
    try:
        message = json.loads(line)
    except json.JSONDecodeError:
        return None
    return message if isinstance(message, dict) else None


def executable_paths(messages: Iterable[dict[str, object]]) -> set[str]:
    """The paths of the programs among the artifacts cargo reported (what a smoke-run starts)."""
    return {
        str(message["executable"])
        for message in messages
        if message.get("reason") == "compiler-artifact" and message.get("executable")
    }


def fresh_paths(messages: Iterable[dict[str, object]]) -> set[str]:
    """The files of the artifacts cargo reported fresh: made by an earlier build, untouched."""
    return {
        str(name)
        for message in messages
        if message.get("reason") == "compiler-artifact" and message.get("fresh") is True
        for name in [message.get("executable"), *(message.get("filenames") or [])]
        if name
    }


def artifact_paths(messages: Iterable[dict[str, object]]) -> list[str]:
    """Container paths of the workspace's own binaries and libraries, in cargo's order."""
    paths: list[str] = []
    for message in messages:
        if message.get("reason") != "compiler-artifact" or not _is_local(message):
            continue
        target = message.get("target") or {}
        kinds = set(target.get("kind") or []) if isinstance(target, dict) else set()
        if not kinds & _COLLECTED_KINDS:
            continue
        executable = message.get("executable")
        candidates = (
            [executable]
            if executable
            else [
                name
                for name in message.get("filenames") or []
                if str(name).endswith(_LIBRARY_SUFFIXES)
            ]
        )
        paths += [str(path) for path in candidates if str(path) not in paths]
    return paths


def relative_output_path(container_path: str, target_dir: str) -> PurePosixPath:
    """Where under the host's target directory a container file goes; refuses path tricks."""
    path = PurePosixPath(container_path)
    try:
        relative = path.relative_to(target_dir)
    except ValueError:
        raise XcargoError(f"cargo reported an artifact outside its target dir: {path}") from None
    if ".." in relative.parts or not relative.parts:
        raise XcargoError(f"refusing artifact path {container_path!r}")
    return relative


def extract_single_file(archive: Iterator[bytes], destination: Path) -> Artifact:
    """Write the one regular file of a tar stream to `destination`, atomically, with its sha256."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _ChunkReader(archive) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if not member.isreg():
                    raise XcargoError(f"{destination.name}: the artifact is not a regular file")
                source = tar.extractfile(member)
                assert source is not None
                digest, size = _copy_atomically(source, destination, mode=member.mode & 0o755)
                return Artifact(name=destination.name, path=destination, size=size, sha256=digest)
    except tarfile.TarError as error:
        raise XcargoError(
            f"{destination.name}: the engine returned an unreadable archive: {error}"
        ) from error
    raise XcargoError(f"{destination.name}: the engine returned an empty archive")


def describe_file(path: Path) -> Artifact:
    """An artifact cargo wrote on this machine (a native build): its size and sha256."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return Artifact(name=path.name, path=path, size=size, sha256=digest.hexdigest())


def _is_local(message: dict[str, object]) -> bool:
    """Workspace packages have path sources; registry and git dependencies do not."""
    package_id = str(message.get("package_id", ""))
    return package_id.startswith("path+file://") or "(path+file://" in package_id


def _copy_atomically(source: IO[bytes], destination: Path, *, mode: int) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        os.chmod(temporary, mode or 0o644)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size


class _ChunkReader:
    """A file-like view of the SDK's chunk iterator, so tarfile can stream it."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def __enter__(self) -> _ChunkReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._buffer = b""
