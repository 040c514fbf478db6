"""A cross-build, start to finish: image, caches, fetch online, build offline, artifacts out.

This is the one place that knows the order of a build; the CLI and the server's worker both
call `run_build` and only differ in where the log lines go and where the artifacts land.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from docker.errors import ImageNotFound
from docker.models.images import Image
from docker.types import Mount

from runtimes import (
    artifact_stamps,
    caches,
    compiler_cache,
    fetch_stamps,
    naming,
    smoke_memo,
    target_sweep,
    unchanged_builds,
    vocabulary,
    volume_uses,
)
from runtimes.artifacts import (
    Artifact,
    artifact_paths,
    executable_paths,
    extract_single_file,
    floor_failure,
    fresh_paths,
    parse_message,
    relative_output_path,
    with_glibc,
)
from runtimes.bootstrap import (
    BootstrapError,
    bootstrap,
    ensure_smoke_image,
    rustc_version,
)
from runtimes.build_values import BuildRequest, BuildResult
from runtimes.cargo_args import BENCH, BUILD, CHECK, MAKES_ARTIFACTS, RUN, RUNS_TESTS
from runtimes.emulation import (
    LibtestProgram,
    libtest_programs,
    run_emulated,
    run_tests,
    runner_for,
)
from runtimes.engine import Engine
from runtimes.errors import UsageError, XcargoError
from runtimes.glibc import NEWEST_FLOOR, GlibcVersion
from runtimes.images.builder import find_image
from runtimes.images.catalogue import (
    engine_catalogue,
    mark_present,
    registry_catalogue,
    toolchain_images,
)
from runtimes.images.choice import ImageChoice, choose_image
from runtimes.images.custom import CustomImage, ensure_custom_image, prepare_custom_image
from runtimes.images.obtaining import obtain_image
from runtimes.images.pre_build import pre_build_dockerfile
from runtimes.images.references import parse_image_reference
from runtimes.images.selection import Selection, select
from runtimes.images.trust import approval_code, check_approved
from runtimes.linking import choose_floor, choose_linking
from runtimes.native_build import run_native
from runtimes.placement import NATIVE, ZIG, choose_placement
from runtimes.project import rust_requirements
from runtimes.rust_versions import RustVersion
from runtimes.sandbox import (
    CA_BUNDLE_PATH,
    CARGO_HOME_DIR,
    SOURCE_DIR,
    TARGET_DIR,
    BuildDiskFull,
    ContainerSpec,
    PhaseContainer,
    with_private_cargo_home,
)
from runtimes.smoke import OFF, REQUIRE, SmokeRun, SmokeSetting, smoke_policy, smoke_run
from runtimes.targets import validate_triple
from runtimes.toolchain_choice import ToolchainChoice, check_requirements, choose_toolchain
from runtimes.toolchains import RECIPES, TOOLCHAINS, toolchains_for
from runtimes.unchanged_builds import RecordedArtifact
from runtimes.use_when import host_triple
from runtimes.vocabulary import (
    BUILDING,
    COLLECTING,
    FETCHING,
    PREPARING_IMAGE,
    SMOKE_RUNNING,
    TESTING,
    Phase,
)

LineCallback = Callable[[str], None]
PhaseCallback = Callable[[Phase], None]

_DOWNLOADED = re.compile(r"^\s*Downloaded \S+ v\S+")
_READ_ONLY = "Read-only file system"
_SIGKILL = "(signal: 9, SIGKILL: kill)"
_NO_STD = re.compile(r"can't find crate for `(std|core)`")
# What cargo says when a dependency's rust-version is above the toolchain's rustc.
_TOO_OLD = "is not supported by the following packages"
# What lld says under zig when a shared library of the image needs a newer glibc than the floor.
_NEWER_GLIBC = re.compile(r"undefined reference: \S+@GLIBC_(\d+\.\d+)")
# What cargo says when --offline finds a crate missing from CARGO_HOME.
_OFFLINE_MISS = ("--offline was specified", "you're using offline mode", "offline mode")
_BUILT, _FAILED, _MISSING_CRATES = "built", "failed", "missing crates"


class ImageMissing(BootstrapError):
    """The image a build needs is not on the engine."""


def resolve_image(engine: Engine, choice: ImageChoice, triple: str) -> Image:
    """The chosen toolchain image on the engine; a missing one is made by the bootstrap."""
    try:
        return engine.client.images.get(choice.reference)
    except ImageNotFound:
        channel = f"--toolchain {choice.toolchain.channel} " if choice.toolchain else ""
        raise ImageMissing(
            f"image {choice.reference} is not on the engine",
            hint=f"run `xcargo images bootstrap {channel}--target {triple}`",
        ) from None


def _ignore_phase(_phase: Phase) -> None:
    return None


def run_build(
    engine: Engine,
    request: BuildRequest,
    on_line: LineCallback,
    on_phase: PhaseCallback = _ignore_phase,
    on_output: LineCallback | None = None,
) -> BuildResult:
    """Run one build and return what happened; raises only for errors before cargo runs,
    timeouts and engine failures. A cargo failure is a result with `failure` set.
    `on_phase` hears each phase as it starts, for a caller that shows where a build is;
    `on_output` the output of the program `xcargo run` runs (default: the log).
    Every line reaches `on_line` with the request's secrets masked, whatever printed them.
    """
    mask = request.environment.masker()
    output = on_output or on_line

    def masked(line: str) -> None:
        on_line(mask(line))

    for line in request.environment.describe():
        masked(f"xcargo: {line}")
    result = _run_build(engine, request, masked, on_phase, lambda line: output(mask(line)))
    if result.failure is not None:
        result.failure = mask(result.failure)
    if result.tests is not None:
        result.tests.failures = [mask(failure) for failure in result.tests.failures]
    return result


def _run_build(
    engine: Engine,
    request: BuildRequest,
    on_line: LineCallback,
    on_phase: PhaseCallback,
    on_output: LineCallback,
) -> BuildResult:
    validate_triple(request.triple)
    lockfile = request.project.require_lockfile()
    started = time.monotonic()
    on_phase(PREPARING_IMAGE)
    placement = choose_placement(
        request.triple,
        request.config,
        host=host_triple(),
        containers_only=request.containers_only,
    )
    if placement.strategy == NATIVE:
        return run_native(request, placement, on_line, on_phase)
    choice = choose_image(
        request.triple,
        request.config,
        toolchain=lambda: _choose_toolchain(engine, request),
        project_root=request.project.root,
        image_ids=lambda reference: _image_id(engine, reference),
        named=request.image,
        named_by=request.image_named_by,
        dockerfile=request.dockerfile,
        dockerfile_named_by=request.dockerfile_named_by,
        build_args=request.build_args,
        catalogue=_catalogue(engine, request, on_line),
    )
    if choice.toolchain is not None:
        on_line(f"xcargo: toolchain {choice.toolchain.channel}: {choice.toolchain.reason}")
    on_line(f"xcargo: image {choice.reference}: {choice.reason}")
    image, digest = _image_for(engine, request, choice, on_line)
    if (pre_build := request.config.for_target(request.triple).pre_build) is not None:
        image, reference = _pre_built(engine, request, choice.reference, pre_build, on_line)
        digest = image.id
        where = request.config.where(request.triple, "pre_build")
        choice = dataclasses.replace(
            choice,
            reference=reference,
            reason=f"{choice.reference} ({choice.reason}) with the pre-build of {where} on top",
        )
    rustc = image.labels.get(naming.LABEL_RUSTC) or rustc_version(engine, image.id)
    toolchain = choice.toolchain or _toolchain_of_named_image(request, choice, rustc)
    floor = choose_floor(
        request.triple,
        request.config,
        named=request.glibc_floor,
        default=request.default_glibc_floor,
        default_by=request.default_glibc_floor_by,
    )
    strategy = choose_linking(
        placement,
        floor,
        triple=request.triple,
        image=choice.reference,
        zig=image.labels.get(naming.LABEL_ZIG),
    )
    on_line(f"xcargo: strategy {strategy.strategy}: {strategy.reason}")
    if pre_build is not None and strategy.strategy == ZIG:
        on_line(
            f"xcargo: note: libraries a pre-build installs are built for the image's glibc "
            f"{NEWEST_FLOOR}, and zig links at {floor.version if floor else 'its own'} without "
            "the image's multiarch headers: a -sys crate linking one (openssl-sys) fails; "
            f"build at the image's glibc then (Cross.toml: zig = false; xcargo.toml: glibc = "
            f'"{NEWEST_FLOOR}")'
        )
    std_crates = image.labels.get(naming.LABEL_BUILD_STD, "")
    if std_crates:
        on_line(
            f"xcargo: {choice.reference} has no standard library for {request.triple}: "
            f"compiled from its source (-Zbuild-std={std_crates}); a cold build takes "
            "minutes longer"
        )
    volumes = caches.ensure_volumes(
        engine,
        config=request.config.container.cache,
        project=request.project.key,
        triple=request.triple,
        image_id=image.id,
        toolchain=naming.toolchain_key(image.labels.get(naming.LABEL_RUSTC), image.id),
        lane=request.target_lane,
        claim=request.claim_volumes,
        compiler_cache=_compiler_cache_wanted(request, image, on_line),
    )
    seeded = _seed_lane(engine, volumes, image.id, on_line)
    if not volumes.scratch:
        volume_uses.record_use(request.state_dir, volumes.named)
    result = BuildResult(
        triple=request.triple,
        image=choice.reference,
        image_source=choice.source,
        image_reason=choice.reason,
        image_id=image.id,
        image_digest=digest,
        rustc_version=rustc,
        toolchain=toolchain.channel,
        toolchain_reason=toolchain.reason,
        strategy=strategy.strategy,
        strategy_reason=strategy.reason,
        volumes=volumes,
        glibc_floor=str(floor.version) if floor else "",
        target_seeded=seeded,
    )
    result.phases[PREPARING_IMAGE.timing] = time.monotonic() - started
    run = _Run(
        engine,
        request,
        image.id,
        result,
        on_line,
        on_phase,
        on_output,
        deadline=started + request.timeout,
        std_crates=std_crates,
    )
    try:
        run.fetch_and_build(lockfile)
    except BuildDiskFull:
        if caches.remove_target(engine, volumes):
            on_line(f"xcargo: removed the target cache {volumes.target} to give its space back")
        raise
    finally:
        caches.remove_scratch(engine, volumes)
    return result


def _compiler_cache_wanted(request: BuildRequest, image: Image, on_line: LineCallback) -> bool:
    """Whether the build goes through the shared compiler cache: wanted (`[container.cache]
    compiler_cache`, on by default, and caching on) and possible (the image has sccache).
    """
    config = request.config.container.cache
    if not (config.enabled and config.compiler_cache):
        return False
    if image.labels.get(naming.LABEL_COMPILER_CACHE) == "sccache":
        return True
    on_line("xcargo: no compiler cache: the image has no sccache (images made from xcargo's do)")
    return False


def _choose_toolchain(engine: Engine, request: BuildRequest) -> ToolchainChoice:
    """The toolchain among those offered: any when missing images may be made, else only
    those whose image of this target is on the engine already.
    """
    offered = toolchains_for(request.triple, request.offered_toolchains)
    if not request.bootstrap_missing:
        made = {image.reference for image in toolchain_images(engine)}
        offered = tuple(
            channel
            for channel in offered
            if naming.toolchain_image(request.triple, channel) in made
        )
    return choose_toolchain(
        request.project,
        request.config,
        request.triple,
        available=offered,
        named=request.toolchain,
        named_by=request.toolchain_named_by,
        default=request.default_toolchain,
    )


def _toolchain_of_named_image(
    request: BuildRequest, choice: ImageChoice, rustc: str
) -> ToolchainChoice:
    """A named image brings its own rustc, which must still meet the crates' rust-version."""
    where = f"image {choice.reference}"
    try:
        channel = RustVersion.parse(rustc).channel
    except UsageError:
        return ToolchainChoice(rustc, f"the rustc of {where} (its version unreadable)")
    check_requirements(rustc, rust_requirements(request.project), f"{where} (rustc {rustc})")
    return ToolchainChoice(channel, f"the rustc of {where}")


def _seed_lane(
    engine: Engine, volumes: caches.CacheVolumes, image_id: str, on_line: LineCallback
) -> bool:
    """A new unprotected ref's target cache starts as a copy of the protected one."""
    if volumes.protected or not volumes.target_created:
        return False
    started = time.monotonic()
    if not caches.seed_from_protected(engine, volumes, image_id=image_id):
        on_line(f"xcargo: target cache of ref {volumes.lane}: new, and no protected one to copy")
        return False
    on_line(
        f"xcargo: target cache of ref {volumes.lane}: a copy of the protected one "
        f"({time.monotonic() - started:.1f} s); this build never writes the protected one"
    )
    return True


def _catalogue(
    engine: Engine, request: BuildRequest, on_line: LineCallback
) -> Callable[[str], Selection | None]:
    """The catalogue's best image of the target for a toolchain: one on the engine when any
    fits (the registries are not asked then), else one of the trusted registries.
    """
    order = request.config.container.image_registry
    if request.walk_trusted:
        order += tuple(host for host in request.trust.hosts if host not in order)

    def best(channel: str) -> Selection | None:
        on_engine = engine_catalogue(engine, request.trust)
        return select(on_engine, request.triple, channel, order) or select(
            mark_present(
                registry_catalogue(
                    request.trust,
                    order,
                    [request.triple],
                    warn=lambda message: on_line(f"xcargo: {message}"),
                ),
                on_engine,
            ),
            request.triple,
            channel,
            order,
        )

    return best


def _image_for(
    engine: Engine, request: BuildRequest, choice: ImageChoice, on_line: LineCallback
) -> tuple[Image, str]:
    """The build's image and its digest: a custom one made from its reviewed Dockerfile when
    it changed; a toolchain image made first when it is missing and the request allows it;
    any other as its registry allows (obtain_image).
    """
    if choice.custom is not None:
        _check_dockerfile(request, choice.custom, on_line)
        image = ensure_custom_image(
            engine, choice.custom, project=request.project.key, on_line=on_line
        )
        return image, image.id
    if not choice.makeable:
        obtained = obtain_image(
            engine,
            parse_image_reference(choice.reference),
            trust=request.trust,
            approvals=request.approvals,
            approve_how=request.approve_how,
            on_line=on_line,
        )
        return obtained.image, obtained.digest
    making = choice.toolchain if request.bootstrap_missing else None
    try:
        image = resolve_image(engine, choice, request.triple)
    except ImageMissing:
        if making is None:
            raise
        channel = making.channel
        on_line(
            f"xcargo: no image of toolchain {channel} for {request.triple} yet: "
            "making it (once, minutes)"
        )
        bootstrap(engine, [request.triple], toolchains=[channel], on_line=on_line)
        image = resolve_image(engine, choice, request.triple)
    return image, image.id


def _pre_built(
    engine: Engine,
    request: BuildRequest,
    base: str,
    pre_build: tuple[str, ...] | Path,
    on_line: LineCallback,
) -> tuple[Image, str]:
    """The chosen image with the target's pre-build commands run on top, and its reference: a
    custom image, reviewed like a project's Dockerfile and made once for the same commands and
    base.
    """
    dockerfile = pre_build_dockerfile(
        pre_build,
        base=base,
        triple=request.triple,
        project_root=request.project.root,
        state_dir=request.state_dir,
        named_by=request.config.where(request.triple, "pre_build"),
    )
    custom = prepare_custom_image(dockerfile, image_ids=lambda ref: _image_id(engine, ref))
    on_line(f"xcargo: pre-build on top of {base}: image {custom.reference}")
    _check_dockerfile(request, custom, on_line)
    image = ensure_custom_image(engine, custom, project=request.project.key, on_line=on_line)
    return image, custom.reference


def _image_id(engine: Engine, reference: str) -> str | None:
    image = find_image(engine, reference)
    return image.id if image is not None else None


def _check_dockerfile(request: BuildRequest, image: CustomImage, on_line: LineCallback) -> None:
    """A Dockerfile with concerns is built only once a person approved its reviewed text."""
    shown, review = image.dockerfile.shown, image.review
    approved = check_approved(
        shown,
        image.text,
        review,
        request.trust,
        request.approvals,
        how=request.approve_how,
    )
    if approved:
        on_line(
            f"xcargo: {shown}: {len(approved)} concerns approved by a person "
            f"(approval {approval_code(review)}):"
        )
        for concern in approved:
            on_line(f"xcargo:   {shown}:{concern}")


@dataclass
class _Run:
    """One build's state on its way through the phases, so each phase reads like a step."""

    engine: Engine
    request: BuildRequest
    image_id: str
    result: BuildResult
    on_line: LineCallback
    on_phase: PhaseCallback
    # Where the output of the program `xcargo run` runs goes.
    on_output: LineCallback
    deadline: float
    # What the build compiles with -Zbuild-std ("std,panic_abort"); "" when the image has std.
    std_crates: str = ""

    def fetch_and_build(self, lockfile: Path) -> None:
        volumes = self.result.volumes
        stamp = (
            self.request.state_dir,
            volumes.cargo_home,
            volumes.cargo_home_generation,
            lockfile,
            self.std_crates,
        )
        self.result.fetch_skipped = not volumes.scratch and fetch_stamps.is_fetched(*stamp)
        if self.result.fetch_skipped:
            self.on_line(
                "xcargo: Cargo.lock unchanged since the last fetch into this cache: not fetching"
            )
        elif not self.fetch():
            return
        if not volumes.scratch:
            fetch_stamps.mark_fetched(*stamp)
        built = self.build()
        if built == _MISSING_CRATES and self.result.fetch_skipped:
            self.on_line(
                "xcargo: the cache misses crates the stamp promised: fetching, building again"
            )
            fetch_stamps.forget(*stamp)
            self.result.fetch_skipped = False
            if not self.fetch():
                return
            fetch_stamps.mark_fetched(*stamp)
            built = self.build()
        if built == _MISSING_CRATES:
            # Right after a fetch of this very Cargo.lock: what is missing is not a crate the
            # lock names, but something the build tried to download itself.
            self.result.failure = (
                "the build needed a download that `cargo fetch` had not made (see the log "
                "above), and builds run with no network: a build script that downloads at "
                "build time cannot work here; vendor what it downloads, or fetch it in a "
                "custom image"
            )

    def fetch(self) -> bool:
        """`cargo fetch --locked` with the network on; counts the crates it downloads."""
        mounts = [self._source_mount(), *self.result.volumes.fetch_mounts()]
        environment = self._environment()
        if self.request.ca_bundle is not None:
            bundle = str(self.request.ca_bundle)
            mounts.append(Mount(target=CA_BUNDLE_PATH, source=bundle, type="bind", read_only=True))
            environment["CARGO_HTTP_CAINFO"] = CA_BUNDLE_PATH

        def count(line: str) -> None:
            if _DOWNLOADED.match(line):
                self.result.crates_downloaded += 1
            self.on_line(line)

        self.on_phase(FETCHING)
        # No --target: that would leave out what build scripts and proc macros need on the
        # build host. With -Zbuild-std it fetches std's own dependencies too.
        command = ["cargo", "fetch", "--locked", *self._build_std()]
        spec = self._spec("fetch", command, mounts, environment, network=True)
        with PhaseContainer(self.engine, spec) as phase:
            outcome = phase.run(count, timeout=self._remaining())
        self.result.phases[FETCHING.timing] = outcome.seconds
        if outcome.exit_code != 0:
            self.result.exit_code = outcome.exit_code
            self.result.failure = "cargo fetch failed: dependencies could not be downloaded"
            return False
        return True

    def build(self) -> str:
        """`cargo build` (or check, or `test --no-run`) offline with no network, then the
        artifacts out, or the tests run. Returns `_MISSING_CRATES` when the offline build
        missed crates a stale stamp said were cached.
        """
        command = [
            *self._cargo_command(), *self._build_std(), "--offline", "--locked",
            "--message-format=json-render-diagnostics",
        ]  # fmt: skip
        if self.request.release:
            command.append("--release")
        command += self.request.cargo_args
        self.on_phase(BUILDING)
        messages: list[dict[str, object]] = []
        findings = _LogFindings()

        def route(line: str) -> None:
            if line.startswith(compiler_cache.STATS_PREFIX):
                self._note_compiler_cache(line)
                return
            if line.startswith(target_sweep.SWEEP_PREFIX):
                self._note_sweep(line)
                return
            message = parse_message(line)
            if message is not None:
                if message.get("reason") == "compiler-artifact":
                    messages.append(message)
                return
            findings.scan(line)
            self.on_line(line)

        mounts = [self._source_mount(), *self.result.volumes.build_mounts()]
        if not self.result.volumes.scratch:
            command = target_sweep.with_sweep(command, unused_days=self._unused_days())
        if self.result.volumes.compiler_cache:
            command = compiler_cache.with_stats(command)
        spec = self._spec(
            "build",
            with_private_cargo_home(command),
            mounts,
            {**self._environment(), **self.result.volumes.build_environment()},
            private_dirs=(CARGO_HOME_DIR,),
            disk_watch=(TARGET_DIR,),
        )
        unchanged_key = self._unchanged_key(spec)
        # Right after a fetch, the CARGO_HOME may hold crates it did not: cargo looks.
        if (
            unchanged_key is not None
            and self.result.fetch_skipped
            and self._nothing_changed(unchanged_key, spec)
        ):
            return _BUILT
        with PhaseContainer(self.engine, spec) as phase:
            outcome = phase.run(route, timeout=self._remaining())
            self.result.phases[BUILDING.timing] = outcome.seconds
            self.result.exit_code = outcome.exit_code
            if outcome.exit_code != 0:
                if findings.offline_miss:
                    return _MISSING_CRATES
                self.result.failure = findings.explain(
                    self.request.triple,
                    self.result.image,
                    self.request.limits.memory,
                    self.result.toolchain,
                    self.result.glibc_floor,
                )
                return _FAILED
            if self.request.command in MAKES_ARTIFACTS:
                self.on_phase(COLLECTING)
                self._collect(phase, messages)
        executables = executable_paths(messages)
        if unchanged_key is not None and self.result.failure is None:
            paths = [self._container_path(artifact) for artifact in self.result.artifacts]
            unchanged_builds.remember(
                self.request.state_dir,
                unchanged_key,
                [
                    RecordedArtifact(path, artifact.path, path in executables)
                    for path, artifact in zip(paths, self.result.artifacts, strict=True)
                ],
            )
        if self.request.command in MAKES_ARTIFACTS:
            self._smoke(executables)
        if self.request.command in RUNS_TESTS:
            self._test(libtest_programs(messages))
        elif self.request.command == RUN and self.result.failure is None:
            self._run_program(executables)
        return _BUILT

    def _unchanged_key(self, spec: ContainerSpec) -> str | None:
        """The key of a plain `cargo build` whose container could be skipped when nothing
        changed (unchanged_builds); None for anything else: one on scratch volumes, a check,
        tests, a run, and a build whose artifacts go to an output directory of its own (the
        server's), whose copies no later build finds, so its tree is not walked for nothing.
        """
        volumes = self.result.volumes
        if self.request.command != BUILD or volumes.scratch or self.request.output_dir is not None:
            return None
        tree = unchanged_builds.tree_digest(self.request.project.root, skip=self._output_root())
        if tree is None:
            return None
        generations = (volumes.cargo_home_generation, volumes.target_generation)
        return unchanged_builds.build_key(spec, tree, generations)

    def _nothing_changed(self, key: str, spec: ContainerSpec) -> bool:
        """True when the last build with this key left artifacts that are still, byte for
        byte, in the target cache and on the host: they are this build's, and cargo is not
        started. The target cache is looked at through the build's container, created and
        never started.
        """
        recorded = unchanged_builds.recall(self.request.state_dir, key)
        if not recorded:
            return False
        started = time.monotonic()
        artifacts = []
        with PhaseContainer(self.engine, spec) as probe:
            for item in recorded:
                stat = probe.stat(item.container_path)
                stamp = self._stamp_key(item.container_path, item.destination)
                artifact = artifact_stamps.recall(stamp, stat) if stat is not None else None
                if artifact is None:
                    return False
                artifacts.append(artifact)
        self.on_line(
            "xcargo: nothing changed since the last build (the project's files, Cargo.lock, "
            "image, options) and its artifacts are as it left them: cargo not started"
        )
        self.result.artifacts = artifacts
        self.result.exit_code = 0
        self.result.phases[BUILDING.timing] = time.monotonic() - started
        self.result.failure = floor_failure(self.result.artifacts, self.result.glibc_floor)
        self._smoke({item.container_path for item in recorded if item.executable})
        return True

    def _note_compiler_cache(self, line: str) -> None:
        volumes = self.result.volumes
        use = compiler_cache.parse_stats(
            line, volume=volumes.compiler_cache, writable=volumes.protected
        )
        if use is not None:
            self.result.compiler_cache = use
            self.on_line(f"xcargo: {use.summary()}")

    def _unused_days(self) -> int:
        return self.request.config.container.cache.target_unused_days

    def _note_sweep(self, line: str) -> None:
        sweep = target_sweep.parse_sweep(line, unused_days=self._unused_days())
        if sweep is not None and sweep.units:
            self.on_line(f"xcargo: {sweep.summary()}")

    def _cargo_command(self) -> list[str]:
        """`cargo build --target T`, or with zig `cargo zigbuild --target T.<floor>` (no floor
        for musl); `cargo check`; `cargo test --no-run` (cargo-zigbuild's with zig): the tests
        run under emulation afterwards.
        """
        triple, command = self.request.triple, self.request.command
        if command == CHECK:
            return ["cargo", "check", "--target", triple]
        if self.result.strategy == ZIG:
            floor = self.result.glibc_floor
            target = ["--target", f"{triple}.{floor}" if floor else triple]
            if command in RUNS_TESTS:
                return ["cargo-zigbuild", command, *target, "--no-run"]
            return ["cargo", "zigbuild", *target]
        if command in RUNS_TESTS:
            return ["cargo", command, "--target", triple, "--no-run"]
        return ["cargo", "build", "--target", triple]

    def _run_program(self, executables: set[str]) -> None:
        """`xcargo run`: the one program built, under emulation, with the arguments after
        `--`; its output in the log and its exit status the command's.
        """
        programs = [
            artifact for artifact in self.result.artifacts
            if self._container_path(artifact) in executables
        ]  # fmt: skip
        if len(programs) != 1:
            names = ", ".join(sorted(artifact.name for artifact in programs)) or "none"
            raise UsageError(
                f"xcargo run needs exactly one program to run, and the build made {names}",
                hint="name it: --bin NAME (or --example NAME)",
            )
        [program] = programs
        setting = self._emulator_setting()
        floor = GlibcVersion.parse(self.result.glibc_floor) if self.result.glibc_floor else None
        path = self._container_path(program)
        self.on_line(f"     Running `{program.path.name} {' '.join(self.request.program_args)}`")
        self.result.program_exit_code = run_emulated(
            self.engine,
            setting,
            [*runner_for(self.request.triple, path, floor), *self.request.program_args],
            source_volume=self._source_mount(),
            working_dir=SOURCE_DIR,
            environment=dict(self.request.environment.values),
            on_line=self.on_output,
            timeout=self._remaining(),
        )

    def _test(self, programs: list[LibtestProgram]) -> None:
        """The test programs under emulation, cargo's way: all of them, libtest's output in
        the log; failing tests fail the build with cargo's exit status.
        """
        self.on_phase(TESTING)
        started = time.monotonic()
        setting = self._emulator_setting()
        floor = GlibcVersion.parse(self.result.glibc_floor) if self.result.glibc_floor else None
        report = run_tests(
            self.engine,
            setting,
            programs,
            triple=self.request.triple,
            floor=floor,
            arguments=(
                ("--bench", *self.request.program_args)
                if self.request.command == BENCH
                else self.request.program_args
            ),
            source_volume=self._source_mount(),
            environment=self.request.environment.values,
            on_line=self.on_line,
            remaining=self._remaining,
        )
        self.result.tests = report
        self.result.phases[TESTING.timing] = time.monotonic() - started
        self.on_line(f"xcargo: tests: {report.summary()}")
        if not report.succeeded:
            failing = ", ".join([*report.failures, *report.broken][:10])
            self.result.failure = f"tests failed: {report.summary()}: {failing}"
            self.result.failure_kind = vocabulary.TESTS

    def _build_std(self) -> list[str]:
        return [f"-Zbuild-std={self.std_crates}"] if self.std_crates else []

    def _environment(self) -> dict[str, str]:
        """The phases' environment: the request's variables under xcargo's own, over pkg-config's
        for the target (which a project may change); -Zbuild-std is
        unstable, so cargo and the rustc that compiles std need RUSTC_BOOTSTRAP (a build script
        that asks sees a nightly rustc).
        """
        recipe = RECIPES.get(self.request.triple)
        pkg_config = recipe.pkg_config_environment(self.engine.debian_arch) if recipe else {}
        environment = {**pkg_config, **self.request.environment.values, **_environment()}
        if self.std_crates:
            environment["RUSTC_BOOTSTRAP"] = "1"
        return environment

    def _collect(self, phase: PhaseContainer, messages: list[dict[str, object]]) -> None:
        started = time.monotonic()
        fresh = fresh_paths(messages)
        for container_path in artifact_paths(messages):
            relative = relative_output_path(container_path, TARGET_DIR)
            destination = self._output_root().joinpath(*relative.parts)
            self.result.artifacts.append(
                self._copy_out(phase, container_path, destination, fresh=container_path in fresh)
            )
        self.result.phases[COLLECTING.timing] = time.monotonic() - started
        self.result.failure = floor_failure(self.result.artifacts, self.result.glibc_floor)

    def _copy_out(
        self, phase: PhaseContainer, container_path: str, destination: Path, *, fresh: bool
    ) -> Artifact:
        """The artifact copied to `destination`, unless cargo reports it fresh and its stamp
        says both ends are as the last copy left them (artifact_stamps).
        """
        key = self._stamp_key(container_path, destination)
        stat = phase.stat(container_path)
        if stat is None:
            raise XcargoError(f"cargo reported {container_path}, and the build left no such file")
        if fresh and (artifact := artifact_stamps.recall(key, stat)) is not None:
            self.on_line(f"xcargo: {artifact.name}: fresh, as already copied: not copied again")
            return artifact
        artifact = with_glibc(extract_single_file(phase.archive(container_path), destination))
        artifact_stamps.remember(key, stat, artifact)
        return artifact

    def _stamp_key(self, container_path: str, destination: Path) -> artifact_stamps.StampKey:
        volumes = self.result.volumes
        return artifact_stamps.StampKey(
            self.request.state_dir,
            volumes.target,
            "" if volumes.scratch else volumes.target_generation,
            container_path,
            destination,
        )

    def _output_root(self) -> Path:
        """The host directory artifacts are copied into: cargo's layout below it."""
        return self.request.output_dir or self.request.project.root / "target"

    def _container_path(self, artifact: Artifact) -> str:
        """Where a copied artifact is in the build container's target directory."""
        return f"{TARGET_DIR}/{artifact.path.relative_to(self._output_root()).as_posix()}"

    def _smoke(self, executables: set[str]) -> None:
        """Start each program once (unless the target's `smoke` is "off"); with "require",
        one that fails fails the build, and the artifacts stay where they were copied.
        """
        policy, where = smoke_policy(self.request.config, self.request.triple)
        in_container = [
            (index, artifact, self._container_path(artifact))
            for index, artifact in enumerate(self.result.artifacts)
        ]
        runs = [run for run in in_container if run[2] in executables]
        if policy == OFF or not runs:
            return
        self.on_phase(SMOKE_RUNNING)
        started = time.monotonic()
        setting = self._smoke_setting()
        floor = GlibcVersion.parse(self.result.glibc_floor) if self.result.glibc_floor else None
        for index, artifact, path in runs:
            outcome = self._smoke_one(setting, artifact, path, floor)
            self.result.artifacts[index] = dataclasses.replace(artifact, smoke=outcome)
            if outcome.failed and policy == REQUIRE and self.result.failure is None:
                self.result.failure = (
                    f"the smoke-run of {artifact.name} failed ({outcome.summary}), and "
                    f"{where} requires it to pass; the artifact is kept for a look"
                )
                self.result.failure_kind = vocabulary.SMOKE
        self.result.phases[SMOKE_RUNNING.timing] = time.monotonic() - started

    def _smoke_one(
        self,
        setting: SmokeSetting | None,
        artifact: Artifact,
        path: str,
        floor: GlibcVersion | None,
    ) -> SmokeRun:
        """One artifact's smoke-run, or the passed run of this very binary remembered."""
        key = smoke_memo.MemoKey(
            self.request.state_dir,
            artifact.sha256,
            setting.image_id if setting is not None else "",
            self.request.triple,
            self.result.glibc_floor,
            path,
        )
        if (remembered := smoke_memo.recall(key)) is not None:
            self.on_line(
                f"xcargo: smoke-run {artifact.name}: {remembered.run.describe()} (this same "
                f"binary's run at {remembered.ran_at}: not started again)"
            )
            return remembered.run
        outcome = smoke_run(
            self.engine,
            setting,
            triple=self.request.triple,
            host_path=artifact.path,
            container_path=path,
            floor=floor,
        )
        self.on_line(f"xcargo: smoke-run {artifact.name}: {outcome.describe()}")
        smoke_memo.remember(key, outcome)
        return outcome

    def _emulator_setting(self) -> SmokeSetting:
        """Where programs run under emulation: the smoke image, which holds the emulators."""
        setting = self._smoke_setting()
        if setting is None:
            raise UsageError(
                f"{self.request.triple} programs cannot run: the engine has no smoke image "
                f"({naming.SMOKE_IMAGE}), which holds the emulators",
                hint="run `xcargo images bootstrap`",
            )
        return setting

    def _smoke_setting(self) -> SmokeSetting | None:
        """The smoke image on the engine, made first when missing images may be made."""
        image = find_image(self.engine, naming.SMOKE_IMAGE)
        if image is None:
            if not self.request.bootstrap_missing:
                return None
            self.on_line("xcargo: no smoke image yet: making it (once, a minute or two)")
            try:
                ensure_smoke_image(self.engine, on_line=self.on_line)
            except BootstrapError as error:
                self.on_line(f"xcargo: the smoke image could not be made: {error}")
                return None
            image = find_image(self.engine, naming.SMOKE_IMAGE)
            if image is None:
                return None
        spec = self._spec("smoke", [], [], {})
        return SmokeSetting(
            image=naming.SMOKE_IMAGE,
            image_id=image.id,
            target_volume=self.result.volumes.target,
            name=spec.name,
            labels=dict(spec.labels),
            limits=self.request.limits,
        )

    def _spec(
        self,
        phase: str,
        command: list[str],
        mounts: list[Mount],
        environment: dict[str, str],
        *,
        network: bool = False,
        private_dirs: tuple[str, ...] = (),
        disk_watch: tuple[str, ...] = (),
    ) -> ContainerSpec:
        """Only the fetch phase gets a network; the build runs with none."""
        project, triple = self.request.project.key, self.request.triple
        return ContainerSpec(
            name=naming.build_container(project, triple, phase),
            image=self.image_id,
            command=command,
            mounts=mounts,
            environment=environment,
            labels=naming.managed_labels(
                naming.KIND_BUILD,
                project=project,
                target=triple,
                phase=phase,
                **self.request.container_labels,
            ),
            limits=self.request.limits,
            network=network,
            private_dirs=private_dirs,
            disk_watch=disk_watch,
        )

    def _source_mount(self) -> Mount:
        source = str(self.request.project.root)
        return Mount(target=SOURCE_DIR, source=source, type="bind", read_only=True)

    def _remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 1.0)


@dataclass
class _LogFindings:
    """What the build log said that xcargo must explain, scanned line by line so that a log of
    any length is never held in memory.
    """

    read_only: bool = False
    no_std: bool = False
    sigkill: bool = False
    offline_miss: bool = False
    too_old: bool = False
    # A library of the image that the link needed at a newer glibc than the floor ("2.34").
    newer_glibc: GlibcVersion | None = None

    def scan(self, line: str) -> None:
        self.too_old = self.too_old or _TOO_OLD in line
        if match := _NEWER_GLIBC.search(line):
            needed = GlibcVersion.parse(match[1])
            self.newer_glibc = max(needed, self.newer_glibc or needed)
        self.read_only = self.read_only or _READ_ONLY in line
        self.no_std = self.no_std or bool(_NO_STD.search(line))
        self.sigkill = self.sigkill or _SIGKILL in line
        self.offline_miss = self.offline_miss or any(hint in line for hint in _OFFLINE_MISS)

    def explain(self, triple: str, image: str, memory: str, toolchain: str, floor: str) -> str:
        """Name the failures that are xcargo's doing, which cargo's own words can't explain."""
        if self.newer_glibc is not None and floor:
            return (
                f"a library linked from {image} needs glibc {self.newer_glibc}, above the "
                f"build's floor {floor} (see the undefined references above): the system "
                "libraries of an image are as new as its glibc; build the library from source "
                "(a -sys crate's `vendored` or `static` feature), or raise the floor "
                f'(xcargo.toml: [targets."{triple}".container] glibc)'
            )
        if self.too_old:
            return (
                f"a dependency needs a newer rustc than toolchain {toolchain} (see the log "
                f"above): build with a newer one (--toolchain, or xcargo.toml's [container] "
                f"toolchain; Debian offers {', '.join(TOOLCHAINS)})"
            )
        if self.read_only:
            return (
                "the build tried to write into the source directory, which xcargo mounts "
                "read-only; build scripts must write into OUT_DIR (the source is untouched)"
            )
        if self.no_std:
            return (
                f"{image} has no Rust standard library for {triple}: use an image made for it "
                f"(`xcargo images bootstrap --target {triple}`)"
            )
        if self.sigkill:
            return (
                f"a compiler process was killed (SIGKILL), most likely at the memory limit of "
                f"{memory}: raise it with --memory"
            )
        return "cargo build failed (see the log above)"


def _environment() -> dict[str, str]:
    return {
        "CARGO_HOME": CARGO_HOME_DIR,
        "CARGO_TARGET_DIR": TARGET_DIR,
        "CARGO_TERM_COLOR": "never",
        "CARGO_TERM_PROGRESS_WHEN": "never",
        # cargo (1.88 and newer) removes downloads no build used for months from CARGO_HOME,
        # checking once a day; older cargo ignores it.
        "CARGO_CACHE_AUTO_CLEAN_FREQUENCY": "1 day",
        "HOME": "/tmp",
        # zig's caches (the glibc stubs of a floor, compiled once) live with the target cache,
        # unless the build may write the compiler cache (runtimes.compiler_cache).
        "ZIG_GLOBAL_CACHE_DIR": f"{TARGET_DIR}/zig-cache",
        "ZIG_LOCAL_CACHE_DIR": f"{TARGET_DIR}/zig-cache",
    }
