"""Dashboard routes (sign-in pages included)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from builds import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("projects/<slug:slug>/", views.project, name="project"),
    path("builds/<int:build_id>/", views.build, name="build"),
    path(
        "builds/<int:build_id>/artifacts/<int:artifact_id>/",
        views.artifact_download,
        name="artifact-download",
    ),
]
