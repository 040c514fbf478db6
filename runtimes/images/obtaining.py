"""The chosen image put on the engine, as its registry allows: images of a trusted registry
follow its pull policy and its allowed images; an image of a registry nobody trusted is pulled
only by the digest a person trusted once, and is then pinned to it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from docker.models.images import Image

from runtimes import naming
from runtimes.engine import Engine
from runtimes.images.builder import find_image
from runtimes.images.pulling import (
    LineCallback,
    ProgressCallback,
    PullFailed,
    pinned_digest,
    pull_image,
)
from runtimes.images.references import ImageReference
from runtimes.images.registries import ALWAYS, NEVER, Registry
from runtimes.images.remote import RegistryUnreachable, describe
from runtimes.images.trust import TrustPolicy, check_image_approved


@dataclass(frozen=True)
class Obtained:
    image: Image
    # `name@sha256:…` of what was pulled or found; the image id for an image of no registry.
    digest: str


def obtain_image(
    engine: Engine,
    reference: ImageReference,
    *,
    trust: TrustPolicy,
    approvals: Collection[str],
    approve_how: str,
    on_line: LineCallback,
    on_progress: ProgressCallback | None = None,
) -> Obtained:
    """The image on the engine, pulled first when its registry's policy says so. Raises
    PullFailed (missing and not to be pulled, or the pull failed), ApprovalNeeded (an
    untrusted registry's image whose digest nobody trusted) or UsageError (not allowed).
    """
    present = find_image(engine, reference.canonical)
    if naming.is_own_image(reference.canonical):
        if present is None:
            raise PullFailed(f"image {reference.canonical} is not on the engine")
        return Obtained(present, pinned_digest(present, reference))
    registry = trust.registry_of(reference)
    if registry is None:
        return _untrusted(engine, reference, present, approvals, approve_how, on_line, on_progress)
    registry.check_allowed(reference)
    if present is not None and registry.pull_policy != ALWAYS:
        return Obtained(present, pinned_digest(present, reference))
    if registry.pull_policy == NEVER:
        raise PullFailed(
            f"image {reference.canonical} is not on the engine, and the pull policy of "
            f"{registry.host} is never",
            hint=f"load it into the engine first, or ask an admin to change {registry.host}'s "
            "pull policy",
        )
    on_line(f"xcargo: pulling {reference.canonical} ({registry.host}: {registry.pull_policy})")
    image = pull_image(engine, reference, registry, on_line=on_line, on_progress=on_progress)
    return Obtained(image, pinned_digest(image, reference))


def _untrusted(
    engine: Engine,
    reference: ImageReference,
    present: Image | None,
    approvals: Collection[str],
    approve_how: str,
    on_line: LineCallback,
    on_progress: ProgressCallback | None,
) -> Obtained:
    """An image on the engine already was put there by someone who could; a missing one is
    read from its registry, and pulled by that digest only once a person trusted it.
    """
    if present is not None:
        return Obtained(present, pinned_digest(present, reference))
    try:
        remote = describe(Registry(reference.registry), reference)
    except RegistryUnreachable as error:
        raise PullFailed(
            f"image {reference.canonical} is not on the engine, and {error.message}",
            hint=f"load or pull it into the engine first (`docker pull {reference.canonical}`)",
        ) from error
    if remote is None:
        raise PullFailed(f"{reference.registry} has no image {reference.canonical}")
    code = check_image_approved(reference, remote.digest, approvals, how=approve_how)
    on_line(
        f"xcargo: {reference.registry} is not trusted; pulling {remote.pinned}, which a person "
        f"trusted once (approval {code})"
    )
    pinned = ImageReference(reference.registry, reference.repository, None, remote.digest)
    image = pull_image(engine, pinned, None, on_line=on_line, on_progress=on_progress)
    if reference.tag:
        image.tag(reference.name, reference.tag)
    return Obtained(image, remote.pinned)
