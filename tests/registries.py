"""Two real registries on loopback ports, as the registry tests use them: Debian's
`docker-registry` serving a public one over plain HTTP (as a team's on-site mirror might), and
a private one over TLS with a login (htpasswd). Images are pushed to them by the engine.

The private registry's certificate is made here and trusted where Docker, Podman and
`requests` look for it (/etc/docker/certs.d/<host>/ca.crt, /etc/containers/certs.d/<host>/ca.crt,
REQUESTS_CA_BUNDLE), so nothing is told to skip verification. That Podman may speak plain HTTP
to the public one, `scripts/setup.sh test` writes in its registries.conf.d.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from runtimes.engine import Engine
from runtimes.images.registries import Credentials

PUBLIC = "127.0.0.1:5101"
PRIVATE = "127.0.0.1:5102"
LOGIN = Credentials("team", "registry-s3cret-for-tests")
# Where each engine looks for a registry's certificate authority.
ENGINE_CERTS = (Path("/etc/docker/certs.d"), Path("/etc/containers/certs.d"))
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class Registries:
    public: str
    private: str
    login: Credentials


def _registry_config(root: Path, address: str, *, private: bool) -> Path:
    lines = [
        "version: 0.1",
        "log:",
        "  level: warn",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {root / 'data'}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: {address}",
    ]
    if private:
        lines += [
            "  tls:",
            f"    certificate: {root / 'cert.pem'}",
            f"    key: {root / 'key.pem'}",
            "auth:",
            "  htpasswd:",
            "    realm: xcargo-tests",
            f"    path: {root / 'htpasswd'}",
        ]
    config = root / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    return config


def _certificate(root: Path, host: str) -> None:
    address = host.rsplit(":", 1)[0]
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={address}", "-addext", f"subjectAltName=IP:{address}",
            "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


def _wait_for(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    host, port = address.rsplit(":", 1)
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry on {address} stopped: {log.read_text()}")
        try:
            socket.create_connection((host, int(port)), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"docker-registry on {address} did not answer: {log.read_text()}")


@contextmanager
def running_registries() -> Iterator[Registries]:
    root = Path(tempfile.mkdtemp(prefix="xcargo-registries-"))
    processes = []
    saved_bundle = os.environ.get("REQUESTS_CA_BUNDLE")
    try:
        for address, private in ((PUBLIC, False), (PRIVATE, True)):
            home = root / address.replace(":", "_")
            home.mkdir()
            if private:
                _certificate(home, address)
                subprocess.run(
                    ["htpasswd", "-Bbc", str(home / "htpasswd"), LOGIN.username, LOGIN.password],
                    check=True,
                    capture_output=True,
                )
                for engine_certs in ENGINE_CERTS:
                    (engine_certs / address).mkdir(parents=True, exist_ok=True)
                    shutil.copy(home / "cert.pem", engine_certs / address / "ca.crt")
                bundle = root / "ca-bundle.pem"
                # The system's authorities (a proxy's among them, which pip needs) and this one.
                bundle.write_text(SYSTEM_BUNDLE.read_text() + (home / "cert.pem").read_text())
                os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
            log = home / "registry.log"
            process = subprocess.Popen(
                ["docker-registry", "serve", str(_registry_config(home, address, private=private))],
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
            processes.append(process)
            _wait_for(address, process, log)
        yield Registries(PUBLIC, PRIVATE, LOGIN)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        if saved_bundle is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = saved_bundle
        for engine_certs in ENGINE_CERTS:
            shutil.rmtree(engine_certs / PRIVATE, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


def push(engine: Engine, source: str, destination: str, login: Credentials | None = None) -> str:
    """Tag the local image `source` as `destination`, push it, drop the local tag (so the
    engine holds it only if something else names it) and return the pushed digest.
    """
    repository, tag = destination.rsplit(":", 1)
    engine.client.images.get(source).tag(repository, tag)
    digest = ""
    try:
        for message in engine.client.api.push(
            repository,
            tag=tag,
            stream=True,
            decode=True,
            auth_config=login.auth_config() if login else None,
        ):
            if "error" in message:
                raise RuntimeError(f"pushing {destination}: {message['error']}")
            digest = (message.get("aux") or {}).get("Digest", digest)
    finally:
        engine.client.images.remove(destination)
    return digest


def small_image(engine: Engine, tag: str, size: int, labels: dict[str, str]) -> None:
    """A tiny image made FROM scratch: `size` bytes of one file and the labels given, so that
    the catalogue's sizes and labels can be told apart without pushing gigabytes.
    """
    with tempfile.TemporaryDirectory() as context:
        Path(context, "blob").write_bytes(os.urandom(size))
        Path(context, "Dockerfile").write_text("FROM scratch\nCOPY blob /blob\n")
        engine.client.images.build(path=context, tag=tag, labels=labels, rm=True)
