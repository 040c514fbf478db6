"""The fake machine's API socket: once the machine has booted (at the time given), answers
`GET /_ping` with `OK` as Podman's Docker-compatible API does, `/version` and `/info`
with the fields xcargo reads (Podman 5's compatible answers, shortened), and 404 to anything
else.

Usage: api_server.py SOCKET_PATH READY_AT (a Unix time). It stops on SIGTERM (the fake's
`machine stop`) and after ten minutes in any case, so a test that forgets it leaves nothing.
"""

from __future__ import annotations

import json
import os
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

LIFETIME_SECONDS = 600


def _answers() -> dict[str, bytes]:
    """What the machine's Podman answers on the Docker-compatible paths xcargo reads."""
    release = os.environ.get("FAKE_PODMAN_VERSION", "5.6.2")
    version = {
        "Platform": {"Name": "linux/arm64/fedora-42"},
        "Components": [
            {"Name": "Podman Engine", "Version": release, "Details": {"APIVersion": release}}
        ],
        "Version": release,
        "ApiVersion": "1.41",
        "MinAPIVersion": "1.24",
        "Os": "linux",
        "Arch": "arm64",
        "KernelVersion": "6.15.4-200.fc42.aarch64",
    }
    info = {
        "ID": "fake",
        "Containers": 0,
        "Images": 0,
        "Driver": "overlay",
        "CgroupDriver": "systemd",
        "CgroupVersion": "2",
        "MemoryLimit": True,
        "PidsLimit": True,
        "OperatingSystem": "fedora",
        "OSType": "linux",
        "Architecture": "arm64",
        "NCPU": 4,
        "SecurityOptions": ["name=seccomp,profile=default", "name=rootless"],
        "ServerVersion": release,
    }
    return {
        "/_ping": b"OK",
        "/version": json.dumps(version).encode(),
        "/info": json.dumps(info).encode(),
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        known = [body for suffix, body in ANSWERS.items() if path.endswith(suffix)]
        body = known[0] if known else b'{"cause":"not found","message":"not found","response":404}'
        self.send_response(200 if known else 404)
        self.send_header("Api-Version", "1.41")
        self.send_header("Libpod-Api-Version", os.environ.get("FAKE_PODMAN_VERSION", "5.6.2"))
        kind = "text/plain; charset=utf-8" if body == b"OK" else "application/json"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: object) -> None:
        pass


ANSWERS = _answers()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main() -> None:
    path, ready_at = sys.argv[1], float(sys.argv[2])
    deadline = time.time() + LIFETIME_SECONDS
    while time.time() < min(ready_at, deadline):
        time.sleep(0.05)
    if time.time() >= deadline:
        return
    if os.path.exists(path):
        os.unlink(path)
    server = Server(path, Handler)
    threading.Timer(max(deadline - time.time(), 0), server.shutdown).start()
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    main()
