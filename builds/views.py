"""The dashboard: server-rendered pages, with htmx polling the one part that changes by itself,
a build's live state and log.

Each page reads through `builds.selectors` and writes through `builds.services`. A refusal from
a service is shown on the form field it names, with its hint, and changes nothing. The build
page and its live part share one template (`builds/_build_live.html`): a plain request gets the
whole page, an htmx poll only the part, and once the build is final the part answers 286, which
tells htmx to stop polling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import floatformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from builds import selectors
from builds.api import artifact_response
from builds.forms import (
    BuildFilterForm,
    CacheCleanForm,
    ImageRemovalForm,
    ProjectForm,
    TargetForm,
)
from builds.models import Artifact, Build, CacheVolume, EngineHost, Image, Target
from builds.services import approvals as approval_services
from builds.services import builds as build_services
from builds.services import cache_quotas
from builds.services import engines as engine_services
from builds.services import projects as project_services
from builds.services import tokens as token_services
from builds.services.errors import ServiceError
from runtimes import naming
from runtimes.cargo_args import BUILD
from runtimes.compiler_cache import CompilerCacheTotals
from runtimes.sizes import human_size
from runtimes.toolchains import UNAVAILABLE

# Ids in URLs beyond what the database stores are simply not found (not an overflow error).
MAX_ID = 2**63 - 1
# At most this many log lines reach a build page per poll (a second): a burst catches up
# over a few polls instead of one huge answer.
LOG_LINES_PER_POLL = 2000
RECENT_BUILDS = 10
BUILDS_PER_PAGE = 50


@login_required
@require_http_methods(["GET", "POST"])
def dashboard(request: HttpRequest) -> HttpResponse:
    """Projects and their targets with build buttons, recent builds, and a project form."""
    form = ProjectForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            project = project_services.create_project(
                **form.service_arguments(), created_by=request.user
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"Project {project.name} registered.")
            return redirect(project)
    context = {
        "projects": selectors.projects_with_targets(),
        "rows": _build_rows(selectors.recent_builds()[:RECENT_BUILDS]),
        "form": form,
        "toolchains": settings.XCARGO_TOOLCHAINS,
        "engine_hosts": selectors.engine_hosts(),
        "cache_warnings": selectors.cache_warnings(),
    }
    return render(request, "builds/dashboard.html", context, status=_form_status(form))


@login_required
@require_http_methods(["GET", "POST"])
def project(request: HttpRequest, slug: str) -> HttpResponse:
    """One project: its source, targets with build buttons, a target form, its builds."""
    project = get_object_or_404(selectors.projects_with_targets(), slug=slug)
    form = TargetForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            target = project_services.add_target(project=project, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"{project.name} now builds {target.triple}.")
            return redirect(project)
    context = {
        "project": project,
        "rows": _build_rows(selectors.recent_builds(project=project.slug)[:RECENT_BUILDS]),
        "toolchains": settings.XCARGO_TOOLCHAINS,
        "engine_hosts": selectors.engine_hosts(),
        "form": form,
    }
    return render(request, "builds/project.html", context, status=_form_status(form))


@login_required
@require_POST
def trigger_build(request: HttpRequest, target_id: int) -> HttpResponse:
    """The Build and Test buttons: queue a build (or a test run) of a target and go to its
    page.
    """
    target = get_object_or_404(Target.objects.select_related("project"), pk=_checked_id(target_id))
    try:
        build = build_services.trigger_build(
            target=target,
            triggered_by=request.user,
            toolchain=request.POST.get("toolchain", "")[:20],
            command=request.POST.get("command", BUILD)[:10],
            engine_host=request.POST.get("engine_host", "")[:100],
        )
    except ServiceError as error:
        _message_error(request, error)
        return _back(request, default=target.project.get_absolute_url())
    return redirect(build)


@login_required
@require_GET
def build(request: HttpRequest, build_id: int) -> HttpResponse:
    """A build: the whole page, or (to htmx's poll) its live part, 286 once it is final."""
    build = _build_or_404(build_id)
    context = {
        "build": build,
        "artifacts": [
            {"artifact": artifact, "size": human_size(artifact.size)}
            for artifact in build.artifacts.all()
        ],
        "tail": selectors.TAIL_LINES,
    }
    if request.htmx:
        live = render_to_string("builds/_build_live.html", context, request)
        return HttpResponseStopPolling(live) if build.is_final else HttpResponse(live)
    # The log only on the whole page: the live part, polled every second, has none.
    context["log"] = selectors.log_tail(build)
    return render(request, "builds/build.html", context)


@login_required
@require_GET
def build_log_lines(request: HttpRequest, build_id: int) -> HttpResponse:
    """The log lines after line `after`, for the build page's log poll to append, with the
    poll for the next ones; 286, and no next poll, once the build is final and every line
    has been sent.
    """
    build = _build_or_404(build_id)  # its state and line count first: no line is missed
    after = _bounded_int(request.GET.get("after", "0"), MAX_ID)
    if after is None:
        return HttpResponseBadRequest("after: a line number from 0 is expected")
    log = selectors.log_from(build, offset=after, limit=LOG_LINES_PER_POLL)
    done = build.is_final and log.next_line >= build.log_lines
    context = {"build": build, "log": log, "after": log.next_line, "done": done}
    part = render_to_string("builds/_log_lines.html", context, request)
    return HttpResponseStopPolling(part) if done else HttpResponse(part)


@login_required
@require_POST
def cancel_build(request: HttpRequest, build_id: int) -> HttpResponse:
    build = _build_or_404(build_id)
    try:
        build = build_services.cancel_build(build=build, cancelled_by=request.user)
    except ServiceError as error:
        _message_error(request, error)
    else:
        if build.is_final:
            messages.success(request, f"Build #{build.pk} cancelled.")
        else:
            messages.info(request, f"Build #{build.pk} is being stopped.")
    return redirect(build)


@login_required
@require_POST
def decide_approval(request: HttpRequest, build_id: int) -> HttpResponse:
    """An admin's decision on the Dockerfile or image a build waits for: approve it (trust
    once), approve it and trust its registries always, or reject it.
    """
    build = _build_or_404(build_id)
    if not request.user.is_staff:
        raise PermissionDenied("only admins approve Dockerfiles and images")
    decision = request.POST.get("decision", "")
    if build.approval is None or decision not in ("approve", "trust", "reject"):
        return HttpResponseBadRequest("decision: approve, trust or reject, of a waiting build")
    try:
        approval_services.decide(
            approval=build.approval,
            approve=decision != "reject",
            trust_registries=decision == "trust",
            decided_by=request.user,
        )
    except ServiceError as error:
        _message_error(request, error)
    else:
        messages.success(request, f"{build.approval.path}: {decision} recorded.")
    return redirect(build)


@login_required
@require_GET
def build_log(request: HttpRequest, build_id: int) -> StreamingHttpResponse:
    """The whole log as plain text, streamed a chunk at a time."""
    build = get_object_or_404(Build, pk=_checked_id(build_id))
    response = StreamingHttpResponse(
        selectors.log_text(build), content_type="text/plain; charset=utf-8"
    )
    response["Content-Disposition"] = f'inline; filename="build-{build.pk}.log"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def artifact_download(request: HttpRequest, build_id: int, artifact_id: int) -> HttpResponse:
    artifact = get_object_or_404(
        Artifact, pk=_checked_id(artifact_id), build_id=_checked_id(build_id)
    )
    return artifact_response(artifact)


@login_required
@require_GET
def build_list(request: HttpRequest) -> HttpResponse:
    """All builds, newest first, filtered by the query string and paginated."""
    form = BuildFilterForm(request.GET)
    if form.is_valid():
        builds = selectors.recent_builds(**form.filters())
        status = 200
    else:
        builds = Build.objects.none()
        status = 400
    page = Paginator(selectors.IdsFirst(builds), BUILDS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "rows": _build_rows(page.object_list)}
    return render(request, "builds/build_list.html", context, status=status)


@login_required
@require_GET
def caches(request: HttpRequest) -> HttpResponse:
    return _caches_page(request, CacheCleanForm())


@login_required
@require_POST
def clean_caches(request: HttpRequest) -> HttpResponse:
    """An admin's clean: the first POST previews what it removes and how much that frees;
    the confirmed one asks each host's worker to remove those volumes.
    """
    if not request.user.is_staff:
        raise PermissionDenied("only admins clean caches")
    form = CacheCleanForm(request.POST)
    if not form.is_valid():
        return _caches_page(request, form, status=400)
    volumes = selectors.volumes_to_clean(
        project=form.cleaned_data["project"],
        target=form.cleaned_data["target"],
        older_than=form.cleaned_data["older_than"],
    )
    freed = human_size(sum(volume.size or 0 for volume in volumes))
    if not form.cleaned_data["confirm"]:
        items = [f"{volume.engine_host.name}: {volume.name}" for volume in volumes]
        preview = _RemovalPreview(_confirming(form), items, freed)
        return _caches_page(request, form, preview=preview)
    cache_quotas.request_clean(volumes, requested_by=request.user.get_username())
    return _removal_asked(request, volumes, "volume", freed, "those in use or held by a build stay")


@login_required
@require_POST
def remove_images(request: HttpRequest) -> HttpResponse:
    """An admin's removal of old toolchain images: previewed first with what it frees, like
    a clean; the confirmed one asks each host's worker to remove them.
    """
    if not request.user.is_staff:
        raise PermissionDenied("only admins remove images")
    form = ImageRemovalForm(request.POST)
    if not form.is_valid():
        return _caches_page(request, CacheCleanForm(), image_form=form, status=400)
    images = selectors.old_toolchain_images(
        toolchain=form.cleaned_data["toolchain"], older_than=form.cleaned_data["older_than"]
    )
    freed = human_size(sum(image.size or 0 for image in images))
    if not form.cleaned_data["confirm"]:
        items = [
            f"{image.engine_host.name}: {image.reference} (toolchain {image.toolchain})"
            for image in images
        ]
        preview = _RemovalPreview(_confirming(form), items, freed)
        return _caches_page(request, CacheCleanForm(), image_form=form, image_preview=preview)
    engine_services.request_image_removal(images, requested_by=request.user.get_username())
    return _removal_asked(request, images, "image", freed, "one a container uses stays")


@dataclass(frozen=True)
class _RemovalPreview:
    """What a removal from the caches page would take, shown before an admin confirms it."""

    confirm_form: forms.Form
    items: list[str]
    freed: str


def _confirming(form: forms.Form) -> forms.Form:
    """The same form, as typed, with `confirm` set: the preview's button posts it."""
    typed = {name: form.data.get(form.add_prefix(name), "") for name in form.fields}
    return type(form)(initial={**typed, "confirm": True})


def _removal_asked(
    request: HttpRequest, chosen: list[Any], noun: str, freed: str, spared: str
) -> HttpResponse:
    plural = "" if len(chosen) == 1 else "s"
    messages.success(request, f"Removing {len(chosen)} {noun}{plural} ({freed}); {spared}.")
    return redirect("caches")


def _caches_page(
    request: HttpRequest,
    form: CacheCleanForm,
    *,
    preview: _RemovalPreview | None = None,
    image_form: ImageRemovalForm | None = None,
    image_preview: _RemovalPreview | None = None,
    status: int = 200,
) -> HttpResponse:
    summary = selectors.cache_summary()
    volumes = [
        {
            "volume": volume,
            "size": human_size(volume.size),
            "bytes": volume.size,
            "served": _compiler_cache_served(volume),
        }
        for volume in summary.volumes
    ]
    per_project = [{**row, "size_text": human_size(row["size"])} for row in summary.per_project]
    context = {
        "volumes": volumes,
        "per_project": per_project,
        "total": human_size(summary.total),
        "total_bytes": summary.total,
        "warnings": selectors.cache_warnings(),
        "quotas": [
            {
                "host": host,
                "where": quota.where,
                "warn": human_size(quota.warn_bytes),
                "max": human_size(quota.max_bytes),
                "total": human_size(total),
            }
            for host, quota, total in selectors.host_quotas()
        ],
        "evictions": [
            {"eviction": eviction, "size": human_size(eviction.size)}
            for eviction in selectors.recent_evictions()
        ],
        "images": [
            {"image": image, "size": human_size(image.size)}
            for image in selectors.images()
            if image.origin != Image.Origin.REGISTRY
        ],
        "clean_form": form,
        "preview": preview,
        "image_form": image_form or ImageRemovalForm(),
        "image_preview": image_preview,
    }
    return render(request, "builds/caches.html", context, status=status)


def _compiler_cache_served(volume: CacheVolume) -> str:
    """What a compiler cache has served the builds here; "" for other kinds, and for one no
    build has counted yet.
    """
    if volume.kind != naming.KIND_COMPILER_CACHE or not volume.compiler_builds:
        return ""
    totals = CompilerCacheTotals(
        volume.compiler_hits, volume.compiler_misses, volume.compiler_builds
    )
    return totals.summary()


@login_required
@require_GET
def images(request: HttpRequest) -> HttpResponse:
    recorded = list(selectors.images())
    rows = [{"image": image, "size": human_size(image.size)} for image in recorded]
    context = {
        "rows": rows,
        "catalogue": selectors.image_catalogue(recorded),
        "unavailable": sorted(UNAVAILABLE.items()),
    }
    return render(request, "builds/images.html", context)


@login_required
@require_GET
def engines(request: HttpRequest) -> HttpResponse:
    return render(request, "builds/engines.html", {"hosts": selectors.engine_hosts()})


@login_required
@require_POST
def set_up_machine(request: HttpRequest, host_id: int) -> HttpResponse:
    """An admin asks the host's worker to set up its Podman machine; the steps show below."""
    if not request.user.is_staff:
        raise PermissionDenied("only admins set up engine hosts")
    host = get_object_or_404(EngineHost, pk=_checked_id(host_id))
    engine_services.request_machine_set_up(host)
    messages.success(request, f"{host.name}: its worker sets up the Podman machine.")
    return redirect("engines")


@login_required
@require_GET
def machine_steps(request: HttpRequest, host_id: int) -> HttpResponse:
    """The machine set-up's steps, for the engines page's poll: 286 once the last is final."""
    host = get_object_or_404(EngineHost, pk=_checked_id(host_id))
    polling = host.machine_in_progress
    response = render(request, "builds/_machine_steps.html", {"host": host, "polling": polling})
    if not polling:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@login_required
@require_GET
def token(request: HttpRequest) -> HttpResponse:
    return _token_page(request)


@login_required
@require_POST
def token_new(request: HttpRequest) -> HttpResponse:
    """A new token, shown on this one response only: the server keeps just its hash."""
    key = token_services.issue_token(user=request.user)
    response = _token_page(request, new_token=key)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    if token_services.revoke_token(user=request.user):
        messages.success(request, "Your API token is revoked: it no longer works.")
    else:
        messages.info(request, "You have no API token.")
    return redirect("token")


def _token_page(request: HttpRequest, *, new_token: str = "") -> HttpResponse:
    context = {
        "api_token": selectors.api_token(request.user),
        "new_token": new_token,
        "api_url": request.build_absolute_uri("/api"),
    }
    return render(request, "builds/token.html", context)


def _build_rows(builds: Iterable[Build]) -> list[dict[str, str]]:
    """Each build as a table of builds shows it, in plain texts made here: resolving a dozen
    attributes, calls and filters a row in the template language took most of a 50-row
    page's time, and Python does the same work in a fraction of it.
    """
    return [_build_row(build) for build in builds]


def _build_row(build: Build) -> dict[str, str]:
    """The texts of a build's row, as the `date` and `floatformat` filters wrote them."""
    created = timezone.localtime(build.created_at)
    duration = build.duration
    return {
        "id": str(build.pk),
        "url": build.get_absolute_url(),
        "project": build.project.name,
        "project_url": build.project.get_absolute_url(),
        "triple": build.target.triple,
        "state_classes": build.state_classes,
        "state_text": build.state_text,
        "by": build.triggered_by.get_username() if build.triggered_by else "—",
        "created_iso": created.isoformat(),
        "created": created.strftime("%Y-%m-%d %H:%M:%S"),
        "duration": "—" if duration is None else f"{floatformat(duration, 1)} s",
        "joined_id": str(build.joined_id or ""),
        "joined_url": reverse("build", args=[build.joined_id]) if build.joined_id else "",
    }


def _bounded_int(text: str, limit: int) -> int | None:
    """`text` as a whole number from 0 to `limit`, or None."""
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(limit))):
        return None
    return int(text) if int(text) <= limit else None


def _checked_id(value: int) -> int:
    if value > MAX_ID:
        raise Http404("no such id")
    return value


def _build_or_404(build_id: int) -> Build:
    try:
        return selectors.build_detail(_checked_id(build_id))
    except Build.DoesNotExist:
        raise Http404(f"no build #{build_id}") from None


def _posted(request: HttpRequest) -> Any:
    """The form data of a POST (even an empty one, which is then refused), else None."""
    return request.POST if request.method == "POST" else None


def _form_status(form: Any) -> int:
    """400 for a form sent back with errors, so that tools and tests see the refusal."""
    return 400 if form.is_bound and form.errors else 200


def _message_error(request: HttpRequest, error: ServiceError) -> None:
    text = f"{error.message} ({error.hint})" if error.hint else error.message
    messages.error(request, text)


def _back(request: HttpRequest, *, default: str) -> HttpResponse:
    """To the page a form came from (`next`), if it is one of ours."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)
