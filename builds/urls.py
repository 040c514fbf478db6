"""Dashboard routes (sign-in pages included)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from builds import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("projects/<slug:slug>/", views.project, name="project"),
    path("targets/<int:target_id>/build/", views.trigger_build, name="trigger-build"),
    path("builds/", views.build_list, name="build-list"),
    path("builds/<int:build_id>/", views.build, name="build"),
    path("builds/<int:build_id>/cancel/", views.cancel_build, name="cancel-build"),
    path("builds/<int:build_id>/approval/", views.decide_approval, name="decide-approval"),
    path("builds/<int:build_id>/log.txt", views.build_log, name="build-log"),
    path("builds/<int:build_id>/log/lines/", views.build_log_lines, name="build-log-lines"),
    path(
        "builds/<int:build_id>/artifacts/<int:artifact_id>/",
        views.artifact_download,
        name="artifact-download",
    ),
    path("caches/", views.caches, name="caches"),
    path("caches/clean/", views.clean_caches, name="clean-caches"),
    path("caches/images/remove/", views.remove_images, name="remove-images"),
    path("images/", views.images, name="images"),
    path("engines/", views.engines, name="engines"),
    path("engines/<int:host_id>/machine/", views.set_up_machine, name="set-up-machine"),
    path("engines/<int:host_id>/machine/steps/", views.machine_steps, name="machine-steps"),
    path("token/", views.token, name="token"),
    path("token/new/", views.token_new, name="token-new"),
    path("token/revoke/", views.token_revoke, name="token-revoke"),
]
