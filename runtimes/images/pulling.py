"""An image pulled from its registry onto the engine, with the progress a person can follow
(bytes of all layers together) and the lines a build log keeps (one per layer state, not the
engine's many progress messages a second). What was pulled is pinned by its digest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from docker.errors import APIError, ImageNotFound
from docker.models.images import Image

from runtimes import vocabulary
from runtimes.engine import Engine
from runtimes.errors import XcargoError
from runtimes.images.references import ImageReference
from runtimes.images.registries import Registry

LineCallback = Callable[[str], None]


class PullFailed(XcargoError):
    """The engine could not pull an image: unknown, refused, or the registry is down."""

    kind = vocabulary.IMAGE


@dataclass
class PullProgress:
    """Bytes downloaded of every layer the engine has announced so far."""

    layers: dict[str, tuple[int, int]] = field(default_factory=dict)

    def update(self, message: dict[str, Any]) -> None:
        layer, detail = str(message.get("id", "")), message.get("progressDetail") or {}
        status = str(message.get("status", ""))
        if not layer or layer == "latest":
            return
        done, total = self.layers.get(layer, (0, 0))
        if status == "Downloading" and detail.get("total"):
            done, total = int(detail.get("current", 0)), int(detail["total"])
        elif status in ("Download complete", "Pull complete", "Already exists"):
            done = total
        self.layers[layer] = (done, total)

    @property
    def done(self) -> int:
        return sum(done for done, _ in self.layers.values())

    @property
    def total(self) -> int:
        return sum(total for _, total in self.layers.values())


ProgressCallback = Callable[[PullProgress], None]


def pull_image(
    engine: Engine,
    reference: ImageReference,
    registry: Registry | None,
    *,
    on_line: LineCallback,
    on_progress: ProgressCallback | None = None,
) -> Image:
    """Pull `reference` (by digest when it has one) and return the image. The registry's
    credentials go to the engine with the request and nowhere else; without any, the engine
    uses its own login (`docker login`).
    """
    credentials = registry.credentials if registry else None
    progress = PullProgress()
    told: set[str] = set()
    wanted = reference.digest or reference.tag or "latest"
    try:
        for message in engine.client.api.pull(
            reference.name,
            tag=wanted,
            stream=True,
            decode=True,
            auth_config=credentials.auth_config() if credentials else None,
        ):
            if "error" in message:
                raise PullFailed(_failure(reference, str(message["error"])))
            progress.update(message)
            if on_progress is not None:
                on_progress(progress)
            line = pull_status_line(message)
            if line and line not in told:
                told.add(line)
                on_line(line)
        return engine.client.images.get(reference.canonical)
    except (APIError, ImageNotFound) as error:
        raise PullFailed(_failure(reference, str(error.explanation or error))) from error


def _failure(reference: ImageReference, said: str) -> str:
    return f"pulling {reference.canonical} failed: {said.strip()}"


def pull_status_line(message: dict[str, Any]) -> str:
    """ "Pulling from library/debian", "Digest: sha256:…", a layer's "Pull complete": the
    lines of a pull worth a log line (the "Downloading" ones come many times a second).
    """
    status = str(message.get("status", "")).strip()
    if not status or message.get("progressDetail") or status in ("Downloading", "Extracting"):
        return ""
    layer = str(message.get("id", "")).strip()
    return f"{layer}: {status}" if layer else status


# Podman names what it built itself `localhost/…` and records a digest for that name too; no
# registry serves it, so such an image is pinned by its id, as Docker's own builds are.
_LOCAL_BUILDS = "localhost/"


def registry_digests(image: Image) -> list[str]:
    """The `name@sha256:…` digests the engine recorded for the image's pulls from registries."""
    return [
        digest
        for digest in image.attrs.get("RepoDigests") or []
        if not digest.startswith(_LOCAL_BUILDS)
    ]


def pinned_digest(image: Image, reference: ImageReference) -> str:
    """The `name@sha256:…` the engine recorded for the image under this reference's name, or
    the image's id when it came from no registry.
    """
    digests = registry_digests(image)
    return next(
        (digest for digest in digests if digest.split("@")[0] == reference.name),
        digests[0] if digests else image.id,
    )
