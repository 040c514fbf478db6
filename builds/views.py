"""Dashboard pages (placeholder until the dashboard lands)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return HttpResponse("xcargo-web")


project = build = artifact_download = dashboard
