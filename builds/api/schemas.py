"""What goes into the API and comes out of it: typed and bounded inputs, the JSON shapes of
answers, and the refusals an operation can answer, so that its OpenAPI description lists
every status it can give.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Path, Schema
from pydantic import ConfigDict

from builds.models import Artifact, Build
from runtimes.cargo_args import SERVER_COMMANDS
from runtimes.sources import REF_PATTERN

MAX_ID = 2**31 - 1
Slug = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[-a-zA-Z0-9_]+$")]
Triple = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_.-]+$")]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
StateName = Literal[tuple(Build.State.values)]  # type: ignore[valid-type]


# What a tried smoke-run can be; the model's empty "not tried" is sent as no smoke object.
_SMOKE_STATES = tuple(state for state in Artifact.SmokeState.values if state)
SmokeStateName = Literal[_SMOKE_STATES]  # type: ignore[valid-type]


class SmokeOut(Schema):
    """What starting the artifact once after the build showed."""

    state: SmokeStateName = Field(
        description="passed; failed (it failed, or is not of the target's architecture); "
        "not run (no way to run the target's programs, or no smoke image)"
    )
    summary: str = Field(description="how it ran, or why it could not, or what failed")
    command: str = Field(description="the command line that ran; empty: none ran")
    exit_code: int | None = Field(
        description="its exit status; null: none ran, or it was stopped still running"
    )
    output: list[str] = Field(description="the first lines it printed")
    seconds: float


class ArtifactOut(Schema):
    id: int
    name: str
    path: str
    size: int
    sha256: str
    glibc: str = Field(
        description="the newest glibc version it needs (from its ELF symbol versions); "
        "empty: none (not a dynamically linked glibc binary)"
    )
    smoke: SmokeOut | None = Field(
        description="its smoke-run; null: not tried (not an executable, or smoke = off)"
    )
    url: str


class ConcernOut(Schema):
    line: int
    what: str = Field(description="a finding of the review, or an image from an untrusted registry")
    registry: str | None = Field(description="the untrusted registry; null: a finding")


class ApprovalOut(Schema):
    """The decision a build's custom Dockerfile needed before it could be built."""

    path: str = Field(description="the Dockerfile, in the project")
    code: str = Field(description="binds the decision to this exact text and build arguments")
    decision: str = Field(description="pending, approved or rejected")
    decided_by: str | None
    decided_at: datetime | None
    concerns: list[ConcernOut]


# The commands a server build runs (runtimes.cargo_args.SERVER_COMMANDS), as a JSON enum.
ServerCommand = Literal[SERVER_COMMANDS]  # type: ignore[valid-type]


class TestsOut(Schema):
    passed: int
    failed: int
    ignored: int
    programs: int = Field(description="how many test programs ran")
    failures: list[str] = Field(description="the failing tests, as package: path::name")
    broken: list[str] = Field(description="test programs that ended without a result")


class BuildOut(Schema):
    id: int
    url: str
    project: str
    target: str
    ref: str
    commit: str
    release: bool
    cargo_args: list[str] = Field(description="cargo's own arguments it was built with")
    test_args: list[str] = Field(description="a test run's arguments for the test programs")
    command: str = Field(description="build, or test (a test run)")
    tests: TestsOut | None = Field(description="a test run's results; null: no tests ran")
    state: str
    success: bool | None
    triggered_by: str | None
    engine_host: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    phases: dict[str, float]
    fetch_skipped: bool
    crates_downloaded: int
    image: str
    image_source: str = Field(
        description="named (with the build), xcargo.toml, dockerfile (a custom image), or toolchain"
    )
    image_reason: str = Field(description="why this image, in words")
    image_digest: str
    rustc_version: str
    requested_toolchain: str = Field(description="the toolchain asked for; empty: none")
    toolchain: str = Field(description="the toolchain it built with, e.g. 1.96")
    toolchain_reason: str = Field(description="why that toolchain, in words")
    strategy: str = Field(description="container, zig (in the container) or native")
    strategy_reason: str = Field(description="why that strategy, in words")
    glibc_floor: str = Field(
        description="the oldest glibc its artifacts must run on; empty: not a glibc target"
    )
    target_cache: str = Field(description="the target volume the build wrote")
    target_cache_protected: bool | None = Field(
        description="true: the protected cache (default branch, tags, protected refs); "
        "false: its ref's own; null: none (caching off, or it never got that far)"
    )
    target_cache_seeded: bool = Field(
        description="its ref's cache was made for it as a copy of the protected one"
    )
    exit_code: int | None
    error_kind: str
    error_message: str
    log_lines: int
    cancel_requested: bool
    approval: ApprovalOut | None = Field(
        description="its custom Dockerfile's approval; null: none was needed"
    )
    joined_build: int | None = Field(
        description="the id of the identical build, queued at the same time, that this one "
        "joined: it does not run itself, and ends with that build's state, result and "
        "artifacts (the log is that build's); null: it runs itself"
    )
    artifacts: list[ArtifactOut]


class BuildIn(Schema):
    # The ref pattern looks ahead (no "..", no "//"), which only Python's re engine does.
    model_config = ConfigDict(regex_engine="python-re")

    project: Slug
    target: Triple
    ref: str = Field(
        "",
        max_length=200,
        pattern=rf"^\s*({REF_PATTERN})?\s*$",
        description="branch, tag or commit; empty: the project's default",
    )
    toolchain: str = Field(
        "",
        max_length=20,
        pattern=r"^(stable|[0-9]{1,4}\.[0-9]{1,4}(\.[0-9]{1,4})?)?$",
        description="a Rust toolchain this server offers (e.g. 1.96) or stable; empty: the "
        "project's choice (xcargo.toml, rust-toolchain.toml), else the server's default",
    )
    cargo_args: list[str] = Field(
        default_factory=list,
        description="cargo's own arguments, after the target's: --features, -p, --bin, "
        "--profile…; --target-dir and others that would break the sandbox are refused",
    )
    test_args: list[str] = Field(
        default_factory=list,
        description="a test run's arguments for each test program (cargo test -- ARGS): a "
        "filter, --ignored, --test-threads 1…",
    )
    engine_host: str = Field(
        "",
        max_length=100,
        description="the engine host to build on (GET /api/engines lists them); empty: where "
        "the target built last (its caches are warm), else the default host",
    )
    command: ServerCommand = Field(
        "build", description="test: build the tests and run them under the target's emulator"
    )


class BuildPage(Schema):
    items: list[BuildOut]
    count: int
    next_offset: int | None


class LogOut(Schema):
    lines: list[str]
    offset: int
    next_offset: int
    total_lines: int
    state: str
    finished: bool


class Error(Schema):
    detail: str
    field: str | None = None
    hint: str | None = None


class Invalid(Schema):
    """Input that does not fit the description: each problem located (`loc`) and said (`msg`)."""

    detail: list[dict[str, Any]]


def answers(success: dict[int, Any], *refusals: int) -> dict[int, Any]:
    """An operation's answers for its description: its success, the refusals it names, and
    those every operation can give (a malformed request 400, no or a wrong token 401, input
    that does not fit the description 422).
    """
    return {**success, 400: Error, 401: Error, 422: Invalid, **dict.fromkeys(refusals, Error)}


class TargetOut(Schema):
    id: int
    triple: str
    image: str
    dockerfile: str = Field(description="the Dockerfile its image is made from; empty: none")
    build_args: dict[str, str]
    cargo_args: list[str] = Field(description="cargo's own arguments for every build of it")
    release: bool
    enabled: bool


class VariableOut(Schema):
    name: str
    target: str | None = Field(description="the target's triple; null: every target")
    secret: bool
    value: str | None = Field(description="null for a secret: its value is never shown")


class ProjectOut(Schema):
    name: str
    slug: str
    source: str
    default_ref: str
    targets: list[TargetOut]
    variables: list[VariableOut] = Field(description="environment variables its builds see")


class ImageOut(Schema):
    engine_host: str
    reference: str
    registry: str
    digest: str
    size: int | None
    targets: list[str]
    toolchain: str = Field(description="the toolchain channel it was made for, e.g. 1.96")
    rustc_version: str
    origin: str
    last_used: datetime | None


class VolumeOut(Schema):
    engine_host: str
    name: str
    kind: str
    project: str | None
    target: str
    size: int | None
    in_use: bool
    last_used: datetime | None


class CachesOut(Schema):
    volumes: list[VolumeOut]
    total_bytes: int


class EngineOut(Schema):
    name: str
    queue: str
    kind: str
    version: str
    rootless: bool | None
    max_concurrent_builds: int
    running_builds: int
    enabled: bool
    last_seen: datetime | None
    doctor: list[dict[str, Any]]
