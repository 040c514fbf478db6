"""The operations: thin, each one shaping input for a service or a selector and its answer
for the client.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from django.core.exceptions import (
    SuspiciousFileOperation,
)
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from ninja import Query, Schema, Status

from builds import selectors
from builds.api.plumbing import api
from builds.api.schemas import (
    BuildIn,
    BuildOut,
    BuildPage,
    CachesOut,
    EngineOut,
    Id,
    ImageOut,
    LogOut,
    ProjectOut,
    StateName,
    VolumeOut,
    answers,
)
from builds.models import Approval, Artifact, Build, Target
from builds.services.builds import cancel_build, trigger_build
from builds.services.errors import NotFound

logger = logging.getLogger(__name__)


def _build_out(request: HttpRequest, build: Build) -> dict[str, Any]:
    return {
        **_fields(build, BuildOut),
        "url": request.build_absolute_uri(f"/api/builds/{build.pk}"),
        "project": build.project.slug,
        "target": build.target.triple,
        "triggered_by": build.triggered_by.get_username() if build.triggered_by else None,
        "engine_host": build.engine_host.name,
        "approval": _approval_out(build.approval),
        "joined_build": build.joined_id,
        "artifacts": [
            {
                "id": artifact.pk,
                "name": artifact.name,
                "path": artifact.path,
                "size": artifact.size,
                "sha256": artifact.sha256,
                "glibc": artifact.glibc,
                "smoke": _smoke_out(artifact),
                "url": request.build_absolute_uri(
                    f"/api/builds/{build.pk}/artifacts/{artifact.pk}"
                ),
            }
            for artifact in build.artifacts.all()
        ],
    }


def _approval_out(approval: Approval | None) -> dict[str, Any] | None:
    if approval is None:
        return None
    return {
        "path": approval.path,
        "code": approval.code,
        "decision": approval.decision,
        "decided_by": approval.decided_by.get_username() if approval.decided_by else None,
        "decided_at": approval.decided_at,
        "concerns": approval.concerns,
    }


def _smoke_out(artifact: Artifact) -> dict[str, Any] | None:
    """The artifact's smoke-run as SmokeOut sends it; None when none was tried."""
    if not artifact.smoke_state:
        return None
    return {
        "state": artifact.smoke_state,
        "summary": artifact.smoke_summary,
        "command": artifact.smoke_command,
        "exit_code": artifact.smoke_exit_code,
        "output": artifact.smoke_lines,
        "seconds": artifact.smoke_seconds or 0.0,
    }


@api.post(
    "/builds",
    response=answers({202: BuildOut}, 404, 409, 503),
    summary="Trigger a build",
)
def create_build(request: HttpRequest, payload: BuildIn) -> Status[dict[str, Any]]:
    """Queue a build of a project's target; answers 202 with the build and its URL, or 503
    when the queue did not take it (the build is then recorded as failed, with the reason).
    A build identical to one still queued (same target, engine host, ref, cargo and test
    arguments, command and toolchain) joins it: `joined_build` names it, and the build ends
    when it ends, with its result and artifacts.
    """
    target = get_object_or_404(
        Target.objects.select_related("project"),
        project__slug=payload.project,
        triple=payload.target,
    )
    build = trigger_build(
        target=target,
        triggered_by=request.user,
        ref=payload.ref,
        toolchain=payload.toolchain,
        cargo_args=payload.cargo_args,
        command=payload.command,
        test_args=payload.test_args,
        engine_host=payload.engine_host,
    )
    if build.state == Build.State.FAILED and build.error_kind == Build.ErrorKind.QUEUE:
        hint = f"build #{build.pk} was recorded as failed; trigger it again once Redis answers"
        return Status(503, {"detail": build.error_message, "hint": hint})
    return Status(202, _build_out(request, selectors.build_detail(build.pk)))


@api.get("/builds", response=answers({200: BuildPage}), summary="List builds, newest first")
def list_builds(
    request: HttpRequest,
    project: Annotated[str, Query(max_length=100, pattern=r"^[-a-zA-Z0-9_]*$")] = "",
    target: Annotated[str, Query(max_length=100, pattern=r"^[a-z0-9_.-]*$")] = "",
    state: StateName | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
) -> dict[str, Any]:
    builds = selectors.recent_builds(project=project, target=target, state=state or "")
    page = selectors.IdsFirst(builds, selectors.builds_in_full())[offset : offset + limit]
    count = builds.count()
    return {
        "items": [_build_out(request, build) for build in page],
        "count": count,
        "next_offset": offset + limit if offset + limit < count else None,
    }


@api.get("/builds/{build_id}", response=answers({200: BuildOut}, 404), summary="Read a build")
def read_build(request: HttpRequest, build_id: Id) -> dict[str, Any]:
    return _build_out(request, _build(build_id))


@api.get(
    "/builds/{build_id}/log",
    response=answers({200: LogOut}, 404),
    summary="Follow a build's log from a line offset",
)
def read_log(
    request: HttpRequest,
    build_id: Id,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Lines from `offset` on; poll again with `next_offset` until `finished` is true."""
    build = _build(build_id)
    piece = selectors.log_from(build, offset=offset, limit=limit)
    return {
        "lines": piece.lines,
        "offset": piece.first_line,
        "next_offset": piece.next_line,
        "total_lines": build.log_lines,
        "state": build.state,
        "finished": build.is_final and piece.next_line >= build.log_lines,
    }


@api.post(
    "/builds/{build_id}/cancel",
    response=answers({202: BuildOut}, 404, 409),
    summary="Cancel a build",
)
def cancel(request: HttpRequest, build_id: Id) -> Status[dict[str, Any]]:
    build = cancel_build(build=_build(build_id), cancelled_by=request.user)
    return Status(202, _build_out(request, selectors.build_detail(build.pk)))


@api.get(
    "/builds/{build_id}/artifacts/{artifact_id}",
    response=answers({200: None}, 404, 410),
    summary="Download an artifact",
)
def download_artifact(request: HttpRequest, build_id: Id, artifact_id: Id) -> HttpResponse:
    """The file itself; its sha256 is in the X-Checksum-Sha256 header and on the build."""
    artifact = get_object_or_404(Artifact, pk=artifact_id, build_id=build_id)
    return artifact_response(artifact)


def artifact_response(artifact: Artifact) -> HttpResponse:
    """The artifact as a download, or 410 when its file is gone from storage."""
    try:
        if not artifact.file:  # no file was ever stored for it
            raise FileNotFoundError(artifact.name)
        handle = artifact.file.open("rb")
    except (OSError, SuspiciousFileOperation) as error:
        if isinstance(error, SuspiciousFileOperation):
            logger.warning("artifact %s names a file outside storage: %s", artifact.pk, error)
        return JsonResponse(
            {"detail": f"the file of {artifact.name} is no longer stored"}, status=410
        )
    response = FileResponse(handle, as_attachment=True, filename=artifact.name)
    response["X-Checksum-Sha256"] = artifact.sha256
    return response


@api.get(
    "/projects",
    response=answers({200: list[ProjectOut]}),
    summary="List projects and their targets",
)
def list_projects(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "name": project.name,
            "slug": project.slug,
            "source": project.display_source,
            "default_ref": project.default_ref,
            "targets": list(project.targets.all()),
            "variables": [
                {
                    "name": variable.name,
                    "target": variable.target.triple if variable.target else None,
                    "secret": variable.secret,
                    "value": variable.shown_value,
                }
                for variable in project.variables.all()
            ],
        }
        for project in selectors.projects_with_targets()
    ]


@api.get(
    "/images",
    response=answers({200: list[ImageOut]}),
    summary="List the images of every engine host",
)
def list_images(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {**_fields(image, ImageOut), "engine_host": image.engine_host.name}
        for image in selectors.images()
    ]


@api.get(
    "/caches", response=answers({200: CachesOut}), summary="List cache volumes and their sizes"
)
def list_caches(request: HttpRequest) -> dict[str, Any]:
    summary = selectors.cache_summary()
    volumes = [
        {
            **_fields(volume, VolumeOut),
            "engine_host": volume.engine_host.name,
            "project": volume.project.slug if volume.project else None,
        }
        for volume in summary.volumes
    ]
    return {"volumes": volumes, "total_bytes": summary.total}


@api.get("/engines", response=answers({200: list[EngineOut]}), summary="List engine hosts")
def list_engines(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {**_fields(host, EngineOut), "running_builds": host.running}
        for host in selectors.engine_hosts()
    ]


def _build(build_id: int) -> Build:
    try:
        return selectors.build_detail(build_id)
    except Build.DoesNotExist:
        raise NotFound(f"no build #{build_id}") from None


def _fields(instance: object, schema: type[Schema]) -> dict[str, Any]:
    return {
        name: getattr(instance, name) for name in schema.model_fields if hasattr(instance, name)
    }
