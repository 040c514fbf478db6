"""Which registries images may come from, and the gate a custom Dockerfile passes before it is
built: its findings and any image from a registry nobody trusted need a person's yes, given
for exactly this Dockerfile (its review digest) and never by default.

The policy is a plain value: the CLI makes it from the defaults and `XCARGO_TRUSTED_REGISTRIES`,
the server from its admin's trusted registries, so this module knows nothing of either.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from runtimes import naming
from runtimes.errors import UsageError
from runtimes.images.references import ImageReference, validate_registry_host
from runtimes.images.registries import Registry
from runtimes.images.review import DockerfileReview

#: Trusted when nothing else is said: the registries the design names.
DEFAULT_TRUSTED_REGISTRIES = ("docker.io", "ghcr.io", "quay.io")
#: How many characters of a review digest a person types to approve it.
APPROVAL_LENGTH = 12


@dataclass(frozen=True)
class TrustPolicy:
    """The registries images may come from, matched exactly (host and port), each with what it
    allows.
    """

    registries: tuple[Registry, ...] = tuple(Registry(host) for host in DEFAULT_TRUSTED_REGISTRIES)

    @classmethod
    def from_hosts(cls, hosts: Iterable[str], **settings: object) -> TrustPolicy:
        """Registries named by host alone, each with the same `settings` (a pull policy…)."""
        return cls(
            tuple(
                Registry(validate_registry_host(host.strip()), **settings)  # type: ignore[arg-type]
                for host in hosts
                if host.strip()
            )
        )

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(registry.host for registry in self.registries)

    def registry_of(self, reference: ImageReference) -> Registry | None:
        """The trusted registry the image comes from, if it is one."""
        return next((r for r in self.registries if reference.registry_host_matches(r.host)), None)

    def trusts(self, reference: ImageReference) -> bool:
        # An image xcargo made on this machine involves no registry: nothing to trust.
        return naming.is_own_image(reference.canonical) or self.registry_of(reference) is not None


@dataclass(frozen=True)
class Concern:
    """One thing about a Dockerfile a person must look at, on its line."""

    line: int
    what: str
    # The untrusted registry the concern is about; None for a finding of the review.
    registry: str | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}"


def concerns(review: DockerfileReview, policy: TrustPolicy) -> tuple[Concern, ...]:
    """The review's findings, the images from untrusted registries and those a trusted
    registry does not allow, in line order.
    """
    found = [
        Concern(finding.line, f"{finding.kind}: {finding.message}") for finding in review.findings
    ]
    for used in review.images:
        registry = policy.registry_of(used.reference)
        if naming.is_own_image(used.reference.canonical):
            continue
        if registry is None:
            found.append(
                Concern(
                    used.line,
                    f"{used.how} {used.reference.canonical} comes from "
                    f"{used.reference.registry}, which is not a trusted registry",
                    used.reference.registry,
                )
            )
        elif not registry.allows(used.reference):
            found.append(
                Concern(
                    used.line,
                    f"{used.how} {used.reference.canonical} is not among the images allowed "
                    f"from {registry.host} ({', '.join(registry.allowed_images)})",
                )
            )
    return tuple(sorted(found, key=lambda concern: concern.line))


# What waits for a person's yes, as the approval records it.
DOCKERFILE = "dockerfile"
IMAGE = "image"


class ApprovalNeeded(UsageError):
    """Something nobody has approved in this exact form yet: a Dockerfile with concerns, or an
    image (one digest) from a registry nobody trusted. `text` is what the person reads: the
    Dockerfile, or the image's name by digest; each concern is on one of its lines. `what`
    says which of the two (DOCKERFILE or IMAGE).
    """

    def __init__(
        self,
        kind: str,
        subject: str,
        text: str,
        found: tuple[Concern, ...],
        code: str,
        how: str,
    ) -> None:
        listed = "\n".join(f"  {subject}:{concern}" for concern in found)
        use, what = (
            ("built", "this Dockerfile and its build arguments")
            if kind == DOCKERFILE
            else ("pulled", "this image (its digest), once")
        )
        super().__init__(
            f"{subject} needs a person's approval before it is {use}:\n{listed}",
            hint=f"read it; to approve exactly {what}, {how.format(code=code, kind=kind)}",
        )
        self.what = kind
        self.subject = subject
        self.text = text
        self.concerns = found
        self.approval = code


def approval_code(review: DockerfileReview) -> str:
    """What a person types to approve this Dockerfile: its digest's first characters."""
    return review.digest[:APPROVAL_LENGTH]


def image_approval_code(digest: str) -> str:
    """What a person types to trust one image once: its digest's first characters."""
    return digest.split(":", 1)[-1][:APPROVAL_LENGTH]


def check_approved(
    shown_path: str,
    text: str,
    review: DockerfileReview,
    policy: TrustPolicy,
    approved: Collection[str],
    *,
    how: str,
) -> tuple[Concern, ...]:
    """Pass a Dockerfile with no concerns, or one approved by its code; else ApprovalNeeded.
    Returns the concerns that were approved, for the log.
    """
    found = concerns(review, policy)
    code = approval_code(review)
    if found and code not in approved:
        raise ApprovalNeeded(DOCKERFILE, shown_path, text, found, code, how)
    return found


def check_image_approved(
    reference: ImageReference, digest: str, approved: Collection[str], *, how: str
) -> str:
    """Pass an image of an untrusted registry whose digest a person trusted once; else
    ApprovalNeeded. Returns the approval code, for the log.
    """
    code = image_approval_code(digest)
    if code not in approved:
        concern = Concern(
            1,
            f"{reference.canonical} comes from {reference.registry}, which is not a trusted "
            "registry",
            reference.registry,
        )
        pinned = f"{reference.name}@{digest}"
        raise ApprovalNeeded(IMAGE, reference.canonical, pinned, (concern,), code, how)
    return code
