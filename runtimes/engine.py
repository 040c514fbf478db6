"""Finding and describing the container engine (Docker or Podman) that runs builds.

Both engines are driven through the Docker SDK: Podman answers the same API on its own socket.
What differs between them (rootless mode, cgroup support, the ulimits Podman insists on) is
read once here, so the rest of xcargo asks `Engine` instead of guessing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import docker
from docker.errors import DockerException, NotFound

from runtimes import podman_machine
from runtimes.errors import EngineUnavailable, UsageError

if TYPE_CHECKING:
    from runtimes.config.schema import PodmanMachineConfig

EngineKind = Literal["docker", "podman"]
# The engine a user asks for (xcargo.toml's `runtime`, the worker's --runtime, an engine
# host's setting), defined once; "none" builds without containers, so no engine host has it.
RuntimeChoice = Literal["auto", "docker", "podman", "none"]
RUNTIME_LABELS: dict[str, str] = {
    "auto": "auto (Docker, else Podman)",
    "docker": "Docker",
    "podman": "Podman",
    "none": "no container engine",
}
ENGINE_HOST_RUNTIMES = ("auto", "docker", "podman")

ENGINE_URL_VARIABLES = ("XCARGO_ENGINE_URL", "DOCKER_HOST")
CONNECT_TIMEOUT_SECONDS = 10
# Go architecture names (what engines report) to Debian's, which name toolchain packages.
_DEBIAN_ARCH = {"amd64": "amd64", "arm64": "arm64", "arm": "armhf", "386": "i386"}


@dataclass(frozen=True)
class Engine:
    """A connected engine and the facts about it that change how builds run."""

    client: docker.DockerClient
    url: str
    kind: EngineKind
    version: str
    api_version: str
    rootless: bool
    cgroup_driver: str
    cgroup_version: str
    memory_limit_supported: bool
    pids_limit_supported: bool
    debian_arch: str
    # Whether bind mounts need SELinux's shared label (`:z`) for a container to read them.
    relabel_binds: bool = False

    @property
    def description(self) -> str:
        mode = "rootless" if self.rootless else "rootful"
        cgroup = self.cgroup_version or "?"
        return f"{self.kind} {self.version} ({mode}, cgroup v{cgroup}) at {self.url}"


def socket_candidates(
    runtime: RuntimeChoice = "auto", environ: Mapping[str, str] | None = None
) -> list[str]:
    """The engine URLs to try, in order: what the user set, then the usual sockets.

    An explicit URL wins over any guess, so a user who set one never lands on another engine.
    """
    environ = os.environ if environ is None else environ
    for variable in ENGINE_URL_VARIABLES:
        if environ.get(variable):
            return [environ[variable]]
    runtime_dir = environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    docker_sockets = ["/var/run/docker.sock", f"{runtime_dir}/docker.sock"]
    podman_sockets = ["/run/podman/podman.sock", f"{runtime_dir}/podman/podman.sock"]
    if runtime == "docker":
        sockets = docker_sockets
    elif runtime == "podman":
        sockets = podman_sockets
    else:
        sockets = docker_sockets + podman_sockets
    return [f"unix://{path}" for path in sockets if os.path.exists(path)]


def connect(
    runtime: RuntimeChoice = "auto",
    environ: Mapping[str, str] | None = None,
    *,
    machine: PodmanMachineConfig | None = None,
    on_step: Callable[[str], None] | None = None,
    platform: str = sys.platform,
) -> Engine:
    """Connect to the first engine that answers and describe it.

    On macOS, when no URL is set and Podman may serve (runtime `podman`, or `auto` with no
    Docker answering), the Podman machine is found, created and started as `machine`
    (`[container.podman_machine]`) allows, each step said through `on_step`, and its socket
    (from `podman machine inspect`) is the engine. Elsewhere nothing of that happens.

    Raises `EngineUnavailable` with what to do when none answers, or when the one that answers
    is not the runtime the configuration asks for.
    """
    if runtime == "none":
        raise UsageError(
            "container.runtime = 'none' in xcargo.toml, but xcargo-web builds only in containers",
            hint="set runtime to 'auto', 'docker' or 'podman'",
        )
    environ = os.environ if environ is None else environ
    explicit = any(environ.get(variable) for variable in ENGINE_URL_VARIABLES)
    use_machine = not explicit and runtime != "docker" and podman_machine.applies(platform)
    candidates = socket_candidates(runtime, environ)
    if use_machine and runtime == "podman":
        candidates = _machine_urls(machine, on_step, platform)
    failures: list[str] = []
    engine = _first_answering(candidates, runtime, failures)
    if engine is None and use_machine and runtime == "auto":
        engine = _first_answering(_machine_urls(machine, on_step, platform), runtime, failures)
    if engine is None:
        hint = MACOS_ENGINE_HINT if podman_machine.applies(platform) else ENGINE_HINT
        raise EngineUnavailable(_unavailable_message(runtime, failures), hint=hint)
    return engine


def _machine_urls(
    machine: PodmanMachineConfig | None,
    on_step: Callable[[str], None] | None,
    platform: str,
) -> list[str]:
    """The socket of the Podman machine, made ready; none when podman is not installed."""
    if machine is None:
        from runtimes.config.schema import PodmanMachineConfig  # the schema imports this module

        machine = PodmanMachineConfig()
    ready = podman_machine.ensure_machine(machine, on_step or _quiet, platform=platform)
    return [ready.url] if ready else []


def _quiet(_message: str) -> None:
    pass


def _first_answering(
    candidates: list[str], runtime: RuntimeChoice, failures: list[str]
) -> Engine | None:
    for url in candidates:
        try:
            client = docker.DockerClient(base_url=url, timeout=CONNECT_TIMEOUT_SECONDS)
            engine = describe(client, url)
        except DockerException as error:
            failures.append(f"{url}: {_first_line(error)}")
            continue
        if runtime not in ("auto", engine.kind):
            raise EngineUnavailable(
                f"xcargo.toml asks for {runtime}, but the engine at {url} is {engine.kind}",
                hint=f"point XCARGO_ENGINE_URL at a {runtime} socket, or set runtime = 'auto'",
            )
        return engine
    return None


def describe(client: docker.DockerClient, url: str) -> Engine:
    """Ask a connected client what engine it talks to."""
    version = client.version()
    info = client.info()
    components = [component.get("Name", "") for component in version.get("Components") or []]
    kind: EngineKind = "podman" if _is_podman(components) else "docker"
    return Engine(
        client=client,
        url=url,
        kind=kind,
        version=version.get("Version", "unknown"),
        api_version=version.get("ApiVersion", "unknown"),
        rootless=_is_rootless(info),
        cgroup_driver=info.get("CgroupDriver") or "unknown",
        cgroup_version=str(info.get("CgroupVersion") or ""),
        memory_limit_supported=bool(info.get("MemoryLimit", True)),
        pids_limit_supported=bool(info.get("PidsLimit", True)),
        debian_arch=_DEBIAN_ARCH.get(version.get("Arch", ""), version.get("Arch", "unknown")),
        relabel_binds=relabels_binds(info),
    )


def _is_podman(component_names: Iterable[str]) -> bool:
    return any("podman" in name.lower() for name in component_names)


def _is_rootless(info: Mapping[str, object]) -> bool:
    """Docker lists `name=rootless` in its security options; Podman also reports host.security."""
    options = info.get("SecurityOptions") or []
    if any("rootless" in str(option) for option in options):  # type: ignore[union-attr]
        return True
    return bool(info.get("Rootless"))


def relabels_binds(info: Mapping[str, object], platform: str = sys.platform) -> bool:
    """Bind mounts need `:z` where the engine enforces SELinux (both engines list
    `name=selinux` in their security options): a container's label may not read the host's
    files otherwise. Never from macOS: there the engine runs in the Podman machine's VM and
    binds come from the Mac's shared folders, which cannot be relabelled.
    """
    options = info.get("SecurityOptions") or []
    selinux = any("name=selinux" in str(option) for option in options)  # type: ignore[union-attr]
    return selinux and platform != "darwin"


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _unavailable_message(runtime: RuntimeChoice, failures: list[str]) -> str:
    wanted = "a container engine" if runtime == "auto" else f"a {runtime} engine"
    if not failures:
        return f"no socket of {wanted} was found (and XCARGO_ENGINE_URL / DOCKER_HOST are unset)"
    return f"{wanted} did not answer:\n  " + "\n  ".join(failures)


ENGINE_HINT = (
    "start Docker (`systemctl start docker`, or `dockerd &`), or Podman's API "
    "(`podman system service --time=0 unix:///run/podman/podman.sock &`), "
    "or set XCARGO_ENGINE_URL to the engine's socket, e.g. unix:///run/podman/podman.sock"
)
MACOS_ENGINE_HINT = (
    "start Docker Desktop, or install Podman (`brew install podman`): xcargo then creates and "
    "starts its machine (`xcargo container machine status` shows it), or set XCARGO_ENGINE_URL"
)


def engine_time(text: object) -> datetime | None:
    """A time as an engine or a registry writes it ("2026-12-06T23:59:01.349990569Z", with an
    offset, or none: then UTC); None for anything else.
    """
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def containers_attrs(engine: Engine) -> list[dict]:
    """What the engine says of each of its containers (inspected, as `containers.list` gives
    them), skipping one removed between the listing and its inspection: build phases come and
    go all the time, and a container that is gone uses no volume and no image any more.
    """
    found = []
    for summary in engine.client.api.containers(all=True, quiet=True):
        try:
            found.append(engine.client.api.inspect_container(summary["Id"]))
        except NotFound:
            continue
    return found
