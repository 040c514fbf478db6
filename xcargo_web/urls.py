"""URL routes of the server. The dashboard and API arrive with the build server."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
