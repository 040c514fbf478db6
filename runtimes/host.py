"""Facts about the machine running xcargo (not the engine): where it keeps state, which CAs
it trusts.
"""

from __future__ import annotations

import os
from pathlib import Path

# Where distributions keep the system CA bundle; the first one present is used.
_SYSTEM_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, BSDs
)


def state_dir() -> Path:
    """xcargo's own small state (fetch stamps): XCARGO_STATE_DIR, else the user's cache dir."""
    if explicit := os.environ.get("XCARGO_STATE_DIR"):
        return Path(explicit)
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "xcargo"


def ca_bundle() -> Path | None:
    """The CA bundle the fetch phase trusts: the host's, so that a TLS-inspecting proxy whose
    CA the host trusts works in containers too. XCARGO_CA_BUNDLE overrides; "none" disables.
    """
    explicit = os.environ.get("XCARGO_CA_BUNDLE")
    if explicit:
        return None if explicit == "none" else Path(explicit)
    candidates = [os.environ.get("SSL_CERT_FILE", ""), *_SYSTEM_CA_BUNDLES]
    return next((Path(path) for path in candidates if path and Path(path).is_file()), None)
