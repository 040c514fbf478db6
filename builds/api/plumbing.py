"""The API object and what every operation shares: token or session authentication, the
sign-in the description and docs need too, and refusals that are JSON with a "detail" key
whatever refused them (ninja, Django or a service).
"""

from __future__ import annotations

import logging
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI
from ninja.security import HttpBearer, django_auth

from builds.services.errors import ServiceError
from builds.services.tokens import user_for_token

logger = logging.getLogger(__name__)


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
