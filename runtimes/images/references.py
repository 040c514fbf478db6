"""Container image references, parsed and canonicalised the way Docker does it.

References come from xcargo.toml, from `--container-image` and from the web form, and end up in
engine API calls and trusted-registry checks. Following the grammar of Docker's
distribution/reference package means `debian` and `docker.io/library/debian:latest` are the same
image to us as they are to the engine, and that nothing outside that grammar (URLs, shell
metacharacters, path tricks) is ever handed on.

The grammar, in short:

    reference := name [":" tag] ["@" digest]
    name      := [registry "/"] path-component ["/" path-component]*
    registry  := host [":" port]     (first component, if it has "." or ":" or is "localhost")
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from runtimes.errors import UsageError

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
OFFICIAL_NAMESPACE = "library/"
#: Docker Hub's old name, rewritten to DEFAULT_REGISTRY as Docker does.
LEGACY_DEFAULT_REGISTRY = "index.docker.io"
#: Docker's limit on the name (registry and repository), checked on the canonical name.
MAX_NAME_LENGTH = 255
_MAX_TAG_LENGTH = 128
_DIGEST_LENGTH = len("sha256:") + 64
#: Longest possible reference; longer text is refused before any pattern looks at it.
MAX_REFERENCE_LENGTH = MAX_NAME_LENGTH + 1 + _MAX_TAG_LENGTH + 1 + _DIGEST_LENGTH

_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(
    rf"(?P<host>{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[a-fA-F0-9:]+\])(?::(?P<port>[0-9]+))?"
)
# Docker's separator is written `[-]*` in older grammars; `-+` matches the same names without
# the nested-quantifier backtracking that `*` causes in Python's regex engine.
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(rf"[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{_MAX_TAG_LENGTH - 1}}}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_IMAGE_ID = re.compile(r"[0-9a-f]{64}")
_ALLOWED_CHARACTERS = frozenset(string.ascii_letters + string.digits + "._-:/@[]")

_REFERENCE_HINT = (
    "an image reference looks like debian:bookworm or "
    "ghcr.io/cross-rs/aarch64-unknown-linux-gnu:main"
)
_HOST_HINT = "a registry host looks like ghcr.io, docker.io or localhost:5000"


class _Malformed(ValueError):
    """Why a piece of a reference is invalid; turned into a UsageError at the public boundary."""


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference: registry, repository path, and a tag and/or a digest."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """Registry and repository, without tag or digest: what engines call the image name."""
        return f"{self.registry}/{self.repository}"

    @property
    def canonical(self) -> str:
        """The fully qualified form, e.g. docker.io/library/debian:latest."""
        return self.name + self._suffix()

    @property
    def familiar(self) -> str:
        """The short form Docker shows, e.g. debian:latest or ghcr.io/owner/image:1.0."""
        if self.registry != DEFAULT_REGISTRY:
            return self.canonical
        repository = self.repository
        official = repository.removeprefix(OFFICIAL_NAMESPACE)
        if repository.startswith(OFFICIAL_NAMESPACE) and "/" not in official:
            repository = official
        return repository + self._suffix()

    def registry_host_matches(self, host: str) -> bool:
        """Say whether this image comes from exactly `host[:port]`.

        Trusted-registry checks depend on this, so there is no suffix or prefix matching:
        `docker.io.evil.com` is not `docker.io`, and a port only matches the same port. Host
        names compare case-insensitively, as DNS does. Malformed input matches nothing.
        """
        try:
            return _split_host(self.registry) == _split_host(host)
        except _Malformed:
            return False

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return tag + digest

    def __str__(self) -> str:
        return self.canonical


def parse_image_reference(text: str) -> ImageReference:
    """Parse and canonicalise a reference; anything outside Docker's grammar is a UsageError."""
    try:
        return _parse(text)
    except _Malformed as err:
        message = f"invalid image reference {_shown(text)}: {err}"
        raise UsageError(message, hint=_REFERENCE_HINT) from err


def validate_registry_host(text: str) -> str:
    """Check a registry host such as `ghcr.io` or `localhost:5000` and return it unchanged."""
    try:
        _split_host(text)
    except _Malformed as err:
        raise UsageError(f"invalid registry host {_shown(text)}: {err}", hint=_HOST_HINT) from err
    return text


def _shown(text: str) -> str:
    """Quote input for a message: repr() escapes control characters, and huge input is cut."""
    if len(text) <= MAX_REFERENCE_LENGTH:
        return repr(text)
    return f"{text[:40]!r}... ({len(text)} characters)"


def _parse(text: str) -> ImageReference:
    _check_characters(text)
    remainder, digest = _split_digest(text)
    name, tag = _split_tag(remainder)
    registry, repository = _split_registry(name)
    for component in repository.split("/"):
        _check_path_component(component)
    if len(f"{registry}/{repository}") > MAX_NAME_LENGTH:
        raise _Malformed(f"the name is longer than {MAX_NAME_LENGTH} characters")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return ImageReference(registry, repository, tag, digest)


def _check_characters(text: str) -> None:
    """Refuse what can never be part of a reference before looking at its structure."""
    if not text:
        raise _Malformed("it is empty")
    if len(text) > MAX_REFERENCE_LENGTH:
        raise _Malformed(f"it is longer than {MAX_REFERENCE_LENGTH} characters")
    if "://" in text:
        raise _Malformed("image references have no URL scheme; drop the 'scheme://' part")
    refused = sorted({char for char in text if char not in _ALLOWED_CHARACTERS})
    if refused:
        listed = ", ".join(repr(char) for char in refused)
        raise _Malformed(f"it contains characters that cannot appear in a reference: {listed}")
    if _IMAGE_ID.fullmatch(text):
        raise _Malformed("a 64-digit hex string is an image ID, not a reference")


def _split_digest(text: str) -> tuple[str, str | None]:
    if "@" not in text:
        return text, None
    remainder, _, digest = text.partition("@")
    if not _DIGEST.fullmatch(digest):
        raise _Malformed("'@' must be followed by sha256: and 64 lowercase hex digits")
    return remainder, digest


def _split_tag(text: str) -> tuple[str, str | None]:
    """A tag follows the last ':' after the last '/'; earlier colons belong to a registry port."""
    colon = text.rfind(":")
    if colon <= text.rfind("/"):
        return text, None
    tag = text[colon + 1 :]
    if not _TAG.fullmatch(tag):
        raise _Malformed(
            f"{tag!r} is not a valid tag (letters, digits, '_', '.' and '-', at most "
            f"{_MAX_TAG_LENGTH}, not starting with '.' or '-')"
        )
    return text[:colon], tag


def _split_registry(name: str) -> tuple[str, str]:
    """Apply Docker's rule for telling a registry from a first path component."""
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        _split_host(first)
        registry, repository = first, rest
    else:
        registry, repository = DEFAULT_REGISTRY, name
    if registry == LEGACY_DEFAULT_REGISTRY:
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = OFFICIAL_NAMESPACE + repository
    return registry, repository


def _check_path_component(component: str) -> None:
    if not component:
        raise _Malformed("empty path component (a leading, trailing or doubled '/')")
    if _PATH_COMPONENT.fullmatch(component):
        return
    if _PATH_COMPONENT.fullmatch(component.lower()):
        raise _Malformed(f"repository names must be lowercase, got {component!r}")
    raise _Malformed(
        f"{component!r} is not a valid repository path component (lowercase letters and "
        "digits, separated by '.', '_', '__' or dashes)"
    )


def _split_host(text: str) -> tuple[str, int | None]:
    """Return (lowercased host, port) for `host[:port]`, refusing ports outside 1-65535."""
    match = _HOST.fullmatch(text) if len(text) <= MAX_NAME_LENGTH else None
    if not match:
        raise _Malformed(f"{_shown(text)} is not a valid registry host")
    port = match["port"]
    if port is None:
        return match["host"].lower(), None
    if port.startswith("0") or len(port) > 5 or int(port) > 65535:
        raise _Malformed(f"port {port!r} is not a number from 1 to 65535")
    return match["host"].lower(), int(port)
