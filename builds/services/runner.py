"""A build on its worker, from claim to final state.

The task hands over a build id; this module claims the build (one conditional update that a
duplicate delivery of the same message loses, and that the one-running-build-per-target
constraint refuses while another build of the target runs on the host), gets the source,
drives `runtimes.cross_build.run_build`, stores artifacts, and ends the build in exactly one
final state, whatever happens: every exception maps to a state and an error kind.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from builds.models import Approval, Artifact, Build, EngineHost
from builds.selectors import (
    approval_decision,
    approved_codes,
    build_environment,
    build_warning,
    trust_policy,
)
from builds.services import cache_quotas
from builds.services.approvals import park_for_approval
from builds.services.build_log import BuildLog
from builds.services.builds import end_build, record_phase
from builds.services.cache_lanes import target_lane
from builds.services.engines import connect_host, record_build_usage
from runtimes import host as host_facts
from runtimes import naming, vocabulary
from runtimes.build_values import BuildRequest, BuildResult
from runtimes.config import load_config
from runtimes.cross_build import run_build
from runtimes.engine import Engine
from runtimes.errors import XcargoError
from runtimes.images.trust import ApprovalNeeded
from runtimes.project import CargoProject, locate_project
from runtimes.sandbox import (
    Limits,
    stop_target_builds,
)
from runtimes.smoke import SmokeRun
from runtimes.sources import (
    Checkout,
    checkout_git,
    copy_local,
    redact_url,
    validate_local_path,
)
from runtimes.vocabulary import BUILDING, ErrorKind, Phase

logger = logging.getLogger(__name__)


class TargetBusy(Exception):
    """Another build of the same target runs on this host: the build stays queued, and is
    sent again the moment that build leaves its running state.
    """


class Cancelled(Exception):
    """The build was cancelled while it ran."""


@dataclass
class _Workspace:
    """Where one host keeps its sources: git mirrors, one checkout per project and target,
    artifacts on their way to storage, and cross_build's fetch stamps.
    """

    root: Path

    @classmethod
    def of(cls, build: Build) -> _Workspace:
        return cls(settings.XCARGO_WORK_DIR / naming.slug(build.engine_host.name))

    def mirror(self, build: Build) -> Path:
        return self.root / "mirrors" / f"{build.project.slug}.git"

    def checkout(self, build: Build) -> Path:
        return self.root / "checkouts" / build.project.slug / naming.slug(build.target.triple)

    def outputs(self, build: Build) -> Path:
        return self.root / "outputs" / str(build.pk)

    @property
    def state(self) -> Path:
        return self.root / "state"


def execute_build(build_id: int) -> EngineHost | None:
    """Run build `build_id` if it is still queued; raises TargetBusy while another build of
    its target runs on its host. Returns the host it ran on (whose cache sizes have changed),
    None if it did not run.
    """
    build = _claim(build_id)
    if build is None:
        logger.info("build %s: not queued any more (a duplicate delivery, or cancelled)", build_id)
        return None
    workspace = _Workspace.of(build)
    interrupted: BaseException | None = None
    parked: ApprovalNeeded | None = None
    # A build queued again (its Dockerfile or image approved) goes on with its log where it stopped.
    with BuildLog(build.pk, first_line=build.log_lines) as log:
        try:
            ending = _ending_of_result(_run(build, workspace, log), log)
        except ApprovalNeeded as needed:
            log.write(f"xcargo: {needed}")
            log.write(f"xcargo: {_waiting_for(build, needed)}")
            ending, parked = None, needed
        except BaseException as error:
            ending = _ending_of_error(build, error, log)
            # SystemExit, KeyboardInterrupt: recorded, then passed on to Celery.
            interrupted = None if isinstance(error, Exception) else error
        finally:
            shutil.rmtree(workspace.outputs(build), ignore_errors=True)
            cache_quotas.release_leases(build)
    # Only now, with the whole log stored, may the build look ended (or parked) to a page.
    if parked is not None:
        park_for_approval(build.pk, parked)
    else:
        end_build(build.pk, from_states=Build.RUNNING_STATES, **ending)
    if interrupted is not None:
        raise interrupted
    return build.engine_host


def _waiting_for(build: Build, needed: ApprovalNeeded) -> str:
    """What becomes of a build whose Dockerfile or image needs a decision, as its log says it."""
    decision = approval_decision(build.project, needed.approval)
    if decision == Approval.Decision.REJECTED:
        return f"this {needed.what} was rejected before: the build fails"
    if decision == Approval.Decision.APPROVED:
        return f"this {needed.what} was approved meanwhile: the build is queued again"
    return "the build waits for an admin's decision on its page"


def _claim(build_id: int) -> Build | None:
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = Build.objects.filter(pk=build_id, state=Build.State.QUEUED).update(
                state=Build.State.PREPARING_IMAGE, started_at=now, heartbeat_at=now
            )
    except IntegrityError:
        raise TargetBusy(f"build {build_id}: its target is building on this host") from None
    if not claimed:
        return None
    return Build.objects.select_related("project", "target", "engine_host").get(pk=build_id)


def _run(build: Build, workspace: _Workspace, log: BuildLog) -> BuildResult:
    engine = connect_host(build.engine_host)
    log.write(f"xcargo: build #{build.pk} of {build.target} on {engine.description}")
    if warning := build_warning(build.engine_host):
        log.write(f"xcargo: warning: {warning}")
    project, checkout = _source(build, workspace, log)
    config = load_config(project.root)
    lane = target_lane(build, checkout)
    # The claim guarantees no other build of this target runs here: what is left is a dead
    # worker's, and must go before its names are reused.
    if stop_target_builds(engine, project=project.key, target=build.target.triple, remove=True):
        log.write("xcargo: removed a container an interrupted build left behind")
    log.on_cancel = lambda: _stop(engine, project, build)
    request = BuildRequest(
        project=project,
        triple=build.target.triple,
        config=config,
        environment=build_environment(build.target, config),
        release=build.release,
        cargo_args=tuple(build.cargo_args),
        command=build.command,
        program_args=tuple(build.test_args),
        image=build.target.image or None,
        image_named_by="the target's image setting (admin)",
        dockerfile=build.target.dockerfile or None,
        dockerfile_named_by="the target's Dockerfile setting (admin)",
        build_args=build.target.build_args,
        trust=trust_policy(),
        walk_trusted=True,
        approvals=approved_codes(build.project),
        approve_how="an admin approves it on the build's page",
        timeout=settings.XCARGO_BUILD_TIMEOUT,
        state_dir=workspace.state,
        ca_bundle=host_facts.ca_bundle(),
        output_dir=workspace.outputs(build),
        bootstrap_missing=True,
        target_lane=lane,
        container_labels={"build": str(build.pk)},
        claim_volumes=lambda names: cache_quotas.take_leases(build.engine_host, build, names),
        limits=Limits(disk=build.target.disk_limit or settings.XCARGO_BUILD_DISK_LIMIT),
        toolchain=build.requested_toolchain or None,
        toolchain_named_by="the build",
        default_toolchain=settings.XCARGO_TOOLCHAIN or None,
        offered_toolchains=settings.XCARGO_TOOLCHAINS,
        default_glibc_floor=settings.XCARGO_GLIBC_FLOOR,
        default_glibc_floor_by="the server's floor (XCARGO_GLIBC_FLOOR)",
        containers_only=True,
    )
    if lane:
        log.write(f"xcargo: {lane} is not a protected ref: it builds on a target cache of its own")

    def on_phase(phase: Phase) -> None:
        if log.cancelled.is_set() or not record_phase(build.pk, phase.state):
            raise Cancelled

    result = run_build(engine, request, log.write, on_phase)
    if log.cancelled.is_set():
        raise Cancelled
    record_build_usage(build.engine_host, build.project, build.target.triple, result)
    _store_artifacts(build, result, workspace.outputs(build))
    return result


def _source(
    build: Build, workspace: _Workspace, log: BuildLog
) -> tuple[CargoProject, Checkout | None]:
    """The project's source, checked out (git) or copied (local path) for this build, and
    the git checkout (None for a local path).
    """
    project = build.project
    directory = workspace.checkout(build)
    if project.git_url:
        log.write(f"xcargo: fetching {redact_url(project.git_url)} at {build.ref or 'HEAD'}")
        checkout = checkout_git(
            project.git_url, build.ref, mirror=workspace.mirror(build), workdir=directory
        )
        Build.objects.filter(pk=build.pk).update(commit=checkout.commit)
        log.write(f"xcargo: checked out {checkout.commit}")
        return locate_project(directory), checkout
    source = validate_local_path(project.local_path, settings.XCARGO_SOURCE_ROOTS)
    log.write(f"xcargo: copying {source}")
    copy_local(source, directory)
    return locate_project(directory), None


def _stop(engine: Engine, project: CargoProject, build: Build) -> None:
    stop_target_builds(engine, project=project.key, target=build.target.triple, remove=False)


def _store_artifacts(build: Build, result: BuildResult, outputs: Path) -> None:
    for artifact in result.artifacts:
        with artifact.path.open("rb") as handle:
            stored = Artifact(
                build=build,
                name=artifact.name,
                path=str(artifact.path.relative_to(outputs)),
                size=artifact.size,
                sha256=artifact.sha256,
                glibc=str(artifact.glibc.highest) if artifact.glibc else "",
                **_smoke_fields(artifact.smoke),
            )
            stored.file.save(artifact.name, File(handle), save=True)


def _smoke_fields(run: SmokeRun | None) -> dict[str, Any]:
    """The artifact's smoke-run as its row keeps it; no run (not tried) leaves the defaults."""
    if run is None:
        return {}
    return dict(
        smoke_state=run.state,
        smoke_summary=run.summary,
        smoke_command=run.command,
        smoke_exit_code=run.exit_code,
        smoke_output="\n".join(run.output),
        smoke_seconds=round(run.seconds, 3),
    )


def _ending_of_result(result: BuildResult, log: BuildLog) -> dict[str, Any]:
    if result.succeeded:
        names = ", ".join(artifact.name for artifact in result.artifacts) or "no artifacts"
        log.write(f"xcargo: finished: {names}")
    else:
        log.write(f"xcargo: error: {result.failure}")
    kind = ""
    if not result.succeeded:
        kind = _kind_of_failure(result).word
    return dict(
        state=Build.State.FINISHED,
        success=result.succeeded,
        error_kind=kind,
        error_message=result.failure or "",
        exit_code=result.exit_code,
        phases={name: round(seconds, 3) for name, seconds in result.phases.items()},
        fetch_skipped=result.fetch_skipped,
        crates_downloaded=result.crates_downloaded,
        image=result.image,
        image_source=result.image_source,
        image_reason=result.image_reason,
        image_digest=result.image_digest,
        rustc_version=result.rustc_version,
        toolchain=result.toolchain,
        toolchain_reason=result.toolchain_reason,
        strategy=result.strategy,
        strategy_reason=result.strategy_reason,
        glibc_floor=result.glibc_floor,
        tests=result.tests.as_record() if result.tests is not None else None,
        **_target_cache_of(result),
    )


def _kind_of_failure(result: BuildResult) -> ErrorKind:
    """Why a build that ran to its end did not succeed: the kind run_build named (a required
    smoke-run that failed), else cargo's build, else the fetch before it.
    """
    if result.failure_kind is not None:
        return result.failure_kind
    return vocabulary.COMPILE if BUILDING.timing in result.phases else vocabulary.SOURCE


def _target_cache_of(result: BuildResult) -> dict[str, Any]:
    volumes = result.volumes
    unused = volumes is None or volumes.scratch
    return dict(
        target_cache="" if unused else volumes.target,
        target_cache_protected=None if unused else volumes.protected,
        target_cache_seeded=result.target_seeded,
    )


def _kind_of(error: BaseException) -> ErrorKind:
    if isinstance(error, XcargoError):
        return error.kind
    if isinstance(error, SoftTimeLimitExceeded):
        return vocabulary.TIMEOUT
    return vocabulary.INTERNAL


def _ending_of_error(build: Build, error: BaseException, log: BuildLog) -> dict[str, Any]:
    if isinstance(error, Cancelled) or log.cancelled.is_set():
        state, kind = Build.State.CANCELLED, Build.ErrorKind.CANCELLED
        requested = Build.objects.filter(pk=build.pk).values_list("error_message", flat=True)
        message = requested.first() or "cancelled"
    else:
        state = Build.State.FAILED
        kind = _kind_of(error).word
        if isinstance(error, XcargoError):
            message = str(error)
        elif isinstance(error, SoftTimeLimitExceeded):
            message = "the build ran past the worker's time limit and was stopped"
        elif isinstance(error, Exception):
            message = f"internal error ({type(error).__name__}); the worker's log has the details"
            logger.exception("build %s failed unexpectedly", build.pk)
        else:
            message = f"the worker stopped the build ({type(error).__name__})"
    log.write(f"xcargo: {state}: {message}")
    return dict(state=state, error_kind=kind, error_message=message)
