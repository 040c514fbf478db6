"""The Podman machine: the Linux VM Podman needs on macOS, found, created, started and waited
for so that a build finds an engine (FR4).

Everything goes through the `podman` command as a person would type it: `podman machine list
--format json` says which machines exist and in what state, `podman machine inspect` where the
machine's API socket is (never a guess: Podman 5 puts it under `$TMPDIR/podman/NAME-api.sock`,
Podman 4 under `~/.local/share/containers/podman/machine/qemu/podman.sock`), `init` and `start`
make and boot one. Each step is said through `on_step` before it happens; a step the
configuration forbids (`auto_create`, `auto_start = false`) is an error whose hint is the
command to run instead.

The JSON of `machine list` is the same shape in Podman 4 and 5 (Memory, DiskSize and, from 5.6,
Swap are strings of bytes; CPUs and Port numbers); what differs is read here: while a machine
starts, Podman 4 says Running false and Starting true, Podman 5 Running and Starting true.
"Currently running" exists only in the human table, so state comes from the two booleans.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from runtimes.errors import EngineUnavailable

if TYPE_CHECKING:
    from runtimes.config.schema import PodmanMachineConfig

# The name `podman machine init` gives a machine when none is given.
DEFAULT_MACHINE_NAME = "podman-machine-default"
# How long each podman command may take: init downloads a VM image of about 1 GB.
LIST_TIMEOUT_SECONDS = 30
INIT_TIMEOUT_SECONDS = 1800
START_TIMEOUT_SECONDS = 600
STOP_TIMEOUT_SECONDS = 120
SOCKET_TIMEOUT_SECONDS = 60
MachineState = Literal["running", "starting", "stopped"]


class MachineError(EngineUnavailable):
    """Podman's machine could not be found, made, started or reached."""


@dataclass(frozen=True)
class Machine:
    """One entry of `podman machine list --format json`; sizes in bytes."""

    name: str
    default: bool
    created: str
    running: bool
    starting: bool
    last_up: str
    vm_type: str
    cpus: int
    memory: int
    disk_size: int
    port: int
    remote_username: str
    identity_path: str
    user_mode_networking: bool
    stream: str = ""
    swap: int | None = None  # Podman 5.6 and later

    @property
    def state(self) -> MachineState:
        if self.starting:
            return "starting"
        return "running" if self.running else "stopped"

    @property
    def memory_mib(self) -> int:
        return self.memory // 2**20

    @property
    def disk_size_gib(self) -> int:
        return self.disk_size // 2**30

    @property
    def last_up_text(self) -> str:
        """LastUp as a person reads it: podman writes year 1 for a machine never started."""
        return "never" if self.last_up.startswith("0001-01-01") else self.last_up


@dataclass(frozen=True)
class MachineReady:
    """A running machine and the URL of its API socket."""

    machine: Machine
    socket_path: str

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"


Step = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


# --- Reading what podman says.


def parse_machine_list(text: str) -> list[Machine]:
    """The machines of `podman machine list --format json` (Podman 4 or 5)."""
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as error:
        raise MachineError(
            f"`podman machine list --format json` printed no JSON: {error}"
        ) from None
    if not isinstance(rows, list):
        raise MachineError("`podman machine list --format json` printed no list of machines")
    return [_machine(row) for row in rows]


def _machine(row: Any) -> Machine:
    if not isinstance(row, dict) or not isinstance(row.get("Name"), str):
        raise MachineError(f"`podman machine list` listed a machine without a name: {row!r}")
    try:
        return Machine(
            name=row["Name"],
            default=_flag(row, "Default"),
            created=str(row.get("Created", "")),
            running=_flag(row, "Running"),
            starting=_flag(row, "Starting"),
            last_up=str(row.get("LastUp", "")),
            vm_type=str(row.get("VMType", "")),
            cpus=_number(row, "CPUs"),
            memory=_number(row, "Memory"),
            disk_size=_number(row, "DiskSize"),
            port=_number(row, "Port"),
            remote_username=str(row.get("RemoteUsername", "")),
            identity_path=str(row.get("IdentityPath", "")),
            user_mode_networking=_flag(row, "UserModeNetworking"),
            stream=str(row.get("Stream", "")),
            swap=_number(row, "Swap") if "Swap" in row else None,
        )
    except ValueError as error:
        raise MachineError(f"machine {row['Name']!r} in `podman machine list`: {error}") from None


def _flag(row: dict[str, Any], key: str) -> bool:
    value = row.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key} is {value!r}, not true or false")
    return value


def _number(row: dict[str, Any], key: str) -> int:
    """A count or a size: podman writes sizes as strings of bytes, counts as numbers."""
    value = row.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{key} is {value!r}, not a number")
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError(f"{key} is {value!r}, not a number")
    if int(value) < 0:
        raise ValueError(f"{key} is {value!r}, below zero")
    return int(value)


def parse_socket(text: str, name: str) -> str:
    """`ConnectionInfo.PodmanSocket` of `podman machine inspect NAME`: its symlink when podman
    made one (a path too long for a socket), else its path.
    """
    try:
        entries = json.loads(text)
        socket_file = entries[0]["ConnectionInfo"]["PodmanSocket"]
    except (json.JSONDecodeError, LookupError, TypeError):
        raise MachineError(
            f"`podman machine inspect {name}` did not say where the machine's API socket is"
        ) from None
    path = (socket_file or {}).get("symlink") or (socket_file or {}).get("Path")
    if not isinstance(path, str) or not path:
        raise MachineError(f"`podman machine inspect {name}` names no API socket")
    return path


# --- Running podman.


@dataclass(frozen=True)
class Podman:
    """The `podman` command (a path, or a name looked up on PATH)."""

    executable: str = "podman"

    def run(self, args: Sequence[str], timeout: float, what: str) -> str:
        command = [self.executable, *args]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise MachineError(
                f"`{shell_line(args)}` did not finish within {timeout:g} s while {what}",
                hint=f"see what podman says: {shell_line(args)}",
            ) from None
        except OSError as error:
            raise MachineError(f"could not run podman: {error}", hint=INSTALL_HINT) from None
        if done.returncode != 0:
            raise MachineError(
                f"{what}: {podman_message(done.stderr)} (`{shell_line(args)}` exited with "
                f"status {done.returncode})"
            )
        return done.stdout


def podman_message(stderr: str) -> str:
    """Podman's own words: its `Error: ...` lines, else the last line it wrote."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error: ")]
    return "; ".join(errors) or (lines[-1] if lines else "podman said nothing")


def shell_line(args: Sequence[str]) -> str:
    return " ".join(["podman", *args])


INSTALL_HINT = "install Podman (`brew install podman`) or Docker Desktop"


def list_machines(podman: Podman | None = None) -> list[Machine]:
    podman = podman or Podman()
    args = ["machine", "list", "--format", "json"]
    return parse_machine_list(podman.run(args, LIST_TIMEOUT_SECONDS, "listing Podman machines"))


def machine_socket(name: str, podman: Podman | None = None) -> str:
    """The API socket of machine NAME, as `podman machine inspect` says."""
    podman = podman or Podman()
    text = podman.run(["machine", "inspect", name], LIST_TIMEOUT_SECONDS, f"inspecting {name}")
    return parse_socket(text, name)


def choose(machines: Sequence[Machine], name: str | None = None) -> Machine | None:
    """The machine builds use: the one named in the configuration, else the default one
    (of the default system connection), else podman's default name, else the only one.
    """
    by_name = {machine.name: machine for machine in machines}
    if name is not None:
        return by_name.get(name)
    defaults = [machine for machine in machines if machine.default]
    if defaults:
        return defaults[0]
    if DEFAULT_MACHINE_NAME in by_name:
        return by_name[DEFAULT_MACHINE_NAME]
    return machines[0] if len(machines) == 1 else None


def init_args(config: PodmanMachineConfig, name: str | None = None) -> list[str]:
    args = ["machine", "init", "--cpus", str(config.cpus), "--memory", str(config.memory)]
    args += ["--disk-size", str(config.disk_size)]
    return [*args, name] if name else args


def start_args(name: str) -> list[str]:
    return ["machine", "start", name]


def applies(platform: str = sys.platform) -> bool:
    """Machines are for macOS; elsewhere Podman runs containers itself."""
    return platform == "darwin"


def podman_installed() -> str | None:
    return shutil.which("podman")


# --- The steps.


def create_machine(
    config: PodmanMachineConfig,
    on_step: Step = _quiet,
    *,
    name: str | None = None,
    podman: Podman | None = None,
) -> Machine:
    podman = podman or Podman()
    name = name or config.name
    shown = name or DEFAULT_MACHINE_NAME
    on_step(
        f"creating Podman machine {shown} ({config.cpus} CPUs, {config.memory} MB memory, "
        f"{config.disk_size} GB disk); the first time downloads its image, a few minutes"
    )
    podman.run(init_args(config, name), INIT_TIMEOUT_SECONDS, f"creating Podman machine {shown}")
    created = choose(list_machines(podman), shown)
    if created is None:
        raise MachineError(f"`podman machine init` succeeded but machine {shown} is not listed")
    on_step(f"Podman machine {shown} created")
    return created


def start_machine(
    machine: Machine,
    on_step: Step = _quiet,
    *,
    podman: Podman | None = None,
    start_timeout: float = START_TIMEOUT_SECONDS,
    socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
) -> MachineReady:
    """Start a stopped machine and wait until its API answers."""
    podman = podman or Podman()
    on_step(f"starting Podman machine {machine.name} (its VM boots, up to a minute)")
    try:
        podman.run(
            start_args(machine.name), start_timeout, f"starting Podman machine {machine.name}"
        )
    except MachineError as error:
        raise MachineError(
            error.message,
            hint=f"see what podman says: podman machine start {machine.name}; if it hangs, "
            f"podman machine stop {machine.name} first",
        ) from None
    return wait_for_socket(machine.name, on_step, podman=podman, timeout=socket_timeout)


def stop_machine(machine: Machine, on_step: Step = _quiet, *, podman: Podman | None = None) -> None:
    podman = podman or Podman()
    on_step(f"stopping Podman machine {machine.name}")
    podman.run(["machine", "stop", machine.name], STOP_TIMEOUT_SECONDS, f"stopping {machine.name}")
    on_step(f"Podman machine {machine.name} stopped")


def wait_until_started(
    machine: Machine,
    on_step: Step = _quiet,
    *,
    podman: Podman | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
    poll_seconds: float = 0.5,
) -> Machine:
    """Wait for a machine someone else is starting to finish starting."""
    podman = podman or Podman()
    on_step(f"Podman machine {machine.name} is starting; waiting for it")
    deadline = time.monotonic() + timeout
    while True:
        current = choose(list_machines(podman), machine.name)
        if current is None:
            raise MachineError(f"Podman machine {machine.name} went away while starting")
        if current.state != "starting":
            return current
        if time.monotonic() >= deadline:
            raise MachineError(
                f"Podman machine {machine.name} was still starting after {timeout:g} s",
                hint=f"podman machine stop {machine.name} && podman machine start {machine.name}",
            )
        time.sleep(poll_seconds)


def wait_for_socket(
    name: str,
    on_step: Step = _quiet,
    *,
    podman: Podman | None = None,
    timeout: float = SOCKET_TIMEOUT_SECONDS,
    poll_seconds: float = 0.2,
) -> MachineReady:
    """Wait until machine NAME's API socket (from `podman machine inspect`) answers `_ping`."""
    podman = podman or Podman()
    path = machine_socket(name, podman)
    on_step(f"waiting for Podman machine {name}'s API at {path}")
    deadline = time.monotonic() + timeout
    while not socket_answers(path):
        if time.monotonic() >= deadline:
            raise MachineError(
                f"Podman machine {name} runs, but its API socket {path} did not answer "
                f"within {timeout:g} s",
                hint=f"podman machine stop {name} && podman machine start {name}",
            )
        time.sleep(poll_seconds)
    machine = choose(list_machines(podman), name)
    if machine is None:
        raise MachineError(f"Podman machine {name} is no longer listed")
    on_step(f"Podman machine {name} is ready: unix://{path}")
    return MachineReady(machine, path)


def socket_answers(path: str, timeout: float = 2.0) -> bool:
    """Whether the Docker-compatible API on the Unix socket at PATH answers GET /_ping."""
    connection = _UnixHTTPConnection(path, timeout)
    try:
        connection.request("GET", "/_ping")
        response = connection.getresponse()
        return response.status == 200 and response.read().strip() == b"OK"
    except OSError:
        return False
    except http.client.HTTPException:
        return False
    finally:
        connection.close()


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def ensure_machine(
    config: PodmanMachineConfig,
    on_step: Step = _quiet,
    *,
    platform: str = sys.platform,
    podman: Podman | None = None,
    start_timeout: float = START_TIMEOUT_SECONDS,
    socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
) -> MachineReady | None:
    """A running Podman machine whose API answers, created and started as the configuration
    allows; None where machines do not apply (not macOS, or no podman installed).
    """
    if not applies(platform):
        return None
    if podman is None:
        if podman_installed() is None:
            return None
        podman = Podman()
    on_step("looking for a Podman machine (`podman machine list`)")
    machines = list_machines(podman)
    machine = choose(machines, config.name)
    if machine is None:
        command = shell_line(init_args(config, config.name))
        if not config.auto_create:
            raise MachineError(
                describe_missing(machines, config.name) + " and auto_create = false in xcargo.toml",
                hint=f"create it: {command} && podman machine start {config.name or ''}".rstrip(),
            )
        on_step(describe_missing(machines, config.name))
        machine = create_machine(config, on_step, podman=podman)
    if machine.state == "starting":
        machine = wait_until_started(machine, on_step, podman=podman, timeout=start_timeout)
    if machine.state == "running":
        on_step(f"Podman machine {machine.name} is running")
        return wait_for_socket(machine.name, on_step, podman=podman, timeout=socket_timeout)
    others = [
        other.name for other in machines if other.name != machine.name and other.state != "stopped"
    ]
    if others:
        raise MachineError(
            f"Podman machine {machine.name} is stopped and {others[0]} runs: Podman runs one "
            "machine at a time",
            hint=f"stop it (podman machine stop {others[0]}), or build on it: name = "
            f'"{others[0]}" under [container.podman_machine] in xcargo.toml',
        )
    if not config.auto_start:
        raise MachineError(
            f"Podman machine {machine.name} is stopped and auto_start = false in xcargo.toml",
            hint=f"start it: {shell_line(start_args(machine.name))}",
        )
    return start_machine(
        machine, on_step, podman=podman, start_timeout=start_timeout, socket_timeout=socket_timeout
    )


def describe_missing(machines: Sequence[Machine], name: str | None) -> str:
    if name is not None:
        return f"no Podman machine named {name}"
    if not machines:
        return "no Podman machine exists"
    names = ", ".join(machine.name for machine in machines)
    return f"no default Podman machine among {names}"
