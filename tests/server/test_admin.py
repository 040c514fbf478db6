"""The admin: who may open it, what it lets an administrator change, and what it refuses.

A build's record and result are the worker's: the admin shows them, its log as a read-only
tail, and may delete an ended build (files included), never edit one. Typed values (registry
hosts, git URLs, triples, quotas) go through the same validators as everywhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from builds.admin import BoundedCountPaginator
from builds.models import (
    ApiToken,
    Artifact,
    Build,
    CacheQuota,
    CacheVolume,
    EngineHost,
    Image,
    LogChunk,
    Project,
    Target,
    TrustedRegistry,
)
from builds.services.projects import create_project
from builds.services.tokens import issue_token
from tests.conftest import FIXTURES
from tests.server.conftest import AARCH64
from tests.server.factories import add_artifact, add_log


@dataclass
class Seeded:
    host: EngineHost
    project: Project
    target: Target
    build: Build
    running: Build
    artifact: Artifact
    image: Image
    volume: CacheVolume
    registry: TrustedRegistry
    quota: CacheQuota
    token: ApiToken


@pytest.fixture
def seeded(db: None, user: User, media: Path) -> Seeded:
    host = EngineHost.objects.create(
        name="builder-1",
        queue="xcargo.builds.builder-1",
        kind="docker",
        version="27.1",
        doctor=[{"name": "engine reachable", "ok": True, "detail": "<b>docker</b> 27.1"}],
    )
    project = create_project(
        name="hello-cross", local_path=str(FIXTURES / "hello-cross"), triples=[AARCH64]
    )
    target = project.targets.get()
    build = Build.objects.create(
        project=project,
        target=target,
        engine_host=host,
        state=Build.State.FINISHED,
        success=True,
        triggered_by=user,
        error_message="all well",
    )
    add_log(
        build,
        [f"line {number}" for number in range(2000)] + ["<script>alert(1)</script>"],
    )
    running = Build.objects.create(
        project=project, target=target, engine_host=host, state=Build.State.BUILDING
    )
    artifact = add_artifact(build, b"hello", profile="release")
    issue_token(user=user)
    return Seeded(
        host=host,
        project=project,
        target=target,
        build=build,
        running=running,
        artifact=artifact,
        image=Image.objects.create(
            engine_host=host, reference="localhost/xcargo/toolchain:aarch64", size=10**9
        ),
        volume=CacheVolume.objects.create(
            engine_host=host, name="xcargo-cargo-home", kind="cargo-home", size=10**8
        ),
        # One of the registries trusted from the start (the migration adds them).
        registry=TrustedRegistry.objects.get_or_create(host="ghcr.io")[0],
        quota=CacheQuota.objects.create(warn_bytes=10, max_bytes=20),
        token=ApiToken.objects.get(user=user),
    )


def change_url(obj: Any) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def changelist_url(model: type) -> str:
    return reverse(f"admin:builds_{model._meta.model_name}_changelist")


MODELS = [
    "project",
    "target",
    "build",
    "artifact",
    "image",
    "volume",
    "host",
    "registry",
    "quota",
    "token",
]


def admin_urls(data: Seeded) -> list[str]:
    """Every admin page of the app: index, changelists, add, change and delete pages."""
    urls = [reverse("admin:index"), reverse("admin:app_list", args=["builds"])]
    for name in MODELS:
        obj = getattr(data, name)
        meta = obj._meta
        prefix = f"admin:{meta.app_label}_{meta.model_name}"
        urls += [
            reverse(f"{prefix}_changelist"),
            reverse(f"{prefix}_add"),
            reverse(f"{prefix}_change", args=[obj.pk]),
            reverse(f"{prefix}_delete", args=[obj.pk]),
            reverse(f"{prefix}_history", args=[obj.pk]),
        ]
    return urls


# Who gets in


@pytest.mark.parametrize("name", MODELS)
def test_a_superuser_sees_every_changelist_with_its_rows(admin_client: Client, seeded, name):
    obj = getattr(seeded, name)
    response = admin_client.get(changelist_url(type(obj)))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
    assert obj in response.context["cl"].result_list


@pytest.mark.parametrize("name", MODELS)
def test_a_superuser_opens_every_change_page(admin_client: Client, seeded, name):
    response = admin_client.get(change_url(getattr(seeded, name)))
    assert response.status_code == 200


def test_a_signed_in_user_who_is_not_staff_is_sent_to_the_admin_login(user, seeded):
    client = Client()
    client.force_login(user)
    for url in admin_urls(seeded):
        for response in (client.get(url), client.post(url, {"note": "x"})):
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("admin:login")), url
    assert Build.objects.filter(pk=seeded.build.pk).exists()


def test_an_anonymous_visitor_is_sent_to_the_admin_login(client: Client, seeded):
    for url in admin_urls(seeded):
        for response in (client.get(url), client.post(url, {"note": "x"})):
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("admin:login")), url


def test_an_api_token_does_not_open_the_admin(seeded, user):
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client(headers={"Authorization": f"Bearer {issue_token(user=user)}"})
    response = client.get(changelist_url(Build))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# Builds: read-only, deletable when ended


def test_the_build_page_shows_the_log_tail_read_only(admin_client: Client, seeded):
    response = admin_client.get(change_url(seeded.build))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<pre class="build-log">' in html
    # 2001 lines: the last 300 are lines 1701..2000 (0-based), the first ones are not shown.
    assert "line 1701\n" in html
    assert "line 1999\n" in html
    assert "line 1700\n" not in html
    assert "line 0\n" not in html
    assert "lines 1702 to 2001 of 2001" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
    # Nothing to edit, nothing to save; deleting an ended build is offered.
    assert 'name="_save"' not in html
    assert 'name="_continue"' not in html
    assert "<textarea" not in html
    assert 'name="state"' not in html
    assert 'name="error_message"' not in html
    assert reverse("admin:builds_build_delete", args=[seeded.build.pk]) in html
    assert response.context["has_change_permission"] is False


def test_the_build_page_reads_the_log_tail_not_every_chunk(
    admin_client: Client, seeded, django_assert_max_num_queries
):
    many = Build.objects.create(
        project=seeded.project,
        target=seeded.target,
        engine_host=seeded.host,
        state=Build.State.FINISHED,
    )
    add_log(many, [f"row {number}" for number in range(50_000)], chunk=100)
    with django_assert_max_num_queries(25):
        response = admin_client.get(change_url(many))
    html = response.content.decode()
    assert "row 49999" in html
    assert "row 49699\n" not in html
    shown = re.search(r'<pre class="build-log">(.*?)</pre>', html, re.S)
    assert shown is not None
    assert shown[1].splitlines() == [f"row {number}" for number in range(49_700, 50_000)]


def test_an_edit_of_a_build_is_refused(admin_client: Client, seeded):
    url = change_url(seeded.build)
    response = admin_client.post(
        url, {"state": "failed", "success": "", "error_message": "rewritten", "log_lines": "0"}
    )
    assert response.status_code == 403
    seeded.build.refresh_from_db()
    assert seeded.build.state == Build.State.FINISHED
    assert seeded.build.error_message == "all well"
    assert admin_client.get(reverse("admin:builds_build_add")).status_code == 403
    assert admin_client.post(reverse("admin:builds_build_add"), {}).status_code == 403
    assert Build.objects.count() == 2


def test_an_ended_build_is_deleted_with_its_log_and_artifact_file(
    admin_client: Client, seeded, django_capture_on_commit_callbacks
):
    path = Path(seeded.artifact.file.path)
    assert path.is_file()
    url = reverse("admin:builds_build_delete", args=[seeded.build.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert dict(page.context["model_count"]) == {"builds": 1, "log chunks": 3, "artifacts": 1}

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not Build.objects.filter(pk=seeded.build.pk).exists()
    assert not LogChunk.objects.filter(build_id=seeded.build.pk).exists()
    assert not Artifact.objects.filter(pk=seeded.artifact.pk).exists()
    assert not path.exists(), "the artifact's file went with its build"


def test_a_running_build_cannot_be_deleted(admin_client: Client, seeded):
    url = reverse("admin:builds_build_delete", args=[seeded.running.pk])
    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Build.objects.filter(pk=seeded.running.pk).exists()


def test_deleting_a_selection_with_a_running_build_is_refused(admin_client: Client, seeded):
    data = {
        "action": "delete_selected",
        "_selected_action": [seeded.build.pk, seeded.running.pk],
        "post": "yes",
    }
    response = admin_client.post(changelist_url(Build), data)
    assert response.status_code == 200
    assert "cancel it first" in response.content.decode()
    assert Build.objects.count() == 2


def test_deleting_a_selection_of_ended_builds(admin_client: Client, seeded):
    data = {"action": "delete_selected", "_selected_action": [seeded.build.pk], "post": "yes"}
    response = admin_client.post(changelist_url(Build), data)
    assert response.status_code == 302
    assert list(Build.objects.all()) == [seeded.running]


def test_the_build_list_stays_cheap_with_many_builds(
    admin_client: Client, seeded, django_assert_max_num_queries
):
    Build.objects.bulk_create(
        Build(
            project=seeded.project,
            target=seeded.target,
            engine_host=seeded.host,
            state=Build.State.FINISHED,
        )
        for _ in range(120)
    )
    with django_assert_max_num_queries(20):
        response = admin_client.get(changelist_url(Build), {"state__exact": "finished"})
    assert response.status_code == 200
    cl = response.context["cl"]
    assert cl.result_count == 121
    assert len(cl.result_list) == 50
    assert cl.show_full_result_count is False


def test_a_list_of_more_than_10_000_builds_counts_to_its_bound_and_pages(
    admin_client: Client, seeded, django_assert_max_num_queries
):
    Build.objects.bulk_create(
        (
            Build(project=seeded.project, target=seeded.target, engine_host=seeded.host)
            for _ in range(10_100)
        ),
        batch_size=2000,
    )
    with django_assert_max_num_queries(20):
        response = admin_client.get(changelist_url(Build))
    cl = response.context["cl"]
    assert cl.result_count == BoundedCountPaginator.MAX_COUNT
    assert cl.paginator.num_pages == BoundedCountPaginator.MAX_COUNT // cl.list_per_page
    last = admin_client.get(changelist_url(Build), {"p": cl.paginator.num_pages})
    assert last.status_code == 200
    assert len(last.context["cl"].result_list) == cl.list_per_page
    narrowed = admin_client.get(changelist_url(Build), {"state__exact": "finished"})
    assert narrowed.context["cl"].result_count == 1


def test_the_paginator_counts_no_further_than_its_bound(seeded, monkeypatch):
    monkeypatch.setattr(BoundedCountPaginator, "MAX_COUNT", 3)
    Build.objects.bulk_create(
        Build(project=seeded.project, target=seeded.target, engine_host=seeded.host)
        for _ in range(5)
    )
    paginator = BoundedCountPaginator(Build.objects.all(), 2)
    assert paginator.count == 3
    assert paginator.num_pages == 2
    assert BoundedCountPaginator([1, 2], 2).count == 2


def test_artifacts_images_volumes_and_tokens_are_read_only(admin_client: Client, seeded):
    for obj in (seeded.artifact, seeded.image, seeded.volume, seeded.token):
        meta = obj._meta
        assert admin_client.get(reverse(f"admin:builds_{meta.model_name}_add")).status_code == 403
        page = admin_client.get(change_url(obj))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert admin_client.post(change_url(obj), {}).status_code == 403
    page = admin_client.get(change_url(seeded.artifact)).content.decode()
    assert seeded.artifact.sha256 in page


def test_an_api_token_shows_no_editable_hash_and_deleting_it_revokes_it(
    admin_client: Client, seeded, user
):
    page = admin_client.get(change_url(seeded.token)).content.decode()
    assert 'name="key_hash"' not in page
    assert seeded.token.key_hash in page  # shown as text only
    token = issue_token(user=user)
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/projects").status_code == 200

    [record] = ApiToken.objects.all()
    url = reverse("admin:builds_apitoken_delete", args=[record.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302

    assert not ApiToken.objects.exists()
    assert api.get("/api/projects").status_code == 401


# Engine hosts


def test_an_engine_host_shows_its_doctor_checks_read_only_and_only_enabled_is_editable(
    admin_client: Client, seeded
):
    url = change_url(seeded.host)
    html = admin_client.get(url).content.decode()
    assert "<pre>" in html
    assert "engine reachable" in html
    assert "&lt;b&gt;docker&lt;/b&gt;" in html
    assert 'name="doctor"' not in html
    assert 'name="queue"' not in html
    response = admin_client.post(
        url, {"enabled": "", "queue": "elsewhere", "name": "renamed", "doctor": "[]"}
    )
    assert response.status_code == 302
    seeded.host.refresh_from_db()
    assert seeded.host.enabled is False
    assert seeded.host.queue == "xcargo.builds.builder-1"
    assert seeded.host.name == "builder-1"
    assert seeded.host.doctor[0]["name"] == "engine reachable"
    assert admin_client.get(reverse("admin:builds_enginehost_add")).status_code == 403


# Trusted registries and quotas


@pytest.mark.parametrize("host", ["docker.io.evil.com/../x", "bad host!", "", "x" * 300])
def test_a_malformed_registry_host_is_refused(admin_client: Client, seeded, host):
    response = admin_client.post(reverse("admin:builds_trustedregistry_add"), {"host": host})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "host" in errors
    assert not TrustedRegistry.objects.filter(host=host).exists()


def test_a_registry_host_names_why_it_was_refused(admin_client: Client, seeded):
    response = admin_client.post(reverse("admin:builds_trustedregistry_add"), {"host": "bad host!"})
    [message] = response.context["adminform"].form.errors["host"]
    assert "not a valid registry host" in message
    assert "localhost:5000" in message


def test_a_registry_host_with_a_port_is_trusted_and_records_who_added_it(
    admin_client: Client, seeded
):
    response = admin_client.post(
        reverse("admin:builds_trustedregistry_add"),
        {
            "host": "registry.example.com:5000",
            "note": "ours",
            "allowed_images": "*",
            "pull_policy": "if-not-present",
        },
    )
    assert response.status_code == 302
    registry = TrustedRegistry.objects.get(host="registry.example.com:5000")
    assert registry.added_by is not None
    assert registry.added_by.username == "admin"


def test_a_cache_quota_that_warns_above_its_maximum_is_refused(admin_client: Client, seeded):
    url = change_url(seeded.quota)
    response = admin_client.post(url, {"project": "", "warn_bytes": "30", "max_bytes": "20"})
    assert response.status_code == 200
    [message] = response.context["adminform"].form.errors["warn_bytes"]
    assert "must not be above the maximum" in message
    seeded.quota.refresh_from_db()
    assert (seeded.quota.warn_bytes, seeded.quota.max_bytes) == (10, 20)


def test_a_cache_quota_with_negative_sizes_is_refused(admin_client: Client, seeded):
    response = admin_client.post(
        reverse("admin:builds_cachequota_add"),
        {"project": seeded.project.pk, "warn_bytes": "-1", "max_bytes": "-1"},
    )
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"warn_bytes", "max_bytes"}


def test_a_cache_quota_may_warn_at_its_maximum(admin_client: Client, seeded):
    response = admin_client.post(
        reverse("admin:builds_cachequota_add"),
        {"project": seeded.project.pk, "warn_bytes": "20", "max_bytes": "20"},
    )
    assert response.status_code == 302
    assert CacheQuota.objects.filter(project=seeded.project, warn_bytes=20).exists()


def test_a_second_global_cache_quota_is_refused(admin_client: Client, seeded):
    response = admin_client.post(
        reverse("admin:builds_cachequota_add"), {"project": "", "warn_bytes": "1", "max_bytes": "2"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert CacheQuota.objects.count() == 1


# Projects and targets


def project_form(**fields: str) -> dict[str, str]:
    return {
        "name": "demo",
        "slug": "demo",
        "git_url": "",
        "local_path": "",
        "default_ref": "",
        "targets-TOTAL_FORMS": "1",
        "targets-INITIAL_FORMS": "0",
        "targets-MIN_NUM_FORMS": "0",
        "targets-MAX_NUM_FORMS": "1000",
        "variables-TOTAL_FORMS": "0",
        "variables-INITIAL_FORMS": "0",
        "targets-0-triple": AARCH64,
        "targets-0-image": "",
        "targets-0-enabled": "on",
        **fields,
    }


def test_the_project_list_hides_git_credentials(admin_client: Client, seeded):
    Project.objects.create(
        name="secret", slug="secret", git_url="https://ci:hunter2@git.example.com/r.git"
    )
    html = admin_client.get(changelist_url(Project)).content.decode()
    assert "hunter2" not in html
    assert "https://ci:***@git.example.com/r.git" in html


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"git_url": "ext::sh -c touch% /tmp/pwned"}, "git_url"),
        ({"git_url": "--upload-pack=evil"}, "git_url"),
        ({"git_url": "https://git.example.com/r.git", "default_ref": "main..dev"}, "default_ref"),
        ({"local_path": "/etc"}, "local_path"),
        ({"local_path": str(FIXTURES / "hello-cross"), "default_ref": "main"}, "default_ref"),
        ({"git_url": "https://git.example.com/r.git", "targets-0-triple": "x86"}, None),
        (
            {"git_url": "https://git.example.com/r.git", "targets-0-image": "Bad Image!"},
            None,
        ),
        ({"git_url": "https://git.example.com/r.git", "targets-0-disk_limit": "lots"}, None),
        ({"git_url": "https://git.example.com/r.git", "targets-0-disk_limit": "0"}, None),
        (
            {"git_url": "https://git.example.com/r.git", "protected_refs": "--force"},
            "protected_refs",
        ),
        ({"git_url": "https://git.example.com/r.git", "protected_refs": "a..b"}, "protected_refs"),
        ({"local_path": str(FIXTURES / "hello-cross"), "protected_refs": "v*"}, "protected_refs"),
    ],
)
def test_a_project_with_a_hostile_or_wrong_field_is_refused(admin_client, seeded, fields, field):
    response = admin_client.post(reverse("admin:builds_project_add"), project_form(**fields))
    assert response.status_code == 200
    if field is not None:
        assert field in response.context["adminform"].form.errors
    else:
        assert any(form.errors for form in response.context["inline_admin_formsets"][0].formset)
    assert not Project.objects.filter(slug="demo").exists()


def test_protected_ref_patterns_and_a_disk_limit_are_kept_as_given(admin_client: Client, seeded):
    response = admin_client.post(
        reverse("admin:builds_project_add"),
        project_form(
            git_url="https://git.example.com/r.git",
            protected_refs="release/*\r\n  stable  \r\n",
            **{"targets-0-disk_limit": "50G"},
        ),
    )
    assert response.status_code == 302
    project = Project.objects.get(slug="demo")
    assert project.protected_refs == "release/*\nstable"
    assert project.targets.get().disk_limit == "50g"


def test_a_project_needs_exactly_one_source(admin_client: Client, seeded):
    both = project_form(
        git_url="https://git.example.com/r.git", local_path=str(FIXTURES / "hello-cross")
    )
    for data in (project_form(), both):
        response = admin_client.post(reverse("admin:builds_project_add"), data)
        assert response.status_code == 200
        assert response.context["adminform"].form.non_field_errors()
    assert not Project.objects.filter(slug="demo").exists()


def test_a_project_is_added_with_its_target_and_who_added_it(admin_client: Client, seeded):
    response = admin_client.post(
        reverse("admin:builds_project_add"),
        project_form(
            git_url="https://git.example.com/r.git",
            default_ref="main",
            **{"targets-0-image": "debian:bookworm"},
        ),
    )
    assert response.status_code == 302
    project = Project.objects.get(slug="demo")
    assert project.created_by is not None
    assert project.created_by.username == "admin"
    target = project.targets.get()
    assert target.triple == AARCH64
    assert target.image == "docker.io/library/debian:bookworm"


def test_deleting_a_project_removes_its_builds_and_their_files(
    admin_client: Client, seeded, django_capture_on_commit_callbacks
):
    path = Path(seeded.artifact.file.path)
    Build.objects.filter(pk=seeded.running.pk).update(state=Build.State.CANCELLED)
    url = reverse("admin:builds_project_delete", args=[seeded.project.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    counts = dict(page.context["model_count"])
    assert counts == {"projects": 1, "targets": 1, "builds": 2, "log chunks": 3, "artifacts": 1}

    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url, {"post": "yes"}).status_code == 302

    assert not Project.objects.exists()
    assert not Build.objects.exists()
    assert not path.exists()


def test_a_project_with_a_running_build_is_not_deleted(admin_client: Client, seeded):
    url = reverse("admin:builds_project_delete", args=[seeded.project.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 200
    assert "cancel it first" in response.content.decode()
    assert Project.objects.filter(pk=seeded.project.pk).exists()
    assert Build.objects.count() == 2


def test_a_size_reads_the_same_in_the_admin_and_on_the_dashboard(admin_client: Client, seeded):
    CacheVolume.objects.filter(pk=seeded.volume.pk).update(size=2_345_678_901)

    admin_page = admin_client.get(changelist_url(CacheVolume)).content.decode()
    dashboard = admin_client.get("/caches/").content.decode()

    assert '<td class="field-size_shown">2.3 GB' in admin_page  # not 2.2 GB (binary units)
    assert "2.3 GB" in dashboard


def test_a_private_registrys_password_is_kept_and_never_shown(admin_client: Client, seeded):
    secret = "registry-password-never-shown"
    response = admin_client.post(
        reverse("admin:builds_trustedregistry_add"),
        {
            "host": "registry.example.com",
            "allowed_images": "xcargo/*\ncross-rs/*:main",
            "pull_policy": "always",
            "username": "team",
            "password": secret,
        },
    )
    assert response.status_code == 302
    registry = TrustedRegistry.objects.get(host="registry.example.com")
    assert registry.as_registry().credentials.password == secret
    assert registry.as_registry().allowed_images == ("xcargo/*", "cross-rs/*:main")
    assert registry.as_registry().pull_policy == "always"
    assert secret not in repr(registry.as_registry())
    page = admin_client.get(change_url(registry)).content.decode()
    listing = admin_client.get(reverse("admin:builds_trustedregistry_changelist")).content.decode()
    assert secret not in page and secret not in listing
    # Saved again without typing it, the password stays.
    kept = admin_client.post(
        change_url(registry),
        {"host": registry.host, "allowed_images": "*", "pull_policy": "never", "username": "team"},
    )
    assert kept.status_code == 302
    registry.refresh_from_db()
    assert (registry.password, registry.pull_policy) == (secret, "never")


@pytest.mark.parametrize("globs", ["", "https://evil.example/x", "/etc/*"])
def test_allowed_images_that_are_not_globs_of_image_paths_are_refused(
    admin_client: Client, seeded, globs
):
    response = admin_client.post(
        reverse("admin:builds_trustedregistry_add"),
        {"host": "registry.example.com", "allowed_images": globs, "pull_policy": "always"},
    )
    assert response.status_code == 200
    assert "allowed_images" in response.context["adminform"].form.errors
    assert not TrustedRegistry.objects.filter(host="registry.example.com").exists()


def test_a_login_without_its_password_is_refused(admin_client: Client, seeded):
    response = admin_client.post(
        reverse("admin:builds_trustedregistry_add"),
        {"host": "r.example.com", "allowed_images": "*", "pull_policy": "never", "username": "x"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["password"] == ["A login needs its password."]
