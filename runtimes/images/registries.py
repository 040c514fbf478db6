"""What a trusted registry allows: which of its images may be used (globs, as GitLab Runner's
`allowed_images`), when its images are pulled (the pull policy), and the credentials of a
private one. The server makes these from its admin's trusted registries, the CLI from its
defaults; this module knows nothing of either.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from runtimes.errors import UsageError
from runtimes.images.references import ImageReference

# When an image of a registry is pulled.
ALWAYS = "always"  # before every build: the newest image the tag names
IF_NOT_PRESENT = "if-not-present"  # only when the engine does not have it yet
NEVER = "never"  # never: only images on the engine already are used
PULL_POLICIES = (ALWAYS, IF_NOT_PRESENT, NEVER)


@dataclass(frozen=True)
class Credentials:
    """A private registry's login. The password is left out of every repr, so that no log or
    error message that shows a registry can show it.
    """

    username: str
    password: str = field(repr=False)

    def auth_config(self) -> dict[str, str]:
        """As the engine's pull API takes them."""
        return {"username": self.username, "password": self.password}


@dataclass(frozen=True)
class Registry:
    host: str
    # Globs of the images allowed, written as the registry's own path: `xcargo/*`,
    # `cross-rs/*:main`, `library/debian:*` (or `debian:*` for Docker Hub's official images).
    allowed_images: tuple[str, ...] = ("*",)
    pull_policy: str = IF_NOT_PRESENT
    credentials: Credentials | None = field(default=None, repr=False)

    def allows(self, reference: ImageReference) -> bool:
        """Whether the image's path and tag match one of the globs."""
        tag = f":{reference.tag}" if reference.tag else ""
        familiar = reference.familiar.removeprefix(f"{reference.registry}/").split("@")[0]
        written = {reference.repository + tag, reference.repository, familiar}
        return any(
            fnmatch.fnmatchcase(path, glob) for glob in self.allowed_images for path in written
        )

    def check_allowed(self, reference: ImageReference) -> None:
        if not self.allows(reference):
            raise UsageError(
                f"{reference.canonical} is not among the images allowed from {self.host} "
                f"({', '.join(self.allowed_images)})",
                hint="use an allowed image, or ask an admin to allow it for that registry",
            )


def check_pull_policy(value: str) -> str:
    if value not in PULL_POLICIES:
        raise UsageError(
            f"unknown pull policy {value!r}", hint=f"use one of {', '.join(PULL_POLICIES)}"
        )
    return value
