"""What a build is asked to do and what came of it: the values the CLI and the server's worker
hand to a build and read back, whichever strategy ran it (a container or the host's cargo).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runtimes import caches
from runtimes.artifacts import Artifact
from runtimes.build_env import BuildEnvironment
from runtimes.cargo_args import BUILD
from runtimes.compiler_cache import CompilerCacheUse
from runtimes.config import XcargoConfig
from runtimes.emulation import LibtestReport
from runtimes.glibc import DEFAULT_FLOOR, GlibcVersion
from runtimes.images.trust import TrustPolicy
from runtimes.project import CargoProject
from runtimes.sandbox import Limits
from runtimes.toolchains import TOOLCHAINS
from runtimes.vocabulary import ErrorKind

DEFAULT_TIMEOUT_SECONDS = 30 * 60


@dataclass(frozen=True)
class BuildRequest:
    project: CargoProject
    triple: str
    config: XcargoConfig
    release: bool = False
    # Cargo's own arguments for the build (features, packages, binaries, profile…), checked by
    # runtimes.cargo_args.
    cargo_args: tuple[str, ...] = ()
    # What cargo does (runtimes.cargo_args.COMMANDS), and the arguments after `--`: what the
    # test programs get.
    command: str = BUILD
    program_args: tuple[str, ...] = ()
    # The variables the build's containers get beyond xcargo's own, and the secrets the log masks.
    environment: BuildEnvironment = field(default_factory=BuildEnvironment)
    image: str | None = None
    # How `image` was named, for the reason the build records ("--container-image").
    image_named_by: str = ""
    # A Dockerfile named with the build (relative to the project root), how it was named, and
    # build arguments over those of xcargo.toml.
    dockerfile: str | None = None
    dockerfile_named_by: str = "--dockerfile"
    build_args: Mapping[str, str] = field(default_factory=dict)
    # Registries a custom Dockerfile's images may come from, and the approval codes of the
    # Dockerfiles and images a person approved; `approve_how` tells how to approve one ("{kind}"
    # and "{code}" in it).
    trust: TrustPolicy = field(default_factory=TrustPolicy)
    # Whether the catalogue walks every trusted registry after those of `[container]
    # image_registry` (the server: its admins' registries serve every project), or only those.
    walk_trusted: bool = False
    approvals: frozenset[str] = frozenset()
    approve_how: str = "run the build again with --approve-{kind} {code}"
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    limits: Limits = field(default_factory=Limits)
    state_dir: Path = Path(".")
    ca_bundle: Path | None = None
    # Where artifacts land (as target/<triple>/<profile>/…); None: the project's own target/.
    output_dir: Path | None = None
    # Make a missing toolchain image (never one named by --container-image or xcargo.toml).
    bootstrap_missing: bool = False
    # An unprotected ref, which builds on a target cache of its own; "" the protected one.
    target_lane: str = ""
    # Hears the cache volumes' names before the build creates or uses them (the server's
    # leases); None: nothing to tell.
    claim_volumes: Callable[[list[str]], None] | None = None
    # More labels of the build's containers (LABEL_* suffixes): the server's build id.
    container_labels: Mapping[str, str] = field(default_factory=dict)
    # The toolchain named with the build (--toolchain, the API's field), and how.
    toolchain: str | None = None
    toolchain_named_by: str = "--toolchain"
    # The server's pinned default, used when nothing else names one; None: the newest.
    default_toolchain: str | None = None
    # The toolchains this machine offers (XCARGO_TOOLCHAINS), made here or makeable.
    offered_toolchains: tuple[str, ...] = tuple(TOOLCHAINS)
    # The glibc floor named with the build (the triple's `.2.17` suffix), and the default.
    glibc_floor: GlibcVersion | None = None
    default_glibc_floor: GlibcVersion = DEFAULT_FLOOR
    default_glibc_floor_by: str = "the default: RHEL 8, Debian 10, Ubuntu 20.04 and newer"
    # The server builds every target in a container, whatever use_when says.
    containers_only: bool = False


@dataclass
class BuildResult:
    triple: str
    image: str
    image_source: str
    image_reason: str
    image_id: str
    image_digest: str
    rustc_version: str
    toolchain: str
    toolchain_reason: str
    strategy: str
    strategy_reason: str
    # The cache volumes it used; None for a native build, which uses the project's target/.
    volumes: caches.CacheVolumes | None
    # The oldest glibc its artifacts must run on; "" for a target that does not link glibc.
    glibc_floor: str = ""
    exit_code: int = -1
    phases: dict[str, float] = field(default_factory=dict)
    fetch_skipped: bool = False
    crates_downloaded: int = 0
    artifacts: list[Artifact] = field(default_factory=list)
    # What the test programs reported (`xcargo test`, `bench`); None when no tests ran.
    tests: LibtestReport | None = None
    # The exit status of the program `xcargo run` ran; None when none ran.
    program_exit_code: int | None = None
    failure: str | None = None
    # The kind of `failure` when it is not cargo's (a required smoke-run that failed).
    failure_kind: ErrorKind | None = None
    # Whether the target cache was made for this build as a copy of the protected one.
    target_seeded: bool = False
    # What the build took from the shared compiler cache; None when it used none.
    compiler_cache: CompilerCacheUse | None = None

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and self.failure is None
