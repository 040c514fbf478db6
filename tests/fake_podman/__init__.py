"""A fake `podman` for the Podman machine tests (see podman.py): a PATH directory whose
`podman` runs it (with this interpreter, started quickly), an environment for it, and the
commands a test uses to set up machines the way a user would have.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

FAKE = Path(__file__).resolve().parent / "podman.py"
VERSIONS = {"4": "4.9.5", "5": "5.6.2"}


@dataclass
class FakePodman:
    """One fake Podman installation: its PATH directory, home, TMPDIR and state."""

    root: Path
    version: str

    @property
    def path_dir(self) -> Path:
        return self.root / "bin"

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{self.path_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(self.root / "home"),
            "TMPDIR": str(self.root / "tmp"),
            "XDG_DATA_HOME": str(self.root / "home" / ".local" / "share"),
            "FAKE_PODMAN_STATE": str(self.root / "state"),
            "FAKE_PODMAN_VERSION": self.version,
        }

    def podman(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.path_dir / "podman"), *args],
            env={**os.environ, **self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start_in_background(self, name: str, boot_seconds: float) -> subprocess.Popen:
        """`podman machine start NAME` run by someone else, still booting."""
        return subprocess.Popen(
            [str(self.path_dir / "podman"), "machine", "start", name],
            env={**os.environ, **self.env, "FAKE_PODMAN_BOOT_SECONDS": str(boot_seconds)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def state(self) -> dict:
        path = self.root / "state" / "state.json"
        return json.loads(path.read_text()) if path.exists() else {"machines": {}}

    def stop_servers(self) -> None:
        for machine in self.state()["machines"].values():
            if machine.get("server_pid"):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(machine["server_pid"], signal.SIGTERM)


def make_fake_podman(version: str) -> FakePodman:
    """A fake Podman in a short temporary directory (Unix socket paths are limited to about
    100 characters), its `podman` on a PATH directory of its own.
    """
    root = Path(tempfile.mkdtemp(prefix="fp", dir="/tmp"))
    fake = FakePodman(root, VERSIONS[version])
    fake.path_dir.mkdir()
    for sub in ("home", "tmp", "state"):
        (root / sub).mkdir()
    podman = fake.path_dir / "podman"
    podman.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{FAKE}" "$@"\n')
    podman.chmod(0o755)
    return fake
