"""Images are disk too: the xcargo images nothing needs any more, found and removed like cache
volumes (never one a container uses). Those are images a rebuild of the same name left
without a name, toolchain images of a toolchain this machine no longer offers, and, when asked,
custom images (a project's Dockerfile, a pre-build) made longer ago than an age.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from docker.errors import APIError, NotFound

from runtimes import naming
from runtimes.engine import Engine, containers_attrs, engine_time


@dataclass(frozen=True)
class OldImage:
    image_id: str
    # Its names, or its short id when it has none.
    shown: str
    size: int
    why: str


def old_images(
    engine: Engine, *, offered: tuple[str, ...], custom_older_than: float | None = None
) -> list[OldImage]:
    """The xcargo images no build needs, with why; none that a container uses."""
    used = _images_in_use(engine)
    now = time.time()
    found = []
    for image in engine.client.images.list(filters={"label": f"{naming.LABEL_MANAGED}=true"}):
        if image.id in used:
            continue
        labels = image.labels or {}
        kind, channel = labels.get(naming.LABEL_KIND, ""), labels.get(naming.LABEL_TOOLCHAIN, "")
        why = ""
        if not image.tags:
            why = "left without a name when an image of its name was made again"
        elif kind == naming.KIND_TOOLCHAIN and channel and channel not in offered:
            why = f"toolchain {channel}, which this machine no longer offers"
        elif kind == naming.KIND_CUSTOM and custom_older_than is not None:
            created = engine_time(image.attrs.get("Created"))
            if created is not None and now - created.timestamp() >= custom_older_than:
                why = "a custom image older than asked"
        if why:
            shown = ", ".join(image.tags) or naming.image_key(image.id)
            found.append(OldImage(image.id, shown, int(image.attrs.get("Size") or 0), why))
    return sorted(found, key=lambda old: old.shown)


def remove_images(engine: Engine, images: list[OldImage]) -> list[OldImage]:
    """Remove them; those the engine refuses (a container started on one meanwhile, a child
    image) stay. Returns the removed ones.
    """
    removed = []
    for image in images:
        try:
            engine.client.images.remove(image.image_id, force=False)
        except NotFound:
            pass
        except APIError:
            continue
        removed.append(image)
    return removed


def remove_unused_names(engine: Engine, references: list[str]) -> list[str]:
    """Remove these image names, each unless a container uses its image (the caches page's
    choice, made from what a worker last saw, is checked again here). A name whose image has
    other names only loses that name. Returns the names removed.
    """
    used = _images_in_use(engine)
    removed = []
    for reference in references:
        try:
            if engine.client.images.get(reference).id in used:
                continue
            engine.client.images.remove(reference, force=False)
        except NotFound:
            pass
        except APIError:
            continue
        removed.append(reference)
    return removed


def _images_in_use(engine: Engine) -> set[str]:
    """The ids of the images containers (running or not) were made from."""
    return {attrs.get("Image") for attrs in containers_attrs(engine)}
