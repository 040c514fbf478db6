"""The dashboard's pages and forms, through Django's test client, with the rows a worker would
write made directly: no engine, no worker and no Redis (a build's publish to the queue happens
on commit, which a test transaction never reaches).
"""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver, reverse
from django.utils import timezone

from builds import selectors, views
from builds.models import (
    ApiToken,
    Build,
    CacheQuota,
    CacheVolume,
    EngineHost,
    Image,
    LogChunk,
    Project,
    Target,
)
from builds.services.projects import create_project
from tests.conftest import FIXTURES
from tests.server.conftest import AARCH64
from tests.server.factories import add_artifact, add_log

X86_64 = "x86_64-unknown-linux-gnu"
HTMX = {"HX-Request": "true"}
SHA256 = hashlib.sha256(b"\x7fELF binary").hexdigest()


# Rows as the worker writes them.


@pytest.fixture
def host(db: None) -> EngineHost:
    return EngineHost.objects.create(
        name="local",
        queue="xcargo.builds.dashboard-test",
        kind="docker",
        version="26.1.5",
        rootless=False,
        cgroup="systemd, v2",
        last_seen=timezone.now(),
        doctor=[
            {"status": "ok", "message": "Docker 26.1.5 answers", "hint": None},
            {"status": "warn", "message": "no memory limit support", "hint": "enable cgroup v2"},
        ],
    )


@pytest.fixture
def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def project(hello_project: Project) -> Project:
    """hello-cross with two targets, aarch64 and x86_64."""
    Target.objects.create(project=hello_project, triple=X86_64)
    return hello_project


@pytest.fixture
def target(project: Project) -> Target:
    return project.targets.get(triple=AARCH64)


def make_build(target: Target, host: EngineHost, **fields: Any) -> Build:
    return Build.objects.create(project=target.project, target=target, engine_host=host, **fields)


def finished_build(target: Target, host: EngineHost, user: User | None = None) -> Build:
    now = timezone.now()
    return make_build(
        target,
        host,
        state=Build.State.FINISHED,
        success=True,
        triggered_by=user,
        started_at=now - timezone.timedelta(seconds=42),
        finished_at=now,
        phases={"prepare": 0.4, "fetch": 3.21, "build": 37.5, "collect": 0.2},
        crates_downloaded=7,
        image=f"localhost/xcargo/toolchain:{AARCH64}",
        image_digest="sha256:" + "d" * 64,
        rustc_version="rustc 1.85.0",
        toolchain="1.85",
        toolchain_reason="rust-toolchain.toml: channel 1.85",
        strategy="zig",
        strategy_reason="glibc floor 2.28 (the server's floor): linked by zig",
        glibc_floor="2.28",
        exit_code=0,
        commit="c0ffee" * 6 + "abcd",
    )


def text(response: Any) -> str:
    return response.content.decode()


def log_lines_on_page(response: Any) -> list[str]:
    """The lines of the page's <pre id="log">, unescaped."""
    match = re.search(r'<pre id="log"[^>]*>(.*?)</pre>', text(response), re.S)
    assert match, "the page has no log"
    return html.unescape(match.group(1)).splitlines()


# Signing in.

PAGES = [
    ("dashboard", {}, "get"),
    ("dashboard", {}, "post"),
    ("project", {"slug": "hello-cross"}, "get"),
    ("project", {"slug": "hello-cross"}, "post"),
    ("trigger-build", {"target_id": 1}, "post"),
    ("build-list", {}, "get"),
    ("build", {"build_id": 1}, "get"),
    ("cancel-build", {"build_id": 1}, "post"),
    ("decide-approval", {"build_id": 1}, "post"),
    ("build-log", {"build_id": 1}, "get"),
    ("build-log-lines", {"build_id": 1}, "get"),
    ("artifact-download", {"build_id": 1, "artifact_id": 1}, "get"),
    ("caches", {}, "get"),
    ("clean-caches", {}, "post"),
    ("remove-images", {}, "post"),
    ("images", {}, "get"),
    ("engines", {}, "get"),
    ("set-up-machine", {"host_id": 1}, "post"),
    ("machine-steps", {"host_id": 1}, "get"),
    ("token", {}, "get"),
    ("token-new", {}, "post"),
    ("token-revoke", {}, "post"),
]


def test_every_dashboard_route_is_in_the_sign_in_test():
    named = {
        pattern.name
        for pattern in get_resolver("builds.urls").url_patterns
        if pattern.name not in ("login", "logout")
    }
    assert named == {name for name, _kwargs, _method in PAGES}


@pytest.mark.parametrize(("name", "kwargs", "method"), PAGES)
def test_anonymous_users_are_sent_to_sign_in(client, db, name, kwargs, method):
    url = reverse(name, kwargs=kwargs)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{reverse('login')}?next=")


def test_signing_in_leads_to_the_dashboard(client, user):
    assert "Sign in" in text(client.get(reverse("login")))
    response = client.post(
        reverse("login"), {"username": "ada", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_a_wrong_password_is_refused(client, user):
    response = client.post(reverse("login"), {"username": "ada", "password": "wrong"})
    assert response.status_code == 200
    assert "enter a correct username and password" in text(response)


def test_logging_out_is_a_post_form_in_the_navigation(signed_in):
    page = text(signed_in.get(reverse("dashboard")))
    assert f'<form class="inline" method="post" action="{reverse("logout")}">' in page
    assert signed_in.post(reverse("logout"))["Location"] == reverse("login")
    assert signed_in.get(reverse("dashboard")).status_code == 302


def test_the_navigation_links_every_page_and_admin_only_for_staff(signed_in, user):
    page = text(signed_in.get(reverse("dashboard")))
    for name in ("dashboard", "build-list", "caches", "images", "engines", "token"):
        assert f'href="{reverse(name)}"' in page
    assert 'href="/api/docs"' in page
    assert 'href="/admin/"' not in page
    assert "ada" in page
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
    assert "django_htmx/htmx-2.min.js" in page

    user.is_staff = True
    user.save()
    assert 'href="/admin/"' in text(signed_in.get(reverse("dashboard")))


def test_a_user_without_staff_rights_is_sent_away_from_admin(signed_in, user):
    response = signed_in.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    user.is_staff = user.is_superuser = True
    user.save()
    assert signed_in.get("/admin/").status_code == 200


# The pages, with data.


def test_the_dashboard_lists_projects_targets_and_the_last_ten_builds(
    signed_in, project, target, host, user
):
    builds = [finished_build(target, host, user) for _ in range(12)]
    page = text(signed_in.get(reverse("dashboard")))
    assert "hello-cross" in page
    assert str(FIXTURES / "hello-cross") in page
    for triple in (AARCH64, X86_64):
        assert f'aria-label="Build hello-cross for {triple}"' in page
    shown = set(re.findall(r'href="/builds/(\d+)/"', page))
    assert shown == {str(build.pk) for build in builds[-10:]}


def test_a_git_url_with_credentials_is_never_shown(signed_in, db):
    create_project(
        name="private",
        git_url="https://deploy:s3cret-token@git.example.com/team/private.git",
        triples=[AARCH64],
    )
    for url in (reverse("dashboard"), reverse("project", args=["private"])):
        page = text(signed_in.get(url))
        assert "git.example.com/team/private.git" in page
        assert "s3cret-token" not in page


def test_the_project_page_shows_its_source_targets_and_builds(
    signed_in, project, target, host, user
):
    build = finished_build(target, host, user)
    other = create_project(name="other", local_path=str(FIXTURES / "slow-build"), triples=[AARCH64])
    foreign = make_build(other.targets.get(), host)
    page = text(signed_in.get(project.get_absolute_url()))
    assert "directory on the server" in page
    assert str(FIXTURES / "hello-cross") in page
    assert f'aria-label="Build hello-cross for {X86_64}"' in page
    assert f'href="/builds/{build.pk}/"' in page
    assert f'href="/builds/{foreign.pk}/"' not in page


def test_an_unknown_project_is_not_found(signed_in, db):
    assert signed_in.get(reverse("project", args=["nope"])).status_code == 404


def test_the_build_page_shows_everything_the_worker_recorded(signed_in, target, host, user, media):
    build = finished_build(target, host, user)
    artifact = add_artifact(build)
    add_log(build, ["xcargo: build #1", "   Compiling hello-cross v0.1.0", "Finished"])

    response = signed_in.get(build.get_absolute_url())

    page = text(response)
    assert response.status_code == 200
    for shown in (
        "finished: succeeded",
        "ada",
        "local",
        build.commit,
        "fetch 3.2 s",
        "build 37.5 s",
        "7 crates downloaded",
        f"localhost/xcargo/toolchain:{AARCH64}",
        build.image_digest,
        "rustc 1.85.0",
        '<span class="mono">1.85</span> <span class="muted">(rust-toolchain.toml: channel 1.85)',
        'zig <span class="muted">(glibc floor 2.28 (the server&#x27;s floor): linked by zig)',
        '<dd id="glibc-floor">2.28</dd>',
        artifact.sha256,
        "11 B",
        f'href="{reverse("artifact-download", args=[build.pk, artifact.pk])}"',
        f'href="{reverse("build-log", args=[build.pk])}"',
    ):
        assert shown in page, shown
    assert log_lines_on_page(response)[1] == "   Compiling hello-cross v0.1.0"
    assert "Cancel build" not in page, "a final build cannot be cancelled"
    assert "hx-trigger" not in page, "a final build is not polled"


def test_a_failed_build_shows_its_error(signed_in, target, host):
    build = make_build(
        target,
        host,
        state=Build.State.FAILED,
        success=False,
        error_kind=Build.ErrorKind.USER,
        error_message="Cargo.lock is missing: run cargo generate-lockfile",
    )
    page = text(signed_in.get(build.get_absolute_url()))
    assert "bad project or configuration" in page
    assert "Cargo.lock is missing: run cargo generate-lockfile" in page


def test_log_lines_are_shown_as_text_not_markup(signed_in, target, host):
    build = make_build(target, host, state=Build.State.BUILDING)
    add_log(build, ['<script>alert("x")</script>'])
    response = signed_in.get(build.get_absolute_url())
    assert "<script>alert" not in text(response)
    assert log_lines_on_page(response) == ['<script>alert("x")</script>']


def test_an_unknown_or_overlong_build_id_is_not_found(signed_in, db):
    for url in ("/builds/12345/", f"/builds/{10**30}/", f"/builds/{10**30}/log.txt"):
        assert signed_in.get(url).status_code == 404, url


def test_the_caches_page_lists_volumes_totals_and_warns_above_5_gb(signed_in, project, host):
    CacheVolume.objects.create(
        engine_host=host, name="xcargo-cargo-home-1", kind="cargo-home", size=2_500_000_000
    )
    CacheVolume.objects.create(
        engine_host=host,
        name="xcargo-target-hello",
        kind="target",
        project=project,
        target=AARCH64,
        size=3_000_000_000,
        in_use=True,
        last_used=timezone.now(),
    )
    page = text(signed_in.get(reverse("caches")))
    assert "xcargo-target-hello" in page
    assert "3.0 GB" in page and "2.5 GB" in page
    assert re.search(r'id="cache-total"[^>]*>5\.5 GB<', page)
    assert (
        "caches of engine host local use 5.5 GB, over the warning size of 5.0 GB "
        "(the default quota)"
    ) in page
    assert "over the limit" not in page

    CacheVolume.objects.filter(name="xcargo-cargo-home-1").update(size=8_000_000_000)
    page = text(signed_in.get(reverse("caches")))
    assert (
        "caches of engine host local use 11.0 GB, over the limit of 10.0 GB (the default "
        "quota): least-recently-used volumes are removed"
    ) in page


def test_a_global_cache_quota_sets_the_caches_pages_thresholds(signed_in, project, host):
    CacheVolume.objects.create(engine_host=host, name="xcargo-v", kind="target", size=5 * 10**9)
    CacheQuota.objects.create(warn_bytes=2 * 10**9, max_bytes=4 * 10**9)
    page = text(signed_in.get(reverse("caches")))
    assert re.search(r"<td>local</td><td[^>]*>5\.0 GB</td><td[^>]*>2\.0 GB</td>", page)
    assert "over the limit of 4.0 GB (the global quota)" in page
    CacheQuota.objects.create(engine_host=host, warn_bytes=6 * 10**9, max_bytes=8 * 10**9)
    page = text(signed_in.get(reverse("caches")))
    assert "over the" not in page, "the host's own quota wins over the global one"


def test_the_caches_page_without_volumes(signed_in, db):
    page = text(signed_in.get(reverse("caches")))
    assert "No cache volumes recorded yet" in page
    assert 'role="alert"' not in page


def test_the_images_page_lists_each_hosts_images(signed_in, host):
    Image.objects.create(
        engine_host=host,
        reference=f"localhost/xcargo/toolchain:{AARCH64}",
        image_id="sha256:" + "a" * 64,
        size=2_060_000_000,
        targets=[AARCH64],
        rustc_version="rustc 1.85.0",
        origin=Image.Origin.BOOTSTRAPPED,
    )
    page = text(signed_in.get(reverse("images")))
    assert f"localhost/xcargo/toolchain:{AARCH64}" in page
    assert "2.1 GB" in page
    assert "bootstrapped here" in page


def test_the_images_page_says_which_targets_cannot_be_had_here_and_why(signed_in, host):
    page = text(signed_in.get(reverse("images")))
    assert "Targets not offered here" in page
    assert (
        '<td class="mono">arm-unknown-linux-gnueabi</td><td>Debian&#x27;s armel standard library '
        "is built for armv5te-unknown-linux-gnueabi"
    ) in page


def test_the_engines_page_shows_facts_running_builds_and_doctor_checks(signed_in, target, host):
    make_build(target, host, state=Build.State.BUILDING)
    make_build(target, host, state=Build.State.QUEUED)
    EngineHost.objects.create(name="idle", queue="xcargo.builds.idle", max_concurrent_builds=3)
    page = text(signed_in.get(reverse("engines")))
    assert "xcargo.builds.dashboard-test" in page
    assert "0 running of at most 3" in page, "a host with no build running counts none"
    assert "docker 26.1.5" in page
    assert "systemd, v2" in page
    assert "1 running of at most 2" in page
    assert "no memory limit support" in page
    assert "enable cgroup v2" in page


# Registering projects and targets.


def test_registering_a_local_project_creates_it_with_its_targets(signed_in, user):
    response = signed_in.post(
        reverse("dashboard"),
        {
            "name": "Hello Cross",
            "source": str(FIXTURES / "hello-cross"),
            "triples": f"{AARCH64}, {X86_64}",
        },
    )
    project = Project.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("project", args=["hello-cross"])
    assert project.local_path == str(FIXTURES / "hello-cross")
    assert project.created_by == user
    assert sorted(project.targets.values_list("triple", flat=True)) == [AARCH64, X86_64]


def test_registering_a_git_project(signed_in, db):
    response = signed_in.post(
        reverse("dashboard"),
        {
            "name": "app",
            "source": "https://git.example.com/team/app.git",
            "default_ref": "main",
            "triples": AARCH64,
        },
    )
    assert response.status_code == 302
    project = Project.objects.get()
    assert (project.git_url, project.local_path, project.default_ref) == (
        "https://git.example.com/team/app.git",
        "",
        "main",
    )


@pytest.mark.parametrize(
    ("fields", "error", "hint"),
    [
        ({"source": "ext::sh -c evil"}, "has spaces or control characters", "https://"),
        ({"source": "ext::sh"}, "does not use an allowed git transport", "https://"),
        ({"source": "--upload-pack=evil"}, "it starts with", "https://"),
        ({"source": "/etc"}, "outside the allowed source directories", "XCARGO_SOURCE_ROOTS"),
        ({"source": "/tmp/../etc/passwd"}, "outside the allowed", "XCARGO_SOURCE_ROOTS"),
        ({"triples": "aarch64-linux-gnuu"}, "unknown target", f"did you mean {AARCH64}"),
        ({"default_ref": "main"}, "a server-local project has no git ref", ""),
        (
            {"source": "https://git.example.com/a.git", "default_ref": "--force"},
            "is not a git branch",
            "like main",
        ),
        ({"name": "!!!"}, "needs at least one letter or digit", ""),
        ({"name": ""}, "This field is required", ""),
        ({"name": "a\x00b"}, "Null characters are not allowed", ""),
        ({"source": "x" * 600}, "at most 500 characters", ""),
    ],
)
def test_a_refused_project_shows_why_on_the_form_and_creates_nothing(
    signed_in, db, fields, error, hint
):
    data = {"name": "app", "source": str(FIXTURES / "hello-cross"), "triples": AARCH64}
    response = signed_in.post(reverse("dashboard"), {**data, **fields})
    page = html.unescape(text(response))
    assert response.status_code == 400
    assert error in page
    assert hint in page
    assert 'aria-invalid="true"' in page
    assert not Project.objects.exists()
    assert not Target.objects.exists()


def test_an_empty_form_is_refused_not_ignored(signed_in, hello_project):
    assert signed_in.post(reverse("dashboard")).status_code == 400
    assert signed_in.post(hello_project.get_absolute_url()).status_code == 400
    assert Project.objects.count() == 1


def test_a_second_project_of_the_same_name_is_refused(signed_in, project):
    response = signed_in.post(
        reverse("dashboard"),
        {"name": "hello-cross", "source": str(FIXTURES / "slow-build"), "triples": AARCH64},
    )
    assert response.status_code == 400
    assert "a project named &#x27;hello-cross&#x27; exists already" in text(response)
    assert Project.objects.count() == 1


def test_adding_a_target_on_the_project_page(signed_in, hello_project):
    url = hello_project.get_absolute_url()
    response = signed_in.post(url, {"triple": X86_64, "release": "on"})
    assert response.status_code == 302
    added = hello_project.targets.get(triple=X86_64)
    assert added.release is True

    refused = signed_in.post(url, {"triple": "x86_64-unknown-linux-gnux"})
    assert refused.status_code == 400
    assert f"did you mean {X86_64}?" in text(refused)
    again = signed_in.post(url, {"triple": X86_64})
    assert again.status_code == 400
    assert f"already builds {X86_64}" in text(again)
    bad_image = signed_in.post(url, {"triple": "armv7-unknown-linux-gnueabihf", "image": "A B"})
    assert bad_image.status_code == 400
    assert hello_project.targets.count() == 2


# Building and cancelling.


def test_the_build_button_queues_a_build_and_opens_its_page(
    signed_in, target, host, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as published:
        response = signed_in.post(reverse("trigger-build", args=[target.pk]))
    build = Build.objects.get()
    assert response.status_code == 302
    assert response["Location"] == build.get_absolute_url()
    assert (build.state, build.target, build.triggered_by, build.engine_host) == (
        Build.State.QUEUED,
        target,
        user,
        host,
    )
    assert len(published) == 1, "the build goes to the queue once its row is committed"


def test_the_build_button_without_an_engine_host_explains_and_builds_nothing(signed_in, target):
    response = signed_in.post(
        reverse("trigger-build", args=[target.pk]), {"next": "/"}, follow=True
    )
    assert response.redirect_chain == [("/", 302)]
    assert "no engine host is registered" in text(response)
    assert "python manage.py worker" in text(response)
    assert not Build.objects.exists()


def test_the_build_button_goes_back_only_to_pages_of_this_site(signed_in, target):
    response = signed_in.post(
        reverse("trigger-build", args=[target.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == target.project.get_absolute_url()


def test_the_build_button_is_post_only(signed_in, target, host):
    assert signed_in.get(reverse("trigger-build", args=[target.pk])).status_code == 405
    assert not Build.objects.exists()


def test_cancel_ends_a_queued_build(signed_in, target, host):
    build = make_build(target, host)
    page = text(signed_in.get(build.get_absolute_url()))
    assert "Cancel build" in page

    response = signed_in.post(reverse("cancel-build", args=[build.pk]), follow=True)

    build.refresh_from_db()
    assert build.state == Build.State.CANCELLED
    assert build.error_message == "cancelled by ada before it started"
    assert f"Build #{build.pk} cancelled." in text(response)
    assert "Cancel build" not in text(response)


def test_cancel_asks_the_worker_to_stop_a_running_build(signed_in, target, host):
    build = make_build(target, host, state=Build.State.BUILDING)
    response = signed_in.post(reverse("cancel-build", args=[build.pk]), follow=True)
    build.refresh_from_db()
    assert build.state == Build.State.BUILDING
    assert build.cancel_requested is True
    assert "is being stopped" in text(response)
    assert "stopping…" in text(response)


def test_cancelling_an_ended_build_says_it_has_ended(signed_in, target, host):
    build = finished_build(target, host)
    response = signed_in.post(reverse("cancel-build", args=[build.pk]), follow=True)
    assert f"build #{build.pk} has already ended (finished)" in text(response)
    build.refresh_from_db()
    assert build.state == Build.State.FINISHED


# The live part of the build page.


@pytest.mark.parametrize("state", Build.ACTIVE_STATES)
def test_the_live_part_keeps_polling_while_the_build_is_not_final(signed_in, target, host, state):
    build = make_build(target, host, state=state)
    response = signed_in.get(build.get_absolute_url(), headers=HTMX)
    part = text(response)
    assert response.status_code == 200
    assert part.lstrip().startswith('<section id="build-live"')
    assert "<html" not in part
    assert f'hx-get="{build.get_absolute_url()}"' in part
    assert 'hx-trigger="every 1s"' in part
    assert 'hx-swap="outerHTML"' in part


@pytest.mark.parametrize("state", Build.FINAL_STATES)
def test_the_live_part_of_a_final_build_answers_286_so_polling_stops(
    signed_in, target, host, state
):
    build = make_build(target, host, state=state)
    response = signed_in.get(build.get_absolute_url(), headers=HTMX)
    assert response.status_code == 286
    assert 'id="build-live"' in text(response)
    assert "hx-trigger" not in text(response)


def _log_poll(client: Client, build: Build, after: int) -> Any:
    return client.get(f"{reverse('build-log-lines', args=[build.pk])}?after={after}", headers=HTMX)


def _appended(response: Any) -> list[str]:
    """The lines a log poll's answer appends to the page's log."""
    match = re.search(r'<span hx-swap-oob="beforeend:#log">(.*?)</span>', text(response), re.S)
    return html.unescape(match.group(1)).splitlines() if match else []


def test_the_live_part_is_small_and_carries_no_log(signed_in, target, host):
    build = make_build(target, host, state=Build.State.BUILDING)
    add_log(build, [f"   Compiling crate-{n} v1.0.0" for n in range(300)])

    part = text(signed_in.get(build.get_absolute_url(), headers=HTMX))

    assert "crate-" not in part, "the status poll does not send the log again"
    assert "Log: 300 lines." in part
    assert len(part.encode()) < 6000


def test_log_lines_reach_the_page_and_the_poll_escaped_each_ending_a_line(signed_in, target, host):
    build = make_build(target, host, state=Build.State.BUILDING)
    lines = ["<script>alert(1)</script>", "a & b", "", "   Compiling crate v1.0.0"]
    add_log(build, lines)

    page = text(signed_in.get(build.get_absolute_url()))
    poll = text(_log_poll(signed_in, build, 0))

    for answer in (page, poll):
        assert "<script>alert" not in answer
        escaped = "&lt;script&gt;alert(1)&lt;/script&gt;\na &amp; b\n\n   Compiling crate v1.0.0\n<"
        assert escaped in answer
    assert log_lines_on_page(signed_in.get(build.get_absolute_url())) == lines
    assert _appended(_log_poll(signed_in, build, 0)) == lines


def test_the_log_poll_sends_only_the_lines_after_the_last_one_the_page_has(
    signed_in, target, host, media
):
    build = make_build(target, host, state=Build.State.BUILDING)
    add_log(build, ["xcargo: build started"])
    page = signed_in.get(build.get_absolute_url())
    assert log_lines_on_page(page) == ["xcargo: build started"]
    assert f'hx-get="{reverse("build-log-lines", args=[build.pk])}?after=1"' in text(page)

    nothing_new = _log_poll(signed_in, build, 1)
    assert nothing_new.status_code == 200 and _appended(nothing_new) == []
    assert "?after=1" in text(nothing_new), "the next poll asks from the same line"

    add_log(build, ["xcargo: build started", "   Compiling hello-cross", "<b>not markup</b>"])
    more = _log_poll(signed_in, build, 1)
    assert _appended(more) == ["   Compiling hello-cross", "<b>not markup</b>"]
    assert "<b>" not in text(more)
    assert "?after=3" in text(more)

    add_log(build, ["xcargo: build started", "   Compiling hello-cross", "<b>not markup</b>",
                    "xcargo: finished: hello-cross"])  # fmt: skip
    Build.objects.filter(pk=build.pk).update(state=Build.State.FINISHED, success=True)
    last = _log_poll(signed_in, build, 3)
    assert last.status_code == 286, "every line sent and the build final: polling stops"
    assert _appended(last) == ["xcargo: finished: hello-cross"]
    assert "hx-trigger" not in text(last)
    status = signed_in.get(build.get_absolute_url(), headers=HTMX)
    assert status.status_code == 286 and "finished: succeeded" in text(status)


def test_a_final_build_with_more_lines_than_one_poll_carries_is_polled_until_all_are_sent(
    signed_in, long_log, monkeypatch
):
    monkeypatch.setattr(views, "LOG_LINES_PER_POLL", 1500)
    Build.objects.filter(pk=long_log.pk).update(state=Build.State.FINISHED)

    first = _log_poll(signed_in, long_log, 0)
    rest = _log_poll(signed_in, long_log, 1500)

    assert first.status_code == 200 and len(_appended(first)) == 1500
    assert "?after=1500" in text(first)
    assert rest.status_code == 286
    assert _appended(rest) == [f"line {n}" for n in range(1500, 2000)]


@pytest.mark.parametrize("after", ["-1", "x", "1e3", "9" * 40, "\u0661"])
def test_a_malformed_log_offset_is_refused(signed_in, target, host, after):
    build = make_build(target, host, state=Build.State.BUILDING)
    response = signed_in.get(f"{reverse('build-log-lines', args=[build.pk])}?after={after}")
    assert response.status_code == 400


def test_a_plain_request_gets_the_whole_page_around_the_live_part(signed_in, target, host):
    build = make_build(target, host, state=Build.State.FETCHING)
    page = text(signed_in.get(build.get_absolute_url()))
    assert page.startswith("<!doctype html>")
    assert 'hx-trigger="every 1s"' in page
    assert "Triggered by" in page


# Logs.


@pytest.fixture
def long_log(target: Target, host: EngineHost) -> Build:
    """A finished build whose log is 2000 lines in two chunks."""
    build = finished_build(target, host)
    add_log(build, [f"line {number}" for number in range(2000)])
    assert LogChunk.objects.filter(build=build).count() == 2
    return build


def test_the_build_page_shows_only_the_last_300_lines_of_a_long_log(signed_in, long_log):
    response = signed_in.get(long_log.get_absolute_url())
    assert log_lines_on_page(response) == [f"line {n}" for n in range(1700, 2000)]
    assert "Log: 2000 lines; the page keeps the last lines." in text(response)


def test_the_full_log_streams_every_line_in_order_as_text(signed_in, long_log):
    response = signed_in.get(reverse("build-log", args=[long_log.pk]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines() == [f"line {n}" for n in range(2000)]


def test_the_full_log_of_a_build_without_output_is_empty(signed_in, target, host):
    build = make_build(target, host)
    response = signed_in.get(reverse("build-log", args=[build.pk]))
    assert b"".join(response.streaming_content) == b""


# Artifacts.


def test_an_artifact_downloads_with_its_checksum(signed_in, target, host, media):
    build = finished_build(target, host)
    artifact = add_artifact(build)
    response = signed_in.get(artifact.get_absolute_url())
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x7fELF binary"
    assert response["X-Checksum-Sha256"] == SHA256
    assert 'filename="hello-cross"' in response["Content-Disposition"]


def test_an_artifact_downloads_only_through_its_own_build(signed_in, target, host, media):
    artifact = add_artifact(finished_build(target, host))
    other = finished_build(target, host)
    url = reverse("artifact-download", args=[other.pk, artifact.pk])
    assert signed_in.get(url).status_code == 404


def test_an_artifact_whose_file_is_gone_answers_410(signed_in, target, host, media):
    artifact = add_artifact(finished_build(target, host))
    artifact.file.delete(save=False)
    assert signed_in.get(artifact.get_absolute_url()).status_code == 410


# The build list.


@pytest.fixture
def mixed_builds(project: Project, host: EngineHost, user: User) -> dict[str, Build]:
    grace = User.objects.create_user("grace")
    other = create_project(name="other", local_path=str(FIXTURES / "slow-build"), triples=[X86_64])
    aarch64, x86_64 = project.targets.order_by("triple")
    return {
        "ada-aarch64-finished": finished_build(aarch64, host, user),
        "ada-x86-queued": make_build(x86_64, host, triggered_by=user),
        "grace-aarch64-failed": make_build(
            aarch64, host, triggered_by=grace, state=Build.State.FAILED
        ),
        "grace-other-building": make_build(
            other.targets.get(), host, triggered_by=grace, state=Build.State.BUILDING
        ),
    }


def listed(response: Any) -> set[int]:
    assert response.status_code == 200, response.content[:2000]
    return {int(pk) for pk in re.findall(r'href="/builds/(\d+)/"', text(response))}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"ada-aarch64-finished", "ada-x86-queued", "grace-aarch64-failed",
              "grace-other-building"}),
        ({"project": "hello-cross"}, {"ada-aarch64-finished", "ada-x86-queued",
                                      "grace-aarch64-failed"}),
        ({"target": AARCH64}, {"ada-aarch64-finished", "grace-aarch64-failed"}),
        ({"state": "failed"}, {"grace-aarch64-failed"}),
        ({"user": "grace"}, {"grace-aarch64-failed", "grace-other-building"}),
        ({"project": "hello-cross", "user": "ada", "state": "queued"}, {"ada-x86-queued"}),
        ({"project": "hello-cross", "state": "failed"}, {"grace-aarch64-failed"}),
        ({"project": "nope"}, set()),
        ({"user": "nobody"}, set()),
        ({"target": "riscv64gc-unknown-linux-gnu"}, set()),
    ],
)  # fmt: skip
def test_the_build_list_filters(signed_in, mixed_builds, query, expected):
    response = signed_in.get(reverse("build-list"), query)
    assert listed(response) == {mixed_builds[name].pk for name in expected}


def test_the_build_list_pages_through_50_builds_at_a_time(signed_in, target, host):
    Build.objects.bulk_create(
        Build(project=target.project, target=target, engine_host=host) for _ in range(120)
    )
    newest_first = list(Build.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    pages = [listed(signed_in.get(reverse("build-list"), {"page": n})) for n in (1, 2, 3)]
    assert [len(page) for page in pages] == [50, 50, 20]
    assert pages[0] == set(newest_first[:50])
    assert set().union(*pages) == set(newest_first)
    page = text(signed_in.get(reverse("build-list"), {"page": 2, "state": "queued"}))
    assert 'href="?page=1&amp;state=queued"' in page, "page links keep the filters"
    assert 'href="?page=3&amp;state=queued"' in page
    assert "Page 2 of 3" in page


def test_the_build_list_makes_the_same_few_queries_for_10_000_builds(signed_in, target, host, user):
    """Every row's project, target, user and host come with the page's one query."""
    Build.objects.bulk_create(
        Build(project=target.project, target=target, engine_host=host, triggered_by=user)
        for _ in range(10_000)
    )
    with CaptureQueriesContext(connection) as first:
        assert len(listed(signed_in.get(reverse("build-list")))) == 50
    with CaptureQueriesContext(connection) as last:
        assert len(listed(signed_in.get(reverse("build-list"), {"page": 200}))) == 50
    assert len(first) == len(last) <= 6, [query["sql"] for query in last.captured_queries]
    assert "Page 200 of 200" in text(signed_in.get(reverse("build-list"), {"page": 999}))


def test_a_row_of_the_build_list_says_what_the_build_is(signed_in, target, host):
    build = make_build(
        target,
        host,
        state=Build.State.FINISHED,
        success=False,
        error_kind=Build.ErrorKind.TESTS,
        started_at=timezone.now() - timezone.timedelta(seconds=42.25),
    )
    created = timezone.make_aware(timezone.datetime(2026, 1, 2, 3, 4, 5, 678000))
    Build.objects.filter(pk=build.pk).update(
        created_at=created, finished_at=build.started_at + timezone.timedelta(seconds=42.25)
    )
    page = text(signed_in.get(reverse("build-list")))
    row = re.search(rf'<tr>\s*<td><a href="/builds/{build.pk}/">.*?</tr>', page, re.S).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells == [
        f'<a href="/builds/{build.pk}/">#{build.pk}</a>',
        f'<a href="/projects/{target.project.slug}/">{target.project.name}</a>',
        AARCH64,
        '<span class="state state-finished unsuccessful">finished: tests failed</span>',
        "—",
        '<time datetime="2026-01-02T03:04:05.678000+00:00">2026-01-02 03:04:05</time>',
        "42.3 s",
    ]


def test_a_page_of_builds_is_read_by_the_ids_a_first_read_finds(target, host, user):
    """Two reads give what a slice of the filtered builds gives, in its order (ties of
    creation time included): the filtered, sliced ids, then the rows of those ids, given as a
    list (as a subquery, PostgreSQL's planner joined every build first); no ids, no second
    read."""
    Build.objects.bulk_create(
        Build(project=target.project, target=target, engine_host=host, triggered_by=user)
        for _ in range(30)
    )
    tied = Build.objects.order_by("pk").values_list("pk", flat=True)[10:20]
    Build.objects.filter(pk__in=list(tied)).update(created_at=timezone.now())
    builds = selectors.recent_builds(project=target.project.slug, triggered_by=user.username)
    pages = selectors.IdsFirst(builds)
    assert pages.count() == 30
    for window in (slice(0, 7), slice(7, 19), slice(25, 40), slice(40, 50)):
        with CaptureQueriesContext(connection) as reads:
            rows = pages[window]
        expected = list(builds.values_list("pk", flat=True)[window])
        assert [build.pk for build in rows] == expected
        [ids, *rest] = reads.captured_queries
        assert ids["sql"].startswith('SELECT "builds_build"."id" AS "pk" FROM "builds_build" WHERE')
        if not expected:
            assert rest == []
            continue
        [read] = rest
        where = read["sql"].partition(" WHERE ")[2]
        assert where.startswith(f'"builds_build"."id" IN ({expected[0]}, '), where


@pytest.mark.parametrize(
    "query",
    [
        {"project": "hello\x00cross"},
        {"target": "\x00"},
        {"user": "ada\x00"},
        {"state": "queued\x00"},
        {"project": "p" * 10_000},
        {"target": "t" * 10_000},
        {"user": "u" * 10_000},
        {"state": "s" * 10_000},
        {"state": "bogus"},
        {"project": "'; DROP TABLE builds_build; --"},
        {"target": "../../etc/passwd"},
        {"page": "-1"},
        {"page": "0"},
        {"page": "abc"},
        {"page": "\x00"},
        {"page": "9" * 10_000},
        {"page": "1e9"},
        {"state": ["queued", "failed"]},
    ],
)
def test_hostile_build_list_queries_never_cause_a_server_error(signed_in, mixed_builds, query):
    response = signed_in.get(reverse("build-list"), query)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert 'role="alert"' in text(response)
        assert listed_or_none(response) == set()


def listed_or_none(response: Any) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/builds/(\d+)/"', text(response))}


def test_an_unknown_state_is_refused_with_a_message(signed_in, mixed_builds):
    response = signed_in.get(reverse("build-list"), {"state": "bogus"})
    assert response.status_code == 400
    assert "Select a valid choice. bogus is not one of the available choices." in text(response)


# API tokens.


def test_the_token_page_shows_a_new_token_once_and_the_api_accepts_it(signed_in, user):
    assert "You have no API token." in text(signed_in.get(reverse("token")))

    response = signed_in.post(reverse("token-new"))

    token = re.search(r'id="new-token">(xc_[^<]+)<', text(response)).group(1)
    assert response["Cache-Control"] == "no-store"
    assert 'curl -H "Authorization: Bearer $TOKEN" http://testserver/api/builds' in html.unescape(
        text(response)
    )
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/builds").status_code == 200
    later = text(signed_in.get(reverse("token")))
    assert token not in later, "a token is shown once"
    assert ApiToken.objects.get(user=user).prefix in later
    assert "Last used" in later

    assert signed_in.post(reverse("token-new")).status_code == 200
    assert api.get("/api/builds").status_code == 401, "a new token replaces the old one"


def test_revoking_the_token_stops_it_working(signed_in, user):
    token = re.search(
        r'id="new-token">(xc_[^<]+)<', text(signed_in.post(reverse("token-new")))
    ).group(1)
    response = signed_in.post(reverse("token-revoke"), follow=True)
    assert "Your API token is revoked" in text(response)
    assert not ApiToken.objects.filter(user=user).exists()
    anonymous = Client(headers={"Authorization": f"Bearer {token}"})
    assert anonymous.get("/api/builds").status_code == 401


def test_the_token_buttons_are_post_only(signed_in, user):
    assert signed_in.get(reverse("token-new")).status_code == 405
    assert signed_in.get(reverse("token-revoke")).status_code == 405
    assert not ApiToken.objects.exists()
