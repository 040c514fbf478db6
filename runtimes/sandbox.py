"""One hardened container per build phase, streamed while it runs and never left behind.

The container is a context manager: entering removes a stale container of the same name (left
by a crashed run) but refuses to touch one that still runs, since that is a concurrent build of
the same project and target and they would share a target volume; leaving kills and removes it
whatever happened. Limits are set on every container: they are hardening, and Podman on some
hosts cannot start a container without explicit ulimits at all.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType

import docker
import requests
import urllib3
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.types import LogConfig, Mount, Ulimit
from docker.utils import decode_json_header

from runtimes import naming, vocabulary
from runtimes.disk_watch import DiskWatch
from runtimes.engine import Engine
from runtimes.errors import EngineUnavailable, XcargoError
from runtimes.sizes import human_size, parse_size

LineCallback = Callable[[str], None]
logger = logging.getLogger(__name__)

SOURCE_DIR = "/project"
# What cargo sees as CARGO_HOME in every phase: the shared cache volume itself while fetching;
# while building (crate code runs), a directory of the build's own whose `registry` and `git`
# lead to the shared volume, mounted read-only at SHARED_CARGO_HOME_DIR.
CARGO_HOME_DIR = "/xcargo/cargo-home"
SHARED_CARGO_HOME_DIR = "/xcargo/shared/cargo-home"
SHARED_SUBDIRS = ("registry", "git")
TARGET_DIR = "/xcargo/target"
COMPILER_CACHE_DIR = "/xcargo/compiler-cache"
CA_BUNDLE_PATH = "/etc/xcargo/ca-certificates.crt"
# What a log stream raises when its container or engine goes away mid-read.
_STREAM_ERRORS = (
    APIError,
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
)
# One log file per container, large enough never to rotate under a build.
_UNROTATED_LOG = {"max-size": "4g", "max-file": "1"}


class BuildStopped(XcargoError):
    """The engine stopped a build before cargo finished: a limit it reached."""


class BuildTimedOut(BuildStopped):
    """The build ran past its time limit."""

    kind = vocabulary.TIMEOUT


class BuildOutOfMemory(BuildStopped):
    """The build was killed at its memory limit."""

    kind = vocabulary.MEMORY


class BuildDiskFull(BuildStopped):
    """The build wrote more into its target cache than its disk limit."""

    kind = vocabulary.DISK


class BuildBusy(XcargoError):
    """A build of the same project and target is already running on this engine."""

    kind = vocabulary.BUSY


@dataclass(frozen=True)
class Limits:
    """Resource limits of a build container; the defaults fit a 2-core, 4 GiB build."""

    memory: str = "4g"
    pids: int = 4096
    nofile: int = 20000
    nproc: int = 4096
    tmp_size: str = "1g"
    # What a build may hold in its target cache (binary units, like memory).
    disk: str = "20g"

    @property
    def disk_bytes(self) -> int:
        return parse_size(self.disk)


@dataclass(frozen=True)
class ContainerSpec:
    """Everything that defines one phase's container."""

    name: str
    image: str
    command: list[str]
    mounts: list[Mount]
    environment: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    network: bool = False
    limits: Limits = field(default_factory=Limits)
    working_dir: str = SOURCE_DIR
    # Directories only this container sees and may write (small, in memory, gone with it).
    private_dirs: tuple[str, ...] = ()
    # Writable cache directories whose size is held to `limits.disk` while the container runs.
    disk_watch: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhaseOutcome:
    exit_code: int
    seconds: float


def create_kwargs(spec: ContainerSpec, engine: Engine) -> dict[str, object]:
    """The hardened create request: no capabilities, no privilege gain, read-only root."""
    limits = spec.limits
    kwargs: dict[str, object] = {
        "image": spec.image,
        "command": spec.command,
        "name": spec.name,
        "labels": dict(spec.labels),
        "environment": dict(spec.environment),
        "working_dir": spec.working_dir,
        "mounts": spec.mounts,
        "network_mode": "bridge" if spec.network else "none",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": {
            "/tmp": f"rw,exec,nosuid,size={limits.tmp_size}",
            **{path: f"rw,nosuid,nodev,size={limits.tmp_size}" for path in spec.private_dirs},
        },
        "ulimits": [
            Ulimit(name="nofile", soft=limits.nofile, hard=limits.nofile),
            Ulimit(name="nproc", soft=limits.nproc, hard=limits.nproc),
        ],
        "detach": True,
    }
    if engine.relabel_binds:
        kwargs.update(_relabelled_binds(spec.mounts))
    if engine.kind == "docker":
        # The log is streamed from the engine's log file; a daemon set to rotate it (max-size)
        # ends a follower's stream at the first rotation and the rest of a long log is lost.
        kwargs["log_config"] = LogConfig(type=LogConfig.types.JSON, config=_UNROTATED_LOG)
    if engine.memory_limit_supported:
        kwargs["mem_limit"] = limits.memory
        kwargs["memswap_limit"] = limits.memory
    if engine.pids_limit_supported:
        kwargs["pids_limit"] = limits.pids
    return kwargs


def _relabelled_binds(mounts: list[Mount]) -> dict[str, object]:
    """The bind mounts as `volumes` (the engine's Binds, `src:dst:ro,z`), the others as
    `mounts`: the Mounts API has no SELinux relabelling, the Binds syntax has `z` (the shared
    label, since several builds read one source).
    """
    binds = [mount for mount in mounts if mount["Type"] == "bind"]
    return {
        "mounts": [mount for mount in mounts if mount["Type"] != "bind"],
        # docker-py's dict form: its list form names the container path wrongly to Podman.
        "volumes": {
            mount["Source"]: {
                "bind": mount["Target"],
                "mode": "ro,z" if mount["ReadOnly"] else "z",
            }
            for mount in binds
        },
    }


def _unreadable_bind(engine: Engine, spec: ContainerSpec, error: APIError) -> XcargoError | None:
    """What to say when a rootless engine may not read a directory bound into the container:
    it runs as a user of its own, which sees only what that user may read.
    """
    message = str(error.explanation or "")
    sources = [mount["Source"] for mount in spec.mounts if mount["Type"] == "bind"]
    if not engine.rootless or not sources or "permission denied" not in message.lower():
        return None
    where = next((source for source in sources if source in message), ", ".join(sources))
    return XcargoError(
        f"the engine ({engine.kind}, rootless) may not read {where}: it runs as a user of its "
        "own, which sees only the directories that user can read",
        hint="build as the user who runs the engine, or make the project (and the "
        "directories above it) readable by that user",
    )


class PhaseContainer:
    """A build phase's container, created on enter and removed on exit."""

    def __init__(self, engine: Engine, spec: ContainerSpec) -> None:
        self.engine = engine
        self.spec = spec
        self.container: Container | None = None

    def __enter__(self) -> PhaseContainer:
        remove_stale(self.engine.client, self.spec.name)
        try:
            self.container = self.engine.client.containers.create(
                **create_kwargs(self.spec, self.engine)
            )
        except APIError as error:
            raise _unreadable_bind(self.engine, self.spec, error) or error from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.container is not None:
            remove_container(self.container)

    def run(self, on_line: LineCallback, *, timeout: float) -> PhaseOutcome:
        """Start the container, stream its output line by line, wait for it within `timeout`.

        Lines reach `on_line` as the container prints them, from a reader thread attached
        to the container (a logs "follow" stream loses lines on Podman 4 when the reader falls
        behind, and on Docker at a log rotation), so a long build shows progress instead of
        one burst at the end. stdout and stderr are split into lines separately: merged, a
        line written in two pieces on one could be cut by the other (cargo's JSON messages
        on stdout, its log on stderr). When the container has ended, each stream's log is
        read once more past what the live stream delivered, so that an attach cut short
        never loses the end.
        """
        assert self.container is not None, "use PhaseContainer as a context manager"
        started = time.monotonic()
        streams = _OutputStreams(on_line)
        live = self.container.attach(stdout=True, stderr=True, stream=True, logs=True, demux=True)
        self.container.start()
        reader = threading.Thread(
            target=streams.read_live, args=(live,), name=f"logs-{self.spec.name}"
        )
        reader.start()
        with DiskWatch(self.container, self.spec.disk_watch, self.spec.limits.disk_bytes) as disk:
            status = self._wait(timeout, started, reader)
        reader.join(timeout=30)
        if not reader.is_alive():
            streams.catch_up(self.container, self.spec.name)
        streams.finish()
        exit_code = int(status["StatusCode"])
        if disk.exceeded is not None:
            raise BuildDiskFull(
                f"the build wrote {human_size(disk.exceeded)} into its target cache, past its "
                f"disk limit of {self.spec.limits.disk} ({human_size(disk.limit)}), "
                "and was stopped",
                hint="raise the limit (--disk-limit; on the server, the target's disk limit "
                "or XCARGO_BUILD_DISK_LIMIT) if the build needs that much",
            )
        if self._killed_for_memory(exit_code):
            raise BuildOutOfMemory(
                f"the build ran out of memory (limit {self.spec.limits.memory}) and was killed",
                hint="raise the limit with --memory, or build with fewer jobs (CARGO_BUILD_JOBS)",
            )
        return PhaseOutcome(exit_code=exit_code, seconds=time.monotonic() - started)

    def _wait(self, timeout: float, started: float, reader: threading.Thread) -> dict:
        """The container's exit status, once it ends within `timeout`."""
        assert self.container is not None
        try:
            return self.container.wait(timeout=timeout)
        except requests.exceptions.RequestException as error:
            # The SDK reports a read timeout as a ConnectionError; elapsed time tells the two apart.
            remove_container(self.container)
            reader.join(timeout=5)
            if time.monotonic() - started < timeout * 0.9:
                raise EngineUnavailable(
                    f"lost the engine at {self.engine.url} during the build: {error}",
                    hint="check that the engine still runs (`xcargo container doctor`); "
                    "the build container may be left for the next build to remove",
                ) from error
            raise BuildTimedOut(
                f"the build reached its time limit and was stopped "
                f"(this phase ran {time.monotonic() - started:.0f} s)",
                hint="raise the limit with --timeout SECONDS if the build needs longer",
            ) from error

    def _killed_for_memory(self, exit_code: int) -> bool:
        """Docker reports OOMKilled; Podman never does (conmon writes its marker elsewhere),
        so there a SIGKILL (137) that xcargo did not send, under a memory limit, is the OOM.
        """
        assert self.container is not None
        self.container.reload()
        if self.container.attrs["State"].get("OOMKilled"):
            return True
        return (
            self.engine.kind == "podman" and exit_code == 137 and self.engine.memory_limit_supported
        )

    def stat(self, path: str) -> dict[str, object] | None:
        """What the engine states of `path` in the container (name, size, mode, mtime), from
        a HEAD request: nothing of the file is sent. None: there is no such file. The
        container need not have started: the engine mounts its volumes to look.
        """
        assert self.container is not None
        api = self.engine.client.api
        response = api.head(
            f"{api.base_url}/v{api.api_version}/containers/{self.container.id}/archive",
            params={"path": path},
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return decode_json_header(response.headers["X-Docker-Container-Path-Stat"])

    def archive(self, path: str) -> Iterator[bytes]:
        """A tar stream of `path` in the (stopped) container, for copying artifacts out."""
        assert self.container is not None
        stream, _stat = self.container.get_archive(path)
        return stream


def with_private_cargo_home(command: list[str]) -> list[str]:
    """`command`, run with CARGO_HOME a private directory (give the spec
    `private_dirs=(CARGO_HOME_DIR,)`) in which `registry` and `git` are links to the shared
    CARGO_HOME, mounted read-only: crate code that runs during the build (build scripts,
    proc macros) can read every dependency's source and change none, while cargo's own
    writes (its package-cache lock, its last-use database) land where only this build sees.
    """
    links = " ".join(f"{SHARED_CARGO_HOME_DIR}/{subdir}" for subdir in SHARED_SUBDIRS)
    script = f'ln -s {links} "$CARGO_HOME"/ && exec "$@"'
    return ["sh", "-c", script, "xcargo-build", *command]


def remove_stale(client: docker.DockerClient, name: str) -> None:
    """Remove a leftover container of this name; refuse if it is still running."""
    try:
        existing = client.containers.get(name)
    except NotFound:
        return
    if existing.status in ("running", "restarting", "paused"):
        raise BuildBusy(
            f"container {name} is still running: another build of this project and target "
            "is under way, and two builds must not share one target cache",
            hint=f"wait for it to finish, or stop it with `docker rm -f {name}`",
        )
    remove_container(existing)


def stop_target_builds(engine: Engine, *, project: str, target: str, remove: bool) -> int:
    """Kill every build container of one project and target (and remove them when `remove`);
    returns how many there were.

    For a caller that knows which build of this project and target may run here: cancelling
    one (kill only, so that its own PhaseContainer sees it end and cleans up), or clearing the
    containers a dead worker left behind (kill and remove).
    """
    labels = naming.managed_labels(naming.KIND_BUILD, project=project, target=target)
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    containers = engine.client.containers.list(all=True, filters=filters)
    for container in containers:
        if remove:
            remove_container(container)
            continue
        # If it ended meanwhile, its PhaseContainer removes it.
        with contextlib.suppress(APIError, requests.exceptions.RequestException):
            container.kill()
    return len(containers)


def containers_of_builds(engine: Engine) -> dict[str, list[Container]]:
    """The build containers on the engine that carry a build id (the server's), by that id."""
    filters = {"label": [f"{naming.LABEL_KIND}={naming.KIND_BUILD}", naming.LABEL_BUILD]}
    found: dict[str, list[Container]] = {}
    for container in engine.client.containers.list(all=True, filters=filters):
        found.setdefault(container.labels.get(naming.LABEL_BUILD, ""), []).append(container)
    return found


def remove_container(container: Container) -> None:
    """Best effort on the way out: an engine that is gone cannot remove anything, and the
    next build of the same name removes the leftover (or reports it still running).
    """
    try:
        container.remove(force=True)
    except NotFound:
        pass
    except APIError as error:
        if "already in progress" not in str(error):
            raise
    except requests.exceptions.RequestException:
        pass


class _OutputStreams:
    """A container's stdout and stderr, each split into lines of its own."""

    def __init__(self, on_line: LineCallback) -> None:
        self.stdout = _LineSplitter(on_line)
        self.stderr = _LineSplitter(on_line)

    def read_live(self, frames: Iterable[tuple[bytes | None, bytes | None]]) -> None:
        """Pass on the (stdout, stderr) frames of a demultiplexed attach stream."""
        try:
            for out, err in frames:
                if out:
                    self.stdout.feed(out)
                if err:
                    self.stderr.feed(err)
        except _STREAM_ERRORS:
            return  # the container was removed (timeout) or the engine went away: wait() says

    def catch_up(self, container: Container, name: str) -> None:
        """Read each stream's log past what the live stream delivered."""
        for splitter, stdout in ((self.stdout, True), (self.stderr, False)):
            live_bytes = splitter.consumed
            splitter.read(
                container.logs(stream=True, follow=False, stdout=stdout, stderr=not stdout)
            )
            if splitter.consumed > live_bytes:
                logger.warning(
                    "%s: the live log stream ended early; %d more bytes read from the log",
                    name,
                    splitter.consumed - live_bytes,
                )

    def finish(self) -> None:
        self.stdout.finish()
        self.stderr.finish()


class _LineSplitter:
    """Whole text lines out of the engine's log chunks (cut at arbitrary bytes), counting the
    bytes consumed so that a second read of the same log can resume exactly where the first
    one stopped.
    """

    def __init__(self, on_line: LineCallback) -> None:
        self.on_line = on_line
        self.consumed = 0
        self.pending = b""

    def read(self, chunks: Iterable[bytes]) -> None:
        """Read a log stream from its start, passing on only the bytes not consumed yet."""
        skip = self.consumed
        try:
            for chunk in chunks:
                if skip >= len(chunk):
                    skip -= len(chunk)
                    continue
                self.feed(chunk[skip:])
                skip = 0
        except _STREAM_ERRORS:
            return  # the container was removed (timeout) or the engine went away: wait() says

    def finish(self) -> None:
        if self.pending:
            self.on_line(self.pending.decode("utf-8", errors="replace").rstrip("\r"))
            self.pending = b""

    def feed(self, chunk: bytes) -> None:
        self.consumed += len(chunk)
        *lines, self.pending = (self.pending + chunk).split(b"\n")
        for line in lines:
            self.on_line(line.decode("utf-8", errors="replace").rstrip("\r"))


def run_command(
    engine: Engine,
    image: str,
    command: list[str],
    *,
    name: str,
    mounts: list[Mount] | None = None,
    timeout: float = 120,
) -> str:
    """Run a short command in a hardened, network-less container and return its output."""
    lines: list[str] = []
    spec = ContainerSpec(
        name=name, image=image, command=command, mounts=mounts or [], working_dir="/"
    )
    with PhaseContainer(engine, spec) as phase:
        outcome = phase.run(lines.append, timeout=timeout)
    if outcome.exit_code != 0:
        raise XcargoError(f"`{' '.join(command)}` failed in {image}: {' '.join(lines)[-500:]}")
    return "\n".join(lines)
