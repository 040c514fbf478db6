"""The checks of the policies an administrator sets (trusted registries), shared by every
place that writes them.
"""

from __future__ import annotations

from builds.services.errors import checked
from runtimes.images.references import validate_registry_host


def check_registry_host(host: str) -> str:
    """A registry host as image references name it (`ghcr.io`, `127.0.0.1:5000`)."""
    return checked(validate_registry_host, host, "host")
