"""The REST-ish endpoints under /api/, for CI jobs and scripts, described by OpenAPI at
/api/openapi.json (and browsable at /api/docs).

Authentication: `Authorization: Bearer <token>` (a token per user, made on the dashboard's
token page or with `manage.py api_token USER`), or a signed-in browser session. Every input is
typed and bounded here, so that malformed or hostile input is a 4xx with a JSON body that says
what is wrong, never a 500: services check the meaning, this module checks the shape.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import wraps
from typing import Annotated, Any, Literal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousFileOperation,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import Field, NinjaAPI, Path, Query, Schema, Status
from ninja.security import HttpBearer, django_auth

from builds import selectors
from builds.models import Artifact, Build, Target
from builds.services.builds import cancel_build, trigger_build
from builds.services.errors import NotFound, ServiceError
from builds.services.tokens import user_for_token

logger = logging.getLogger(__name__)

MAX_ID = 2**31 - 1
Slug = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[-a-zA-Z0-9_]+$")]
Triple = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_.-]+$")]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
StateName = Literal[tuple(Build.State.values)]  # type: ignore[valid-type]


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> AbstractBaseUser | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


def _signed_in_or_token(view: Any) -> Any:
    """The OpenAPI description and docs need the same sign-in as the endpoints."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated or TokenAuth()(request):
            return view(request, *args, **kwargs)
        return JsonResponse({"detail": "Unauthorized"}, status=401)

    return guarded


def _json_refusals(view: Any) -> Any:
    """Ninja answers an unsupported method with a plain-text 405, and its root view raises a
    bare 404: as JSON here, like every other refusal.
    """

    @wraps(view)
    def answered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return _unknown_endpoint(request)
        if not isinstance(response, HttpResponseNotAllowed):
            return response
        allowed = response["Allow"]
        refusal = JsonResponse(
            {"detail": f"method {request.method[:20]} is not allowed here; use {allowed}"},
            status=405,
        )
        refusal["Allow"] = allowed
        return refusal

    return answered


@csrf_exempt
@_signed_in_or_token
def _unknown_endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return JsonResponse(
        {"detail": "no such endpoint; /api/docs lists them", "hint": "/api/openapi.json"},
        status=404,
    )


class JsonRefusalsAPI(NinjaAPI):
    """The API, whose every answer of 400 or more is JSON with a "detail" key: unsupported
    methods and unknown paths under /api/ too.
    """

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                pattern.callback = _json_refusals(pattern.callback)
        patterns.append(re_path(r"^.+$", _unknown_endpoint, name="unknown"))
        return patterns, app_name, namespace


api = JsonRefusalsAPI(
    title="xcargo-web",
    version="1",
    description="Trigger cross-builds, follow them, download their artifacts.",
    auth=[TokenAuth(), django_auth],
    docs_decorator=_signed_in_or_token,
    urls_namespace="api",
)


@api.exception_handler(ServiceError)
def _service_error(request: HttpRequest, error: ServiceError) -> HttpResponse:
    body = {"detail": error.message, "field": error.field, "hint": error.hint}
    return api.create_response(request, body, status=error.status)


@api.exception_handler(SuspiciousOperation)
def _request_refused(request: HttpRequest, error: SuspiciousOperation) -> HttpResponse:
    """Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE or more query parameters than
    DATA_UPLOAD_MAX_NUMBER_FIELDS when it is read: in JSON, not as Django's HTML page.
    """
    if isinstance(error, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return api.create_response(
            request, {"detail": f"the request body is over {limit} bytes"}, status=413
        )
    if isinstance(error, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        detail = f"more than {limit} query or form parameters"
    else:
        detail = "the request was refused as malformed"
    return api.create_response(request, {"detail": detail}, status=400)


class ArtifactOut(Schema):
    id: int
    name: str
    path: str
    size: int
    sha256: str
    url: str


class BuildOut(Schema):
    id: int
    url: str
    project: str
    target: str
    ref: str
    commit: str
    release: bool
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
    image_source: str = Field(description="named (with the build), xcargo.toml, or toolchain")
    image_reason: str = Field(description="why this image, in words")
    image_digest: str
    rustc_version: str
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
    artifacts: list[ArtifactOut]


class BuildIn(Schema):
    project: Slug
    target: Triple
    ref: str = Field("", max_length=200, description="branch, tag or commit; empty: default")


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


class TargetOut(Schema):
    id: int
    triple: str
    image: str
    release: bool
    enabled: bool


class ProjectOut(Schema):
    name: str
    slug: str
    source: str
    default_ref: str
    targets: list[TargetOut]


class ImageOut(Schema):
    engine_host: str
    reference: str
    registry: str
    digest: str
    size: int | None
    targets: list[str]
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


def _build_out(request: HttpRequest, build: Build) -> dict[str, Any]:
    return {
        **_fields(build, BuildOut),
        "url": request.build_absolute_uri(f"/api/builds/{build.pk}"),
        "project": build.project.slug,
        "target": build.target.triple,
        "triggered_by": build.triggered_by.get_username() if build.triggered_by else None,
        "engine_host": build.engine_host.name,
        "artifacts": [
            {
                "id": artifact.pk,
                "name": artifact.name,
                "path": artifact.path,
                "size": artifact.size,
                "sha256": artifact.sha256,
                "url": request.build_absolute_uri(
                    f"/api/builds/{build.pk}/artifacts/{artifact.pk}"
                ),
            }
            for artifact in build.artifacts.all()
        ],
    }


@api.post(
    "/builds",
    response={202: BuildOut, 400: Error, 404: Error, 503: Error},
    summary="Trigger a build",
)
def create_build(request: HttpRequest, payload: BuildIn) -> Status[dict[str, Any]]:
    """Queue a build of a project's target; answers 202 with the build and its URL, or 503
    when the queue did not take it (the build is then recorded as failed, with the reason).
    """
    target = get_object_or_404(
        Target.objects.select_related("project"),
        project__slug=payload.project,
        triple=payload.target,
    )
    build = trigger_build(target=target, triggered_by=request.user, ref=payload.ref)
    if build.state == Build.State.FAILED and build.error_kind == Build.ErrorKind.QUEUE:
        hint = f"build #{build.pk} was recorded as failed; trigger it again once Redis answers"
        return Status(503, {"detail": build.error_message, "hint": hint})
    return Status(202, _build_out(request, selectors.build_detail(build.pk)))


@api.get("/builds", response=BuildPage, summary="List builds, newest first")
def list_builds(
    request: HttpRequest,
    project: Annotated[str, Query(max_length=100, pattern=r"^[-a-zA-Z0-9_]*$")] = "",
    target: Annotated[str, Query(max_length=100, pattern=r"^[a-z0-9_.-]*$")] = "",
    state: StateName | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
) -> dict[str, Any]:
    builds = selectors.recent_builds(project=project, target=target, state=state or "")
    page = list(builds.prefetch_related("artifacts")[offset : offset + limit])
    count = builds.count()
    return {
        "items": [_build_out(request, build) for build in page],
        "count": count,
        "next_offset": offset + limit if offset + limit < count else None,
    }


@api.get("/builds/{build_id}", response={200: BuildOut, 404: Error}, summary="Read a build")
def read_build(request: HttpRequest, build_id: Id) -> dict[str, Any]:
    return _build_out(request, _build(build_id))


@api.get(
    "/builds/{build_id}/log",
    response={200: LogOut, 404: Error},
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
    response={202: BuildOut, 404: Error, 409: Error},
    summary="Cancel a build",
)
def cancel(request: HttpRequest, build_id: Id) -> Status[dict[str, Any]]:
    build = cancel_build(build=_build(build_id), cancelled_by=request.user)
    return Status(202, _build_out(request, selectors.build_detail(build.pk)))


@api.get(
    "/builds/{build_id}/artifacts/{artifact_id}",
    response={200: None, 404: Error, 410: Error},
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


@api.get("/projects", response=list[ProjectOut], summary="List projects and their targets")
def list_projects(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "name": project.name,
            "slug": project.slug,
            "source": project.display_source,
            "default_ref": project.default_ref,
            "targets": list(project.targets.all()),
        }
        for project in selectors.projects_with_targets()
    ]


@api.get("/images", response=list[ImageOut], summary="List the images of every engine host")
def list_images(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {**_fields(image, ImageOut), "engine_host": image.engine_host.name}
        for image in selectors.images()
    ]


@api.get("/caches", response=CachesOut, summary="List cache volumes and their sizes")
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


@api.get("/engines", response=list[EngineOut], summary="List engine hosts")
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
