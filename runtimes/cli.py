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
from runtimes import caches, host, naming, vocabulary
from runtimes.artifacts import Artifact
from runtimes.build_values import DEFAULT_TIMEOUT_SECONDS, BuildRequest, BuildResult
from runtimes.cargo_args import BENCH, BUILD, CHECK, RUN, TEST, check_cargo_args
from runtimes.config import XcargoConfig, load_config
from runtimes.config.schema import ContainerConfig
from runtimes.cross_build import run_build
from runtimes.doctor import run_checks
from runtimes.engine import ENGINE_HINT, connect
from runtimes.errors import EngineUnavailable, UsageError, XcargoError
from runtimes.glibc import split_floor_suffix
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
        err.print(f"[yellow]not supported yet:[/] {escape(str(notice))}")


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
        required=True,
        help="Rust target triple to build for; a *-linux-gnu* one may end with its glibc floor, "
        "cargo-zigbuild's way: aarch64-unknown-linux-gnu.2.17.",
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
    triple: str,
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
    triple, glibc_floor = split_floor_suffix(triple)
    validate_triple(triple)
    cargo_args, program_args = _split_program_args(cargo_args)
    cargo_args = check_cargo_args(cargo_args)
    project = locate_project(Path.cwd(), manifest_path)
    config = load_config(project.root)
    _print_config_notices(config)
    if container_image:
        parse_image_reference(container_image)
    engine = connect(config.container.runtime)
    request = BuildRequest(
        project=project,
        triple=triple,
        config=config,
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
    result = run_build(engine, request, _log_line())
    _report(result, time.monotonic() - started, release, done)
    if not result.succeeded:
        sys.exit(_failure_exit_code(result))
    if result.program_exit_code:
        sys.exit(result.program_exit_code)


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


def _report(result: BuildResult, seconds: float, release: bool, done: str = "built") -> None:
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
    engine = connect()
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


@main.group()
def container() -> None:
    """Container images and engine checks."""


@container.command("images")
def container_images() -> None:
    """List the image catalogue: the toolchain images on the engine, with their targets and
    sizes, then the images the trusted registries hold ([container] image_registry, in order).
    """
    engine = connect()
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
@click.option("--target", "triple", required=True, help="Rust target triple to pull for.")
@click.option(
    "--toolchain",
    metavar="VERSION",
    help=f"Rust toolchain ({', '.join(TOOLCHAINS)}; default: the newest the target has).",
)
def container_pull(triple: str, toolchain: str | None) -> None:
    """Pull the catalogue image a build of TARGET would choose from the trusted registries,
    with a progress bar; pulled again when the engine has it (a moved tag comes down).
    """
    validate_triple(triple)
    channel = toolchain_for(toolchain).channel if toolchain else newest_for(triple)
    engine = connect()
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


def _registry_order() -> tuple[str, ...]:
    """`[container] image_registry` of the project here, else its default."""
    try:
        return load_config(locate_project(Path.cwd(), None).root).container.image_registry
    except UsageError:
        return ContainerConfig().image_registry


@container.command("doctor")
def container_doctor() -> None:
    """Check the engine, its limits, the toolchain images and the caches."""
    report = run_checks(Path.cwd())
    for check in report.checks:
        mark = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]"}[check.status]
        out.print(f"{mark} {escape(check.message)}")
        if check.hint:
            out.print(f"    [dim]{escape(check.hint)}[/]")
    sys.exit(report.exit_code)


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
    """Sizes of the container cache volumes, per volume and in total."""
    _require_containers_flag(containers)
    engine = connect()
    rows = caches.usage(engine)
    table = Table("volume", "kind", "project", "target", "size", "in use", box=None)
    for row in rows:
        table.add_row(
            row.name,
            row.kind,
            row.project,
            row.target,
            human_size(row.size),
            "yes" if row.in_use else "",
        )
    out.print(table)
    total = sum(row.size for row in rows)
    out.print(f"total: {human_size(total)} in {len(rows)} volumes")
    if warning := caches.size_warning(total):
        err.print(f"[yellow]warning:[/] {warning}")


@cache.command("clean")
@click.option("--containers", is_flag=True, help="Remove container cache volumes.")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
def cache_clean(containers: bool, dry_run: bool) -> None:
    """Remove the container cache volumes no container uses (running builds keep theirs)."""
    _require_containers_flag(containers)
    engine = connect()
    report = caches.clean(engine, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for volume in report.removed:
        out.print(f"{verb} {volume.name} ({human_size(volume.size)})")
    for volume in report.kept_in_use:
        out.print(f"kept {volume.name}: in use")
    _say(f"{verb} {len(report.removed)} volumes, {human_size(report.freed)}")
