"""URL routes: the dashboard at /, the API at /api/, the admin at /admin/."""

from django.contrib import admin
from django.urls import include, path

from builds.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("builds.urls")),
]
