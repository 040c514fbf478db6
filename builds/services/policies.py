"""The checks of the policies an administrator sets (trusted registries), shared by every
place that writes them.
"""

from __future__ import annotations

from builds.services.errors import checked
from runtimes.errors import UsageError
from runtimes.images.references import validate_registry_host


def check_allowed_images(text: str) -> str:
    """Globs of a registry's allowed images, one per line: paths as the registry names them."""
    return checked(_check_globs, text, "allowed_images")


def _check_globs(text: str) -> str:
    globs = text.split()
    if not globs:
        raise UsageError("no image would be allowed", hint="write * to allow every image")
    for glob in globs:
        if "://" in glob or glob.startswith("/") or any(c in glob for c in "\"'"):
            raise UsageError(
                f"{glob!r} is not a glob of image paths",
                hint="write paths as the registry names them: xcargo/*, cross-rs/*:main",
            )
    return "\n".join(globs)


def check_registry_host(host: str) -> str:
    """A registry host as image references name it (`ghcr.io`, `127.0.0.1:5000`)."""
    return checked(validate_registry_host, host, "host")
