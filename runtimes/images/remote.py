"""What a registry holds, read through its HTTP API (the OCI distribution spec) without pulling
anything: the tags of a repository, and for one image its digest, size, creation time and
labels. python-dxf speaks the protocol (token and basic authentication, manifests, blobs).

Credentials travel only over TLS: dxf refuses to send them in clear. Plain HTTP is tried only
for a registry on this machine's loopback that does not speak TLS, as Docker does. A private
registry's certificate authority is found as `requests` finds any (REQUESTS_CA_BUNDLE).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from dxf import DXF, DXFBase
from dxf.exceptions import DXFError, DXFUnauthorizedError

from runtimes import vocabulary
from runtimes.errors import XcargoError
from runtimes.images.references import ImageReference
from runtimes.images.registries import Registry

# Docker Hub's registry API answers on another host than the one in image names.
_API_HOSTS = {"docker.io": "registry-1.docker.io"}
# The platform an image is read for: the workers' own.
PLATFORM = "linux/amd64"
_INDEX_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
_TIMEOUT = 20.0
T = TypeVar("T")


class RegistryUnreachable(XcargoError):
    """A registry that did not answer, refused the credentials, or answered nonsense."""

    kind = vocabulary.IMAGE


@dataclass(frozen=True)
class RemoteImage:
    """One image in a registry, as its manifest and configuration describe it."""

    name: str  # registry and repository
    tag: str
    digest: str  # the manifest's digest, which the engine pins as a RepoDigest
    size: int  # the compressed layers' sum: what a pull downloads
    created: str
    labels: Mapping[str, str]

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.tag}" if self.tag else self.name

    @property
    def pinned(self) -> str:
        """The reference by digest: exactly this image, whatever the tag names later."""
        return f"{self.name}@{self.digest}"


def tags(registry: Registry, repository: str) -> list[str]:
    """The tags of `repository`; none when the registry does not have it."""
    try:
        return list(_ask(registry, repository, lambda client: client.list_aliases()))
    except (DXFError, requests.RequestException) as error:
        if _status(error) == 404:
            return []
        raise _unreachable(registry, error) from error


def describe(registry: Registry, reference: ImageReference) -> RemoteImage | None:
    """The image `reference` names in the registry, or None when it has no such image."""
    alias = reference.digest or reference.tag or "latest"
    try:
        digest, manifest, config = _ask(registry, reference.repository, _read(alias))
    except (DXFError, requests.RequestException, ValueError, KeyError) as error:
        if _status(error) == 404:
            return None
        raise _unreachable(registry, error) from error
    return RemoteImage(
        name=reference.name,
        tag=reference.tag or "",
        digest=digest or reference.digest or "",
        size=sum(int(layer.get("size", 0)) for layer in manifest.get("layers", [])),
        created=str(config.get("created", "")),
        labels=(config.get("config") or {}).get("Labels") or {},
    )


def _read(alias: str) -> Callable[[DXF], tuple[str, dict[str, Any], dict[str, Any]]]:
    """The image's digest, its manifest for PLATFORM and its configuration."""

    def read(client: DXF) -> tuple[str, dict[str, Any], dict[str, Any]]:
        text, response = client.get_manifest_and_response(alias)
        manifest = json.loads(text)
        if manifest.get("mediaType") in _INDEX_TYPES:
            manifest = json.loads(client.get_manifest(alias, platform=PLATFORM))
        config = json.loads(b"".join(client.pull_blob(manifest["config"]["digest"])))
        return response.headers.get("Docker-Content-Digest", ""), manifest, config

    return read


def _ask(registry: Registry, repository: str, question: Callable[[DXF], T]) -> T:
    """Ask over HTTPS; a registry on loopback that does not speak TLS is asked again over
    HTTP, as Docker does (its default insecure registries are 127.0.0.0/8).
    """
    try:
        return question(_client(registry, repository, insecure=False))
    except requests.exceptions.SSLError:
        if not _on_loopback(registry.host):
            raise
    return question(_client(registry, repository, insecure=True))


def _client(registry: Registry, repository: str, *, insecure: bool) -> DXF:
    host = _API_HOSTS.get(registry.host.lower(), registry.host)
    credentials = registry.credentials

    def authenticate(client: DXFBase, response: requests.Response) -> None:
        if credentials is None:
            client.authenticate(response=response)
        else:
            client.authenticate(credentials.username, credentials.password, response=response)

    return DXF(
        host,
        repository,
        auth=authenticate,
        insecure=insecure,
        timeout=_TIMEOUT,
    )


def _on_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def _status(error: Exception) -> int | None:
    """The HTTP status the registry answered with, when the error came from one."""
    if isinstance(error, DXFUnauthorizedError):
        return 401
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return error.response.status_code
    got: Any = getattr(error, "got", None)
    return got if isinstance(got, int) else None


def _unreachable(registry: Registry, error: Exception) -> RegistryUnreachable:
    status = _status(error)
    if status == 401:
        what = "refused the credentials" if registry.credentials else "needs credentials"
        return RegistryUnreachable(
            f"registry {registry.host} {what}",
            hint="an admin sets them on the registry's page of the admin (trusted registries)",
        )
    reason = type(error).__name__ if status is None else f"HTTP {status}"
    return RegistryUnreachable(f"registry {registry.host} did not answer as expected: {reason}")
