"""The `xcargo` command line: cross-builds, toolchain images, container caches, engine checks.

stdout carries only what a script wants to read (artifact lines in `sha256sum` format, tables);
cargo's log and xcargo's progress go to stderr, like cargo's own. Exit codes: 0 success, 1 the
build failed, 2 bad input, 3 no engine, 4 build stopped (timeout, memory, busy), 5 image problem,
6 a required smoke-run failed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
import requests
from docker.errors import DockerException
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from runtimes import bootstrap as toolchain_bootstrap
from runtimes import (
    caches,
    compiler_cache_counts,
    host,
    naming,
    podman_machine,
    vocabulary,
    volume_uses,
)
from runtimes.artifacts import Artifact
from runtimes.build_env import resolve_environment
from runtimes.build_values import DEFAULT_TIMEOUT_SECONDS, BuildRequest, BuildResult
from runtimes.cargo_args import BENCH, BUILD, CHECK, RUN, TEST, check_cargo_args
from runtimes.config import PodmanMachineConfig, XcargoConfig, load_config
from runtimes.cross_build import run_build
from runtimes.doctor import run_checks
from runtimes.durations import human_age, parse_age
from runtimes.engine import ENGINE_HINT, Engine, connect
from runtimes.errors import EngineUnavailable, UsageError, XcargoError
from runtimes.glibc import split_floor_suffix
from runtimes.images import pruning
from runtimes.images.catalogue import (
    catalogue,
    engine_catalogue,
    mark_present,
    registry_catalogue,
    toolchain_images,
)
from runtimes.images.pulling import pinned_digest, pull_image
from runtimes.images.references import parse_image_reference
from runtimes.images.registries import IF_NOT_PRESENT, check_pull_policy
from runtimes.images.selection import select
from runtimes.images.trust import DEFAULT_TRUSTED_REGISTRIES, TrustPolicy
from runtimes.podman_machine import Machine
from runtimes.project import locate_project
from runtimes.sandbox import Limits
from runtimes.sizes import human_size, parse_size
from runtimes.targets import validate_triple
from runtimes.toolchains import (
    RECIPES,
    TOOLCHAINS,
    UNAVAILABLE,
    newest_for,
    offered_toolchains,
    toolchain_for,
)

err = Console(stderr=True, highlight=False, soft_wrap=True)
# Tables keep whole names when piped: rich would otherwise wrap them at 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 250)


def _fail(error: XcargoError) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(error.message)}")
    if error.hint:
        err.print(f"  [yellow]hint:[/] {escape(error.hint)}")
    sys.exit(error.exit_code)


def _log_line(prefix: str = "") -> Callable[[str], None]:
    def show(line: str) -> None:
        err.print(f"{prefix}{escape(line)}")

    return show


def _say(message: str) -> None:
    err.print(f"[bold cyan]xcargo:[/] {message}")


def _print_config_notices(config: XcargoConfig) -> None:
    for notice in config.warnings:
        err.print(f"[yellow]warning:[/] {escape(str(notice))}")
    for notice in config.unsupported:
        err.print(f"[yellow]not supported:[/] {escape(str(notice))}")


class XcargoGroup(click.Group):
    """Turns xcargo's errors into a message, a hint and the documented exit code."""

    def invoke(self, ctx: click.Context) -> object:
        # A `kill` (SIGTERM, as CI runners and service managers send) cleans up like Ctrl-C:
        # the build container's context manager kills and removes it on the way out.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            return super().invoke(ctx)
        except XcargoError as error:
            _fail(error)
        except DockerException as error:
            _fail(XcargoError(f"the container engine failed: {error}"))
        except requests.exceptions.RequestException as error:
            _fail(EngineUnavailable(f"lost the container engine: {error}", hint=ENGINE_HINT))
        except KeyboardInterrupt:
            err.print("interrupted: build containers were removed")
            sys.exit(vocabulary.CANCELLED_KIND.exit_code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _size(value: str) -> str:
    """A size (`512m`, `4g`), checked here so a typo is not an engine error."""
    try:
        parse_size(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return value.lower()


@click.group(cls=XcargoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xcargo-web", prog_name="xcargo")
def main() -> None:
    """Cross-compile Rust projects in Docker or Podman containers, on warm caches.

    The engine is XCARGO_ENGINE_URL or DOCKER_HOST when set, else the first Docker or Podman
    socket found.
    """


_CARGO_COMMAND = {"ignore_unknown_options": True}


def _cargo_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options `xcargo build`, `check` and `test` share, then cargo's own arguments."""
    for option in reversed(_CARGO_OPTIONS):
        command = option(command)
    return command


_CARGO_OPTIONS: list[Callable[[Callable[..., None]], Callable[..., None]]] = [
    click.option(
        "--target",
        "triple",
        help="Rust target triple to build for; a *-linux-gnu* one may end with its glibc floor, "
        "cargo-zigbuild's way: aarch64-unknown-linux-gnu.2.17. Default: cross's default "
        "target (CROSS_BUILD_TARGET, CARGO_BUILD_TARGET, Cross.toml's [build] default-target).",
    ),
    click.option("--release", is_flag=True, help="Build with the release profile."),
    click.option(
        "--container-image",
        metavar="IMAGE",
        help="Build in this image: pulled when missing as its registry allows; one of an "
        "untrusted registry only by the digest --approve-image trusted.",
    ),
    click.option(
        "--dockerfile",
        metavar="PATH",
        help="Build in an image made from this Dockerfile (inside the project; default: "
        "xcargo.toml's dockerfile, else xcargo.dockerfile in the project root).",
    ),
    click.option(
        "--approve-dockerfile",
        "approvals",
        metavar="CODE",
        multiple=True,
        help="Approve the reviewed Dockerfile whose approval code is CODE (the refusal prints it): "
        "its findings and untrusted images. Binds to that exact text and its build arguments.",
    ),
    click.option(
        "--approve-image",
        "image_approvals",
        metavar="CODE",
        multiple=True,
        help="Trust once the image of an untrusted registry whose approval code is CODE (the "
        "refusal prints it): binds to that image's digest.",
    ),
    click.option(
        "--manifest-path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Cargo.toml of the project (default: the one above the current directory).",
    ),
    click.option(
        "--timeout",
        default=DEFAULT_TIMEOUT_SECONDS,
        show_default=True,
        type=click.IntRange(10, 86400),
        help="Seconds the whole build may take before it is stopped.",
    ),
    click.option(
        "--memory",
        default=Limits().memory,
        show_default=True,
        callback=lambda _ctx, _param, value: _size(value),
        help="Memory limit of a build, e.g. 2g or 1536m.",
    ),
    click.option(
        "--disk-limit",
        default=Limits().disk,
        show_default=True,
        callback=lambda _ctx, _param, value: _size(value),
        help="How much the build may write into its target cache; past it the build is stopped.",
    ),
    click.option(
        "--no-bootstrap", is_flag=True, help="Fail instead of making a missing toolchain image."
    ),
    click.option(
        "--toolchain",
        metavar="VERSION",
        help=f"Rust toolchain ({', '.join(TOOLCHAINS)} or stable; default: xcargo.toml, "
        "rust-toolchain.toml, else the newest).",
    ),
    click.argument("cargo_args", nargs=-1, type=click.UNPROCESSED, metavar="[CARGO ARGS]..."),
]


@main.command(context_settings=_CARGO_COMMAND)
@_cargo_options
def build(**options: Any) -> None:
    """Cross-compile the project for TARGET in a container; cargo's own arguments
    (--features, -p, --bin, --profile, -j…) go to `cargo build` as given.

    The source is mounted read-only; dependencies are fetched with the network on, then the
    build runs with the network off. Artifacts land in target/<triple>/<profile>/ and are
    printed on stdout as `<sha256>  <path>`.
    """
    _run_cargo(BUILD, **options)


@main.command(context_settings=_CARGO_COMMAND)
@_cargo_options
def check(**options: Any) -> None:
    """Check the project for TARGET in a container (`cargo check`): no artifacts."""
    _run_cargo(CHECK, **options)


@main.command(context_settings=_CARGO_COMMAND)
@_cargo_options
def test(**options: Any) -> None:
    """Build the tests for TARGET in a container and run them under the target's emulator
    (qemu-user on the glibc floor's C library, wine, Node.js's WASI), with no network.

    Arguments after `--` go to every test program (a filter, --nocapture, --ignored…). Exit
    status: cargo's, 101 when a test fails.
    """
    _run_cargo(TEST, **options)


@main.command(context_settings=_CARGO_COMMAND)
@_cargo_options
def bench(**options: Any) -> None:
    """Build the benchmarks for TARGET and run them under the target's emulator: their
    figures are the emulator's, good for comparing two runs here, not the target's speed.
    """
    _run_cargo(BENCH, **options)


@main.command(context_settings=_CARGO_COMMAND)
@_cargo_options
def run(**options: Any) -> None:
    """Build the project for TARGET and run its program under the target's emulator, with
    no network; arguments after `--` go to the program, and its exit status is xcargo's.
    """
    _run_cargo(RUN, **options)


def _run_cargo(
    command: str,
    *,
    triple: str | None,
    release: bool,
    container_image: str | None,
    dockerfile: str | None,
    approvals: tuple[str, ...],
    image_approvals: tuple[str, ...],
    manifest_path: Path | None,
    timeout: int,
    memory: str,
    disk_limit: str,
    no_bootstrap: bool,
    toolchain: str | None,
    cargo_args: tuple[str, ...],
) -> None:
    if triple is not None:  # checked before anything else is read
        validate_triple(split_floor_suffix(triple)[0])
    cargo_args, program_args = _split_program_args(cargo_args)
    cargo_args = check_cargo_args(cargo_args)
    project = locate_project(Path.cwd(), manifest_path)
    config = load_config(project.root, os.environ)
    _print_config_notices(config)
    triple, glibc_floor = split_floor_suffix(target_for(triple, config))
    validate_triple(triple)  # a default target (CARGO_BUILD_TARGET's) is checked as --target is
    if container_image:
        parse_image_reference(container_image)
    engine = connect(
        config.container.runtime, machine=config.container.podman_machine, on_step=_say
    )
    env = config.env_for(triple)
    request = BuildRequest(
        project=project,
        triple=triple,
        config=config,
        environment=resolve_environment(env.passthrough, env.values, available=os.environ),
        release=release,
        cargo_args=cargo_args,
        command=command,
        program_args=program_args,
        image=container_image,
        image_named_by="--container-image",
        dockerfile=dockerfile,
        trust=_trust_policy(),
        approvals=frozenset(approvals + image_approvals),
        timeout=timeout,
        limits=Limits(memory=memory, disk=disk_limit),
        state_dir=host.state_dir(),
        ca_bundle=host.ca_bundle(),
        bootstrap_missing=not no_bootstrap,
        toolchain=toolchain,
        glibc_floor=glibc_floor,
        offered_toolchains=offered_toolchains(os.environ.get("XCARGO_TOOLCHAINS")),
    )
    doing, done = _WORDS[command]
    _say(f"{doing} {escape(project.name)} for {triple} on {escape(engine.description)}")
    started = time.monotonic()
    result = run_build(
        engine, request, _log_line(), on_output=_program_output if command == RUN else None
    )
    if result.compiler_cache is not None:  # never for scratch volumes: they have none
        compiler_cache_counts.record(request.state_dir, result.compiler_cache)
    _report(result, time.monotonic() - started, release, done, artifact_lines=command != RUN)
    if not result.succeeded:
        sys.exit(_failure_exit_code(result))
    if result.program_exit_code:
        sys.exit(result.program_exit_code)


def target_for(given: str | None, config: XcargoConfig) -> str:
    """The target a command is for: --target, else the configuration's default target (and
    where it was set, said on stderr); with neither, --target is missing.
    """
    if given is not None:
        return given
    default = config.default_target
    if default is None:
        raise click.MissingParameter(
            ctx=click.get_current_context(silent=True), param_hint="'--target'", param_type="option"
        )
    _say(f"no --target: {escape(default.triple)}, the default target of {escape(default.where)}")
    return default.triple


_WORDS = {
    BUILD: ("building", "built"),
    CHECK: ("checking", "checked"),
    TEST: ("testing", "tested"),
    BENCH: ("benchmarking", "benchmarked"),
    RUN: ("running", "ran"),
}


def _split_program_args(collected: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Cargo's arguments and those after `--` (the test programs'): click takes the `--` away,
    so where it stood is read from the command line itself.
    """
    arguments = sys.argv[1:]
    if "--" not in arguments:
        return collected, ()
    after = len(arguments) - arguments.index("--") - 1
    return collected[: len(collected) - after], collected[len(collected) - after :]


def _trust_policy() -> TrustPolicy:
    """The registries images may come from without asking: XCARGO_TRUSTED_REGISTRIES
    (comma-separated hosts) when set, else the defaults; each pulls as XCARGO_PULL_POLICY says
    (default if-not-present).
    """
    hosts = os.environ.get("XCARGO_TRUSTED_REGISTRIES", ",".join(DEFAULT_TRUSTED_REGISTRIES))
    policy = check_pull_policy(os.environ.get("XCARGO_PULL_POLICY", IF_NOT_PRESENT))
    return TrustPolicy.from_hosts(hosts.split(","), pull_policy=policy)


def _failure_exit_code(result: BuildResult) -> int:
    """The exit status of a build that ran and failed: its failure's kind when run_build named
    one (a required smoke-run: 6), else cargo's (1).
    """
    return (result.failure_kind or vocabulary.COMPILE).exit_code


def _program_output(line: str) -> None:
    """What `xcargo run`'s program prints goes to stdout as it comes, as with `cargo run`."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _report(
    result: BuildResult,
    seconds: float,
    release: bool,
    done: str = "built",
    *,
    artifact_lines: bool = True,
) -> None:
    """The build's summary on stderr; the artifacts' checksum lines on stdout, except after
    `xcargo run`, whose stdout is its program's.
    """
    profile = "release" if release else "debug"
    if not result.succeeded:
        err.print(f"[bold red]error:[/] {escape(result.failure or 'the build failed')}")
        # A failed smoke-run keeps its artifacts: each one's run says which failed, and how.
        for artifact in result.artifacts:
            _report_smoke(artifact)
        return
    _say(f"{done} {result.triple} ({profile}) in {seconds:.2f} s")
    if result.tests is not None:
        err.print(f"  tests: {result.tests.summary()}")
    if result.image:
        err.print(
            f"  image: {escape(result.image)} ({escape(result.image_digest)}); "
            f"{escape(result.image_reason)}"
        )
    err.print(
        f"  toolchain: rustc {escape(result.rustc_version)}; {escape(result.toolchain_reason)}"
    )
    err.print(f"  strategy: {result.strategy}; {escape(result.strategy_reason)}")
    phases = [f"{name} {value:.2f} s" for name, value in result.phases.items()]
    if result.fetch_skipped:
        phases.insert(1, "fetch skipped (Cargo.lock unchanged)")
    err.print("  phases: " + " · ".join(phases))
    _report_cache(result)
    for artifact in result.artifacts:
        if result.glibc_floor:
            needs = f"GLIBC_{artifact.glibc.highest}" if artifact.glibc else "no glibc symbols"
            err.print(f"  {artifact.name}: needs {needs} (floor {result.glibc_floor})")
        if artifact_lines:
            out.print(f"{artifact.sha256}  {artifact.path}")
        _report_smoke(artifact)


def _report_smoke(artifact: Artifact) -> None:
    """The artifact's smoke-run in one line on stderr (nothing when none was tried)."""
    if artifact.smoke is not None:
        err.print(f"  {escape(artifact.name)}: smoke-run {escape(artifact.smoke.describe())}")


def _report_cache(result: BuildResult) -> None:
    volumes = result.volumes
    if volumes is None:
        err.print("  cache: the project's own target/ (native)")
    elif volumes.scratch:
        err.print("  cache: off (cache.enabled = false): scratch volumes, removed")
    else:
        registry = "cold" if result.crates_downloaded else "warm"
        target = "cold (new volume)" if volumes.target_created else "warm"
        err.print(
            f"  cache: registry {registry} ({result.crates_downloaded} crates downloaded) · "
            f"target {target} ({volumes.target})"
        )


@main.group()
def images() -> None:
    """Toolchain images made on this machine, no registry needed."""


@images.command("bootstrap")
@click.option(
    "--target",
    "triples",
    multiple=True,
    metavar="TRIPLE",
    help=f"Target to make an image for (repeatable; default: {', '.join(RECIPES)}).",
)
@click.option(
    "--toolchain",
    "channels",
    multiple=True,
    metavar="VERSION",
    help=f"Rust toolchain to make images of (repeatable; {', '.join(TOOLCHAINS)}; "
    "default: the newest each target has).",
)
@click.option("--refresh", is_flag=True, help="Make the Debian base again (new packages).")
def images_bootstrap(triples: tuple[str, ...], channels: tuple[str, ...], refresh: bool) -> None:
    """Make toolchain images with debootstrap and Debian's Rust packages.

    Running it again builds nothing unless a Dockerfile or a parent image changed.
    """
    for triple in triples:
        validate_triple(triple)
    for channel in channels:
        toolchain_for(channel)
    engine = _connect()
    started = time.monotonic()
    outcomes = toolchain_bootstrap.bootstrap(
        engine,
        list(triples or RECIPES),
        toolchains=list(channels) or None,
        on_line=_log_line("  "),
        refresh=refresh,
    )
    for outcome in outcomes:
        state = "built" if outcome.built else "up to date"
        out.print(f"{outcome.image}  {state}  {naming.image_key(outcome.image_id)}")
    _say(f"toolchain images ready in {time.monotonic() - started:.1f} s")


@images.command("prune")
@click.option(
    "--custom-older-than",
    default=None,
    help="Also custom images (Dockerfiles, pre-builds) made this long ago: 30m, 12h, 7d, 2w.",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
def images_prune(custom_older_than: str | None, dry_run: bool) -> None:
    """Remove the xcargo images no build needs: those a remake left without a name, toolchain
    images of toolchains this machine no longer offers (XCARGO_TOOLCHAINS), and with
    --custom-older-than old custom images; never one a container uses.
    """
    age = parse_age(custom_older_than) if custom_older_than is not None else None
    engine = _connect()
    old = pruning.old_images(
        engine,
        offered=offered_toolchains(os.environ.get("XCARGO_TOOLCHAINS")),
        custom_older_than=age,
    )
    removed = old if dry_run else pruning.remove_images(engine, old)
    verb = "would remove" if dry_run else "removed"
    for image in removed:
        out.print(f"{verb} {image.shown} ({human_size(image.size)}): {image.why}")
    for image in old:
        if image not in removed:
            out.print(f"kept {image.shown}: the engine refused (in use, or a parent)")
    freed = sum(image.size for image in removed)
    _say(f"{verb} {len(removed)} images, {human_size(freed)}")


@main.group()
def container() -> None:
    """Container images and engine checks."""


@container.command("images")
def container_images() -> None:
    """List the image catalogue: the toolchain images on the engine, with their targets and
    sizes, then the images the trusted registries hold ([container] image_registry, in order).
    """
    engine = _connect()
    table = Table("image", "targets", "toolchain", "rustc", "size", "created", "source", box=None)
    found = toolchain_images(engine)
    for image in found:
        table.add_row(
            image.reference,
            ", ".join(image.targets),
            image.toolchain,
            image.rustc,
            human_size(image.size),
            image.created[:19],
            image.source,
        )
    out.print(table)
    made = [
        (target, image.toolchain, image.reference) for image in found for target in image.targets
    ]
    missing = [entry for entry in catalogue(made) if entry.reference is None]
    if missing:
        out.print("\nnot made yet (each is made on first use, or now with):")
        for entry in missing:
            out.print(f"  {entry.target} · {entry.toolchain}: {entry.bootstrap_command}")
    out.print("\ncannot be had here:")
    for target, reason in sorted(UNAVAILABLE.items()):
        out.print(f"  {target}: {reason}")
    trust, order = _trust_policy(), _registry_order()
    remote = mark_present(
        registry_catalogue(trust, order, list(RECIPES), warn=_say),
        engine_catalogue(engine, trust),
    )
    out.print(f"\nin the registries ({', '.join(order) or 'none'}):")
    listed = Table("image", "targets", "rustc", "size", "created", "on the engine", box=None)
    for entry in remote:
        listed.add_row(
            entry.reference,
            ", ".join(entry.targets),
            entry.rustc or entry.note,
            human_size(entry.size),
            entry.created[:19],
            "yes" if entry.present else "no",
        )
    out.print(listed if remote else "  none")


@container.command("pull")
@click.option(
    "--target",
    "triple",
    help="Rust target triple to pull for (default: cross's default target, as for build).",
)
@click.option(
    "--toolchain",
    metavar="VERSION",
    help=f"Rust toolchain ({', '.join(TOOLCHAINS)}; default: the newest the target has).",
)
def container_pull(triple: str | None, toolchain: str | None) -> None:
    """Pull the catalogue image a build of TARGET would choose from the trusted registries,
    with a progress bar; pulled again when the engine has it (a moved tag comes down).
    """
    if triple is None:
        triple = split_floor_suffix(target_for(None, _project_config()))[0]
    validate_triple(triple)
    channel = toolchain_for(toolchain).channel if toolchain else newest_for(triple)
    engine = _connect()
    trust, order = _trust_policy(), _registry_order()
    chosen = select(
        mark_present(
            registry_catalogue(trust, order, [triple], warn=_say), engine_catalogue(engine, trust)
        ),
        triple,
        channel,
        order,
    )
    if chosen is None:
        _fail(
            UsageError(
                f"no image for {triple} with rustc {channel} in the registries "
                f"({', '.join(order) or 'none'})",
                hint=f"make one here: xcargo images bootstrap --toolchain {channel} "
                f"--target {triple}",
            )
        )
    reference = parse_image_reference(chosen.image.reference)
    _say(f"pulling {chosen.image.reference}: {chosen.reason}")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=not err.is_terminal,
    ) as bar:
        task = bar.add_task(chosen.image.reference, total=None)
        image = pull_image(
            engine,
            reference,
            trust.registry_of(reference),
            on_line=lambda _line: None,
            on_progress=lambda done: bar.update(task, completed=done.done, total=done.total),
        )
    out.print(f"{chosen.image.reference}  {pinned_digest(image, reference)}")


def _connect() -> Engine:
    """The first engine that answers; on macOS the Podman machine as the project here sets it
    up (`[container.podman_machine]`), its steps said on stderr.
    """
    machine = _project_config().container.podman_machine
    return connect(machine=machine, on_step=_say)


def _registry_order() -> tuple[str, ...]:
    """`[container] image_registry` of the project here, else its default."""
    return _project_config().container.image_registry


def _project_config() -> XcargoConfig:
    """The configuration of the project here, with this environment's variables; outside a
    project, the defaults.
    """
    try:
        return load_config(locate_project(Path.cwd(), None).root, os.environ)
    except UsageError:
        return XcargoConfig()


@container.command("doctor")
def container_doctor() -> None:
    """Check the engine, its limits, the toolchain images and the caches."""
    report = run_checks(Path.cwd(), os.environ)
    for check in report.checks:
        mark = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]"}[check.status]
        out.print(f"{mark} {escape(check.message)}")
        if check.hint:
            out.print(f"    [dim]{escape(check.hint)}[/]")
    sys.exit(report.exit_code)


@container.group("machine")
def container_machine() -> None:
    """The Podman machine (macOS): the VM Podman runs containers in.

    The machine is [container.podman_machine] name in xcargo.toml, else Podman's default one;
    create uses its cpus, memory and disk_size.
    """


def _machine_settings() -> tuple[PodmanMachineConfig, podman_machine.Podman]:
    if podman_machine.podman_installed() is None:
        raise EngineUnavailable("podman is not installed", hint=podman_machine.INSTALL_HINT)
    return _project_config().container.podman_machine, podman_machine.Podman()


def _the_machine(config: PodmanMachineConfig, podman: podman_machine.Podman) -> Machine:
    machines = podman_machine.list_machines(podman)
    machine = podman_machine.choose(machines, config.name)
    if machine is None:
        raise EngineUnavailable(
            podman_machine.describe_missing(machines, config.name),
            hint="create it: xcargo container machine create",
        )
    return machine


@container_machine.command("status")
def machine_status() -> None:
    """List the Podman machines, their state, resources and API socket; exit 3 when the
    machine builds use is missing or not running.
    """
    config, podman = _machine_settings()
    machines = podman_machine.list_machines(podman)
    chosen = podman_machine.choose(machines, config.name)
    table = Table(
        "machine", "state", "default", "vm", "cpus", "memory", "disk", "last up", box=None
    )
    for machine in machines:
        table.add_row(
            machine.name + (" (used by builds)" if machine is chosen else ""),
            machine.state,
            "yes" if machine.default else "",
            machine.vm_type,
            str(machine.cpus),
            f"{machine.memory_mib} MB",  # Podman's MB and GB are MiB and GiB, as in xcargo.toml
            f"{machine.disk_size_gib} GB",
            machine.last_up_text,
        )
    if machines:
        out.print(table)
    if chosen is None:
        out.print(podman_machine.describe_missing(machines, config.name))
        out.print("create it: xcargo container machine create")
        sys.exit(vocabulary.ENGINE.exit_code)
    out.print(f"socket: {podman_machine.machine_socket(chosen.name, podman)}")
    if chosen.state != "running":
        out.print(f"start it: xcargo container machine start (podman machine start {chosen.name})")
        sys.exit(vocabulary.ENGINE.exit_code)


@container_machine.command("create")
def machine_create() -> None:
    """Create the Podman machine with [container.podman_machine] cpus, memory and disk_size
    (4 CPUs, 4096 MB, 20 GB by default), start it and wait until its API answers; prints its
    socket URL. A machine that exists already is only started.
    """
    config, podman = _machine_settings()
    machine = podman_machine.choose(podman_machine.list_machines(podman), config.name)
    if machine is None:
        machine = podman_machine.create_machine(config, _say, podman=podman)
    else:
        _say(f"Podman machine {machine.name} exists already ({machine.state}): nothing created")
    out.print(_ready(machine, podman).url)


@container_machine.command("start")
def machine_start() -> None:
    """Start the Podman machine and wait until its API answers; prints its socket URL."""
    config, podman = _machine_settings()
    out.print(_ready(_the_machine(config, podman), podman).url)


def _ready(machine: Machine, podman: podman_machine.Podman) -> podman_machine.MachineReady:
    if machine.state == "stopped":
        return podman_machine.start_machine(machine, _say, podman=podman)
    if machine.state == "starting":
        podman_machine.wait_until_started(machine, _say, podman=podman)
    return podman_machine.wait_for_socket(machine.name, _say, podman=podman)


@container_machine.command("stop")
def machine_stop() -> None:
    """Stop the Podman machine (builds then start it again, unless auto_start = false)."""
    config, podman = _machine_settings()
    machine = _the_machine(config, podman)
    if machine.state == "stopped":
        _say(f"Podman machine {machine.name} is stopped already")
        return
    podman_machine.stop_machine(machine, _say, podman=podman)


@main.group()
def cache() -> None:
    """Container cache volumes: CARGO_HOME per toolchain, target dir per project."""


def _require_containers_flag(containers: bool) -> None:
    if not containers:
        raise UsageError(
            "xcargo-web keeps only container caches", hint="say --containers to act on them"
        )


@cache.command("stats")
@click.option("--containers", is_flag=True, help="Container cache volumes (the only kind here).")
def cache_stats(containers: bool) -> None:
    """Every container cache volume with its kind, project, target, toolchain, size and last
    use; what each compiler cache served the builds here; then the total of each project, and
    of the engine.
    """
    _require_containers_flag(containers)
    engine = _connect()
    state = host.state_dir()
    rows = caches.usage(engine, last_used=volume_uses.last_uses(state))
    now = time.time()
    table = Table(
        "volume", "kind", "project", "target", "toolchain", "size", "last use", "in use", box=None
    )
    for row in rows:
        table.add_row(
            row.name,
            row.kind,
            row.project,
            row.target,
            row.toolchain,
            human_size(row.size),
            f"{human_age(now - row.last_used)} ago" if row.last_used else "",
            "yes" if row.in_use else "",
        )
    out.print(table)
    served = compiler_cache_counts.counted(state)
    for row in rows:
        if row.name in served:
            out.print(f"compiler cache {row.name}: {served[row.name].summary()}")
    projects: dict[str, int] = {}
    for row in rows:
        projects[row.project or "(shared)"] = projects.get(row.project or "(shared)", 0) + row.size
    for project, size in sorted(projects.items(), key=lambda item: -item[1]):
        out.print(f"project {project}: {human_size(size)}")
    total = sum(row.size for row in rows)
    out.print(f"total on {engine.description}: {human_size(total)} in {len(rows)} volumes")
    if warning := caches.size_warning(total):
        err.print(f"[yellow]warning:[/] {warning}")


@cache.command("clean")
@click.option("--containers", is_flag=True, help="Remove container cache volumes.")
@click.option("--project", default="", help="Only this project's volumes (its name or key).")
@click.option("--target", "triple", default="", help="Only this target's volumes.")
@click.option(
    "--older-than",
    default=None,
    help="Only volumes no build used for this long: 30m, 12h, 7d, 2w.",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
def cache_clean(
    containers: bool, project: str, triple: str, older_than: str | None, dry_run: bool
) -> None:
    """Remove the container cache volumes no container uses (running builds keep theirs):
    all of them, or those the options select.
    """
    _require_containers_flag(containers)
    selection = caches.CleanFilter(
        project=project,
        target=triple,
        older_than=parse_age(older_than) if older_than is not None else None,
    )
    engine = _connect()
    state = host.state_dir()
    report = caches.clean(
        engine, dry_run=dry_run, selection=selection, last_used=volume_uses.last_uses(state)
    )
    verb = "would remove" if dry_run else "removed"
    for volume in report.removed:
        out.print(f"{verb} {volume.name} ({human_size(volume.size)})")
        if not dry_run:
            volume_uses.forget(state, volume.name)
            compiler_cache_counts.forget(state, volume.name)
    for volume in report.kept_in_use:
        out.print(f"kept {volume.name}: in use")
    _say(f"{verb} {len(report.removed)} volumes, {human_size(report.freed)}")
