"""The images a build may run in: the toolchain images on an engine, read from the labels
xcargo put on them (made here, or made elsewhere and pulled from a team's registry), the
images the trusted registries hold for each target, and every target and toolchain xcargo can
make.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from runtimes import naming
from runtimes.engine import Engine
from runtimes.errors import UsageError
from runtimes.images.pulling import registry_digests
from runtimes.images.references import parse_image_reference
from runtimes.images.registries import Registry
from runtimes.images.remote import RegistryUnreachable, RemoteImage, describe, tags
from runtimes.images.trust import TrustPolicy
from runtimes.toolchains import RECIPES, toolchains_for

#: Where the catalogue looks in each registry: the toolchain images xcargo made and a team
#: pushed (tagged `<target>-<channel>` and labelled with their targets and rustc, as here),
#: and cross-rs's images of each target, tagged `main` (`{target}` is the triple).
TOOLCHAIN_REPOSITORY = "xcargo/toolchain"
CROSS_RS_REPOSITORY = "cross-rs/{target}"
CROSS_RS_TAGS = ("main", "latest")
#: Why a cross-rs image is listed but never chosen by itself.
NO_RUST = "no Rust toolchain in it (cross mounts the host's): add one with a Dockerfile"


@dataclass(frozen=True)
class ToolchainImage:
    reference: str
    image_id: str
    # The registry digest when the image came from one; a local image has only its id.
    digest: str
    targets: tuple[str, ...]
    rustc: str
    # The channel it was made for ("1.96"); "" for an image made before toolchains had one.
    toolchain: str
    size: int
    created: str
    source: str

    @property
    def nameless(self) -> bool:
        """Left without a name when an image of its name was made again (shown by its id):
        nothing a build could name, and what `xcargo images prune` removes.
        """
        return self.reference == naming.image_key(self.image_id)


def toolchain_images(engine: Engine) -> list[ToolchainImage]:
    """Every image labelled as an xcargo toolchain, once per name it has (made here, or pulled
    from a registry), smallest first (the design's preference).
    """
    found = []
    for image in engine.client.images.list(
        filters={"label": f"{naming.LABEL_KIND}={naming.KIND_TOOLCHAIN}"}
    ):
        labels = image.labels or {}
        found += [
            ToolchainImage(
                reference=reference,
                image_id=image.id,
                digest=(registry_digests(image) or [image.id])[0],
                targets=naming.labelled_targets(labels),
                rustc=labels.get(naming.LABEL_RUSTC, "?"),
                toolchain=labels.get(naming.LABEL_TOOLCHAIN, ""),
                size=int(image.attrs.get("Size") or 0),
                created=str(image.attrs.get("Created") or ""),
                source=labels.get(naming.LABEL_SOURCE, ""),
            )
            for reference in image.tags or [naming.image_key(image.id)]
        ]
    return sorted(found, key=lambda image: (image.size, image.reference))


@dataclass(frozen=True)
class CatalogueImage:
    """An image a build of its targets could run in, on the engine or in a registry."""

    reference: str
    registry: str  # the registry host it comes from; "localhost" for xcargo's own
    digest: str
    size: int
    created: str
    targets: tuple[str, ...]
    rustc: str
    present: bool
    # Why it is never chosen by itself; "" when it can be.
    note: str = ""


def engine_catalogue(engine: Engine, policy: TrustPolicy) -> list[CatalogueImage]:
    """The toolchain images on the engine whose names a build may use: xcargo's own and those
    of trusted registries (another name of the same image is not a reason to trust it).
    """
    return [
        CatalogueImage(
            reference=image.reference,
            registry=parse_image_reference(image.reference).registry,
            digest=image.digest,
            size=image.size,
            created=image.created,
            targets=image.targets,
            rustc=image.rustc,
            present=True,
        )
        for image in toolchain_images(engine)
        if not image.nameless and _trusted_name(image.reference, policy)
    ]


def _trusted_name(reference: str, policy: TrustPolicy) -> bool:
    try:
        return policy.trusts(parse_image_reference(reference))
    except UsageError:
        return False


Warn = Callable[[str], None]


def registry_catalogue(
    policy: TrustPolicy,
    order: Sequence[str],
    triples: Sequence[str],
    *,
    warn: Warn,
) -> list[CatalogueImage]:
    """The images for `triples` in the trusted registries of `order`, walked in that order and
    read without pulling. A registry that is not trusted is not asked; one that does not
    answer is told to `warn` and skipped, so a build never fails for a registry it did not need.
    """
    found: list[CatalogueImage] = []
    for host in order:
        registry = policy.registry_of(parse_image_reference(f"{host}/x"))
        if registry is None:
            warn(f"registry {host} ([container] image_registry) is not trusted: not asked")
            continue
        try:
            found += _registry_images(registry, triples)
        except RegistryUnreachable as error:
            warn(f"{error.message}: skipped" + (f"; {error.hint}" if error.hint else ""))
    return found


def _registry_images(registry: Registry, triples: Sequence[str]) -> list[CatalogueImage]:
    candidates = [
        f"{registry.host}/{TOOLCHAIN_REPOSITORY}:{tag}"
        for tag in tags(registry, TOOLCHAIN_REPOSITORY)
        if any(tag.startswith(f"{naming.slug(triple, limit=80)}-") for triple in triples)
    ]
    for triple in triples:
        repository = CROSS_RS_REPOSITORY.format(target=triple)
        candidates += [
            f"{registry.host}/{repository}:{tag}"
            for tag in tags(registry, repository)
            if tag in CROSS_RS_TAGS
        ]
    found = []
    for written in candidates:
        reference = parse_image_reference(written)
        if not registry.allows(reference):
            continue
        remote = describe(registry, reference)
        if remote is not None:
            found.append(_from_registry(registry, remote))
    return found


def _from_registry(registry: Registry, remote: RemoteImage) -> CatalogueImage:
    targets = naming.labelled_targets(remote.labels)
    rustc = remote.labels.get(naming.LABEL_RUSTC, "")
    if not targets and "/cross-rs/" in remote.name:
        targets = (remote.name.rsplit("/", 1)[1],)
    return CatalogueImage(
        reference=remote.reference,
        registry=registry.host,
        digest=remote.digest,
        size=remote.size,
        created=remote.created,
        targets=targets,
        rustc=rustc,
        present=False,
        note="" if rustc else NO_RUST,
    )


def mark_present(
    images: Iterable[CatalogueImage], on_engine: Iterable[CatalogueImage]
) -> list[CatalogueImage]:
    """Registry images the engine holds already (by name and digest) marked present."""
    held = {(image.reference, image.digest.rsplit("@", 1)[-1]) for image in on_engine}
    return [
        replace(image, present=True) if (image.reference, image.digest) in held else image
        for image in images
    ]


@dataclass(frozen=True)
class CatalogueEntry:
    """One target of one toolchain: its image when made here, else how to make it."""

    target: str
    toolchain: str
    reference: str | None

    @property
    def bootstrap_command(self) -> str:
        return f"xcargo images bootstrap --toolchain {self.toolchain} --target {self.target}"


def catalogue(made: Iterable[tuple[str, str, str]]) -> list[CatalogueEntry]:
    """Every target and toolchain xcargo can make, given the (target, toolchain, reference) of
    the images made already; images of other pairs (named or older ones) are left out.
    """
    references = {(target, toolchain): reference for target, toolchain, reference in made}
    return [
        CatalogueEntry(target, channel, references.get((target, channel)))
        for target in RECIPES
        for channel in toolchains_for(target)
    ]
