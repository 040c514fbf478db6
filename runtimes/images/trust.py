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
from runtimes.images.review import DockerfileReview

#: Trusted when nothing else is said: the registries the design names.
DEFAULT_TRUSTED_REGISTRIES = ("docker.io", "ghcr.io", "quay.io")
#: How many characters of a review digest a person types to approve it.
APPROVAL_LENGTH = 12


@dataclass(frozen=True)
class TrustPolicy:
    """The registry hosts images may come from, matched exactly (host and port)."""

    registries: tuple[str, ...] = DEFAULT_TRUSTED_REGISTRIES

    @classmethod
    def from_hosts(cls, hosts: Iterable[str]) -> TrustPolicy:
        return cls(tuple(validate_registry_host(host.strip()) for host in hosts if host.strip()))

    def trusts(self, reference: ImageReference) -> bool:
        # An image xcargo made on this machine involves no registry: nothing to trust.
        return naming.is_own_image(reference.canonical) or any(
            reference.registry_host_matches(host) for host in self.registries
        )


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
    """The review's findings and the images from untrusted registries, in line order."""
    found = [
        Concern(finding.line, f"{finding.kind}: {finding.message}") for finding in review.findings
    ]
    found += [
        Concern(
            used.line,
            f"{used.how} {used.reference.canonical} comes from {used.reference.registry}, "
            "which is not a trusted registry",
            used.reference.registry,
        )
        for used in review.images
        if not policy.trusts(used.reference)
    ]
    return tuple(sorted(found, key=lambda concern: concern.line))


class ApprovalNeeded(UsageError):
    """A Dockerfile with concerns that nobody has approved in this form yet."""

    def __init__(
        self,
        shown_path: str,
        text: str,
        review: DockerfileReview,
        found: tuple[Concern, ...],
        how: str,
    ) -> None:
        listed = "\n".join(f"  {shown_path}:{concern}" for concern in found)
        super().__init__(
            f"{shown_path} needs a person's approval before it is built:\n{listed}",
            hint=f"read it; to approve exactly this Dockerfile and its build arguments, {how}",
        )
        self.shown_path = shown_path
        self.text = text
        self.review = review
        self.concerns = found

    @property
    def approval(self) -> str:
        return approval_code(self.review)


def approval_code(review: DockerfileReview) -> str:
    """What a person types to approve this Dockerfile: its digest's first characters."""
    return review.digest[:APPROVAL_LENGTH]


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
    if found and approval_code(review) not in approved:
        how = how.format(code=approval_code(review))
        raise ApprovalNeeded(shown_path, text, review, found, how)
    return found
