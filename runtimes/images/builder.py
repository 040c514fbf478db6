"""An image build on the engine, its log streamed line by line as the engine sends it: the
bootstrap's toolchain images and projects' custom images are both made this way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from docker.errors import APIError, BuildError, ImageNotFound
from docker.models.images import Image

from runtimes.engine import Engine
from runtimes.errors import XcargoError
from runtimes.images.pulling import pull_status_line

LineCallback = Callable[[str], None]


def build_image(
    engine: Engine,
    *,
    tag: str,
    on_line: LineCallback,
    error: type[XcargoError],
    **options: Any,
) -> str:
    """Build `tag` with the engine's build API (`options` are docker-py's: path or fileobj,
    dockerfile, buildargs…) and return the image id; a failed step raises `error` with the
    engine's own words. Pull progress of a base image is told once per layer state, not as
    the engine's progress bars.
    """
    told: set[str] = set()
    try:
        for message in engine.client.api.build(
            tag=tag, rm=True, forcerm=True, decode=True, **options
        ):
            if "error" in message:
                raise error(f"building {tag} failed: {str(message['error']).strip()}")
            for line in str(message.get("stream", "")).splitlines():
                if line.strip():
                    on_line(line)
            status = pull_status_line(message)
            if status and status not in told:
                told.add(status)
                on_line(status)
    except (APIError, BuildError) as failure:
        raise error(f"building {tag} failed: {failure}") from failure
    return engine.client.images.get(tag).id


def label_instruction(labels: dict[str, str]) -> str:
    """One LABEL line for all the image's labels: Docker's classic builder commits a layer for
    each instruction (its `labels` option adds one per label), about 6 s each on this kind of
    machine, so the Dockerfiles also declare their ARGs on one line.
    """
    pairs = " ".join(f"{json.dumps(key)}={json.dumps(value)}" for key, value in labels.items())
    return f"\nLABEL {pairs}\n"


def find_image(engine: Engine, reference: str) -> Image | None:
    try:
        return engine.client.images.get(reference)
    except ImageNotFound:
        return None
