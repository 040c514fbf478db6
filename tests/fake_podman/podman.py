#!/usr/bin/env python3
"""A stand-in for `podman machine` on macOS, answering as Podman 4 (4.9, QEMU) and Podman 5
(5.6, Apple Hypervisor) do, for the tests of xcargo's Podman machine set-up on Linux.

What it answers, and in which words, comes from Podman's own source (`cmd/podman/machine/`,
`pkg/machine/define`, `pkg/domain/entities.ListReporter`, `cmd/podman/root.go`):

- `podman --version`: `podman version X.Y.Z`.
- `podman machine list --format json` (or `ls`): a JSON array indented by 4 spaces with no
  newline after it, one object per machine with Name, Default, Created, Running, Starting,
  LastUp, Stream, VMType, CPUs, Memory, DiskSize, Port, RemoteUsername, IdentityPath,
  UserModeNetworking, and Swap from 5.6 on. Memory, DiskSize and Swap are strings of bytes in
  both versions; CPUs and Port are numbers; times are RFC 3339 with nanoseconds, a machine
  never started has LastUp "0001-01-01T00:00:00Z". VMType is "qemu" on 4, "applehv" on 5.
  While a machine starts, Starting is true; Podman 4 then says Running false (QEMU's monitor
  reports "starting"), Podman 5 Running true (the hypervisor already runs). Default is the
  machine of the default system connection: the first machine made.
- `podman machine inspect [NAME…]`: a JSON array indented by 5 spaces with a newline;
  `ConnectionInfo.PodmanSocket.Path` is `$TMPDIR/podman/NAME-api.sock` on 5 and
  `$XDG_DATA_HOME/containers/podman/machine/qemu/podman.sock` (one for every machine) on 4;
  `Resources` holds CPUs, Memory in MiB and DiskSize in GiB as numbers; State is "running",
  "starting" or "stopped" (on 4 "" for a machine whose QEMU is not running).
- `podman machine init [--cpus N] [--memory MiB] [--disk-size GiB] [--now] [NAME]`, `start
  [NAME]`, `stop [NAME]`, `system connection default NAME`.
- Errors: `Error: MESSAGE` on stderr and exit status 125, with Podman's messages:
  `NAME: VM does not exist`, `NAME: VM already exists`, on 4 `cannot start VM NAME: VM already
  running or starting` and `cannot start VM A. VM B is currently running or starting: only one
  VM can be active at a time`, on 5 `unable to start "A": machine B: VM already running or
  starting`; a failed image download as each version words it.

`start` marks the machine starting, starts a small process (`api_server.py`) that serves the
API's `GET /_ping` on the machine's socket once the machine has booted, then waits for the boot
as the real command does. State lives in `$FAKE_PODMAN_STATE/state.json`.

Knobs (environment): FAKE_PODMAN_VERSION (default 5.6.2); FAKE_PODMAN_BOOT_SECONDS (how long
a start takes, default 0); FAKE_PODMAN_START_HANGS=1 (start never finishes and the socket never
answers); FAKE_PODMAN_OFFLINE=1 (init cannot download the machine image); FAKE_PODMAN_HOST_MEMORY_MB
(the host's memory, which 5.2 and later check `--memory` against).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_MACHINE = "podman-machine-default"
ZERO_TIME = "0001-01-01T00:00:00Z"
MAX_SOCKET_PATH = 103
HERE = Path(__file__).resolve().parent


class PodmanError(Exception):
    pass


def version() -> tuple[int, ...]:
    return tuple(int(part) for part in os.environ.get("FAKE_PODMAN_VERSION", "5.6.2").split("."))


def go_time(moment: float | None) -> str:
    """Go's time.MarshalText: RFC 3339 with nanoseconds, trailing zeros trimmed, Z for UTC."""
    if moment is None:
        return ZERO_TIME
    text = datetime.fromtimestamp(moment, UTC).isoformat()
    stamp, _, _offset = text.partition("+")
    if "." in stamp:
        stamp = stamp.rstrip("0").rstrip(".")
    return stamp + "Z"


# --- State, shared by every call through a locked JSON file.


def state_dir() -> Path:
    return Path(os.environ["FAKE_PODMAN_STATE"])


class State:
    def __enter__(self) -> dict:
        state_dir().mkdir(parents=True, exist_ok=True)
        self._lock = open(state_dir() / "state.lock", "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        path = state_dir() / "state.json"
        self.data = json.loads(path.read_text()) if path.exists() else {}
        self.data.setdefault("machines", {})
        self.data.setdefault("default_connection", None)
        return self.data

    def __exit__(self, *exc: object) -> None:
        (state_dir() / "state.json").write_text(json.dumps(self.data, indent=2))
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()


def status(machine: dict) -> str:
    if machine["status"] == "running" and time.time() < machine["ready_at"]:
        return "starting"
    return machine["status"]


# --- Paths, as each version lays them out.


def home() -> Path:
    return Path(os.environ["HOME"])


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or home() / ".local" / "share")


def socket_file(name: str) -> dict:
    """A VMFile: Path, and a symlink under ~/.podman when the path is too long for a socket."""
    if version() >= (5,):
        path = Path(os.environ.get("TMPDIR", "/tmp")) / "podman" / f"{name}-api.sock"
    else:
        path = data_home() / "containers" / "podman" / "machine" / "qemu" / "podman.sock"
    entry: dict = {"Path": str(path)}
    if len(str(path)) > MAX_SOCKET_PATH:
        entry["symlink"] = str(home() / ".podman" / path.name)
    return entry


def socket_path(name: str) -> Path:
    entry = socket_file(name)
    return Path(entry.get("symlink", entry["Path"]))


def identity_path(name: str) -> str:
    if version() >= (5,):
        return str(data_home() / "containers" / "podman" / "machine" / "machine")
    return str(home() / ".ssh" / name)


# --- Commands.


def machine_list(state: dict, args: list[str]) -> None:
    if "--format" not in args or args[args.index("--format") + 1] not in ("json", "{{json .}}"):
        raise PodmanError("this fake answers only `podman machine list --format json`")
    rows = []
    for name, machine in state["machines"].items():
        now = status(machine)
        running = now == "running" or (now == "starting" and version() >= (5,))
        row = {
            "Name": name,
            "Default": name == state["default_connection"],
            "Created": go_time(machine["created"]),
            "Running": running,
            "Starting": now == "starting",
            "LastUp": go_time(machine["last_up"]),
            "Stream": "default" if version() >= (5,) else "testing",
            "VMType": "applehv" if version() >= (5,) else "qemu",
            "CPUs": machine["cpus"],
            "Memory": str(machine["memory"] * 1024 * 1024),
        }
        if version() >= (5, 6):
            row["Swap"] = "0"
        row |= {
            "DiskSize": str(machine["disk_size"] * 1024**3),
            "Port": machine["port"],
            "RemoteUsername": "core",
            "IdentityPath": identity_path(name),
            "UserModeNetworking": True,
        }
        rows.append(row)
    rows.sort(key=lambda row: row["LastUp"], reverse=True)
    rows.sort(key=lambda row: not row["Running"])
    sys.stdout.write(json.dumps(rows, indent=4))


def machine_inspect(state: dict, args: list[str]) -> None:
    names = [arg for arg in args if not arg.startswith("-")] or [DEFAULT_MACHINE]
    found, errors = [], []
    for name in names:
        machine = state["machines"].get(name)
        if machine is None:
            errors.append(f"{name}: VM does not exist")
            continue
        now = status(machine)
        if version() < (5,) and now == "stopped":
            now = ""
        resources = {
            "CPUs": machine["cpus"],
            "DiskSize": machine["disk_size"],
            "Memory": machine["memory"],
            "USBs": [],
        }
        ssh = {
            "IdentityPath": identity_path(name),
            "Port": machine["port"],
            "RemoteUsername": "core",
        }
        connection = {"PodmanSocket": socket_file(name), "PodmanPipe": None}
        if version() >= (5,):
            config_dir = home() / ".config" / "containers" / "podman" / "machine" / "applehv"
            info = {"ConfigDir": {"Path": str(config_dir)}}
        else:
            config_dir = home() / ".config" / "containers" / "podman" / "machine" / "qemu"
            info = {"ConfigPath": {"Path": str(config_dir / f"{name}.json")}}
        info |= {"ConnectionInfo": connection, "Created": go_time(machine["created"])}
        if version() < (5,):
            qemu_dir = data_home() / "containers" / "podman" / "machine" / "qemu"
            info["Image"] = {
                "IgnitionFilePath": {"Path": str(config_dir / f"{name}.ign")},
                "ImageStream": "testing",
                "ImagePath": {"Path": str(qemu_dir / f"{name}_fedora-coreos-qemu.aarch64.qcow2")},
            }
        info |= {
            "LastUp": go_time(machine["last_up"]),
            "Name": name,
            "Resources": resources,
            "SSHConfig": ssh,
            "State": now,
            "UserModeNetworking": True,
            "Rootful": False,
        }
        if version() >= (5, 1):
            info["Rosetta"] = True
        found.append(info)
    sys.stdout.write(json.dumps(found, indent=5) + "\n")
    if errors:
        for message in errors[:-1]:
            sys.stderr.write(f"Error: {message}\n")
        raise PodmanError(errors[-1])


def _option(args: list[str], flag: str, default: int) -> int:
    for index, arg in enumerate(args):
        if arg == flag:
            return int(args[index + 1])
        if arg.startswith(flag + "="):
            return int(arg.partition("=")[2])
    return default


def _positional(args: list[str], valued: tuple[str, ...]) -> list[str]:
    rest, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in valued:
            skip = True
        elif not arg.startswith("-"):
            rest.append(arg)
    return rest


def machine_init(state: dict, args: list[str]) -> bool:
    names = _positional(args, ("--cpus", "--memory", "-m", "--disk-size", "--image", "--swap"))
    name = names[0] if names else DEFAULT_MACHINE
    if name in state["machines"]:
        raise PodmanError(f"{name}: VM already exists")
    memory = _option(args, "--memory", 2048)
    host_memory = os.environ.get("FAKE_PODMAN_HOST_MEMORY_MB")
    if version() >= (5, 2) and host_memory and memory > int(host_memory):
        raise PodmanError(
            f"requested amount of memory ({memory} MB) greater than total system memory "
            f"({host_memory} MB)"
        )
    if os.environ.get("FAKE_PODMAN_OFFLINE"):
        if version() >= (5,):
            release = ".".join(str(part) for part in version()[:2])
            raise PodmanError(
                f"failed to pull quay.io/podman/machine-os:{release}: initializing source "
                f"docker://quay.io/podman/machine-os:{release}: pinging container registry "
                'quay.io: Get "https://quay.io/v2/": dial tcp: lookup quay.io: no such host'
            )
        raise PodmanError(
            'Get "https://builds.coreos.fedoraproject.org/streams/testing.json": dial tcp: '
            "lookup builds.coreos.fedoraproject.org: no such host"
        )
    state["machines"][name] = {
        "cpus": _option(args, "--cpus", 4 if version() >= (5,) else 1),
        "memory": memory,
        "disk_size": _option(args, "--disk-size", 100),
        "created": time.time(),
        "last_up": None,
        "port": random.randint(49152, 65535),
        "status": "stopped",
        "ready_at": 0.0,
        "server_pid": None,
    }
    if state["default_connection"] is None:
        state["default_connection"] = name
    print("Machine init complete")
    if "--now" in args:
        return True
    extra = "" if name == DEFAULT_MACHINE else f" {name}"
    print(f"To start your machine run:\n\n\tpodman machine start{extra}\n")
    return False


def machine_start(state: dict, args: list[str]) -> tuple[str, float]:
    """Marks the machine starting and serves its socket; the caller waits for the boot."""
    names = _positional(args, ())
    name = names[0] if names else DEFAULT_MACHINE
    if name not in state["machines"]:
        raise PodmanError(f"{name}: VM does not exist")
    active = [other for other, machine in state["machines"].items() if status(machine) != "stopped"]
    if active:
        other = active[0]
        if version() >= (5,):
            raise PodmanError(
                f'unable to start "{name}": machine {other}: VM already running or starting'
            )
        if other == name:
            raise PodmanError(f"cannot start VM {name}: VM already running or starting")
        raise PodmanError(
            f"cannot start VM {name}. VM {other} is currently running or starting: only one VM "
            "can be active at a time"
        )
    if "-q" not in args and "--quiet" not in args:
        print(f'Starting machine "{name}"', flush=True)
    hangs = bool(os.environ.get("FAKE_PODMAN_START_HANGS"))
    boot = float(os.environ.get("FAKE_PODMAN_BOOT_SECONDS", "0"))
    machine = state["machines"][name]
    now = time.time()
    machine |= {"status": "running", "last_up": now, "ready_at": now + (1e9 if hangs else boot)}
    path = socket_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, str(HERE / "api_server.py"), str(path), str(machine["ready_at"])],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    machine["server_pid"] = server.pid
    return name, machine["ready_at"]


def machine_stop(state: dict, args: list[str]) -> None:
    names = _positional(args, ())
    name = names[0] if names else DEFAULT_MACHINE
    machine = state["machines"].get(name)
    if machine is None:
        raise PodmanError(f"{name}: VM does not exist")
    if machine.get("server_pid"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(machine["server_pid"], signal.SIGTERM)
    socket_path(name).unlink(missing_ok=True)
    machine |= {"status": "stopped", "ready_at": 0.0, "server_pid": None}
    print(f'Machine "{name}" stopped successfully')


def connection_default(state: dict, args: list[str]) -> None:
    name = args[0]
    if name not in state["machines"]:
        raise PodmanError(
            f'"{name}" destination is not defined. See "podman system connection add" to add '
            "a connection"
        )
    state["default_connection"] = name


def run(args: list[str]) -> None:
    if args in (["--version"], ["-v"]):
        print(f"podman version {'.'.join(str(part) for part in version())}")
        return
    if args[:1] == ["machine"] and args[1:2] in (["list"], ["ls"]):
        with State() as state:
            machine_list(state, args[2:])
    elif args[:2] == ["machine", "inspect"]:
        with State() as state:
            machine_inspect(state, args[2:])
    elif args[:2] == ["machine", "init"]:
        with State() as state:
            now = machine_init(state, args[2:])
        if now:
            run(["machine", "start", *_positional(args[2:], ("--cpus", "--memory", "--disk-size"))])
    elif args[:2] == ["machine", "start"]:
        with State() as state:
            name, ready_at = machine_start(state, args[2:])
        while time.time() < ready_at:  # the real command waits for the VM to answer
            time.sleep(0.05)
        print(f"API forwarding listening on: {socket_path(name)}")
        print(f'Machine "{name}" started successfully')
    elif args[:2] == ["machine", "stop"]:
        with State() as state:
            machine_stop(state, args[2:])
    elif args[:3] == ["system", "connection", "default"]:
        with State() as state:
            connection_default(state, args[3:])
    else:
        raise PodmanError(f"unrecognized command `podman {' '.join(args)}`")


def main() -> int:
    try:
        run(sys.argv[1:])
    except PodmanError as error:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {error}\n")
        return 125
    return 0


if __name__ == "__main__":
    sys.exit(main())
