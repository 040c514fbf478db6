"""The dashboard in a real browser: Chromium, driven by Playwright, on the live test server,
with the session's real Celery worker running builds in real Docker containers.

A person signs in, presses a Build button, watches the log arrive on the build page while the
build runs (htmx polls the page's live part every second and stops when the build is final),
downloads the artifact and checks its sha256; a build that would sleep for ten minutes is
cancelled from its page. Screenshots of what the person saw are saved in test-output/ at the
repository root (build-page.png, slow-build-live.png, build-cancelled.png and one per page),
to be looked at when a test fails or the pages change.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker.errors
import pytest
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

from builds.models import Build, CacheVolume, EngineHost, Image, Target
from runtimes import naming
from runtimes.engine import Engine
from runtimes.toolchains import NEWEST_CHANNEL
from tests.conftest import FIXTURES
from tests.registries import PUBLIC
from tests.server.conftest import AARCH64, REPOSITORY_ROOT, WorkerProcess
from tests.server.test_image_removal import labelled_image

pytestmark = [pytest.mark.engine, pytest.mark.slow]

OUTPUT = REPOSITORY_ROOT / "test-output"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUILD_SECONDS = 300
FINAL_STATES = {"finished", "failed", "cancelled"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread, while the tests' own database
    # calls (fixtures, assertions) stay synchronous: Django allows that only when told so,
    # and is told so only while these tests run.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(autouse=True)
def _remove_target_volumes(engine_host: EngineHost, docker_engine: Engine) -> Iterator[None]:
    """Afterwards, the target volumes that this test's builds recorded are removed: each test
    session checks its projects out in a new place, so no later build would use them again.
    """
    yield
    recorded = CacheVolume.objects.filter(
        engine_host=engine_host, kind=naming.KIND_TARGET, project__isnull=False
    )
    for name in recorded.values_list("name", flat=True):
        # Gone already, or in use by a build that outlived the test: left as it is.
        with contextlib.suppress(docker.errors.APIError):
            docker_engine.client.volumes.get(name).remove()


@pytest.fixture
def page(browser: Browser, live_server, user) -> Iterator[Page]:
    """A browser tab signed in as ada, on the dashboard."""
    OUTPUT.mkdir(exist_ok=True)
    context = browser.new_context(
        base_url=live_server.url, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    yield page
    context.close()


# The worker's last log line; the log has a poll of its own, so it may reach the page up to
# a second after the state does.
LAST_LINE = re.compile(r"^xcargo: (finished|error|failed|cancelled)\b", re.M)


def build_state(page: Page) -> str:
    return page.locator("#build-state").get_attribute("data-state") or ""


def watch(
    page: Page, until: Callable[[str, str], bool], *, seconds: float, worker: WorkerProcess
) -> tuple[str, str]:
    """Read the build page's state and log as the person sees them, every 0.1 s, until
    `until(state, log)` holds; the last state and log.
    """
    deadline = time.monotonic() + seconds
    while True:
        state, log = build_state(page), page.locator("#log").inner_text()
        if until(state, log):
            return state, log
        if time.monotonic() > deadline:
            pytest.fail(
                f"the build page did not get there in {seconds} s: state {state!r}, log:\n"
                f"{log[-3000:]}\nworker log:\n{worker.log_tail()}"
            )
        page.wait_for_timeout(100)


def build_id_of(page: Page) -> int:
    match = re.search(r"/builds/(\d+)/$", page.url)
    assert match, page.url
    return int(match.group(1))


def test_a_build_from_its_button_to_the_downloaded_artifact(
    page: Page, hello_project, engine_host, celery_worker: WorkerProcess
):
    page.goto("/")
    page.get_by_role("button", name=f"Build hello-cross for {AARCH64}").click()
    expect(page).to_have_url(re.compile(r"/builds/\d+/$"))
    build_id = build_id_of(page)
    polls: list[Request] = []
    page.on(
        "request",
        lambda request: (
            polls.append(request)
            if request.url.endswith(f"/builds/{build_id}/") and request.headers.get("hx-request")
            else None
        ),
    )

    # Log lines arrive while the build runs, if the page can catch it running (a warm
    # build of this crate takes about two seconds): remember what was seen on the way.
    seen_running_with_log: list[str] = []

    def ended(state: str, log: str) -> bool:
        if state not in FINAL_STATES and "xcargo:" in log:
            seen_running_with_log.append(state)
        return state in FINAL_STATES and bool(LAST_LINE.search(log))

    state, log = watch(page, ended, seconds=BUILD_SECONDS, worker=celery_worker)

    assert state == "finished", (log, celery_worker.log_tail())
    expect(page.locator("#build-state")).to_contain_text("finished: succeeded")
    assert polls, "the page followed the build through htmx polls"
    assert "xcargo: copying" in log
    assert "xcargo: finished: hello-cross" in log
    if seen_running_with_log:
        print(f"log lines were on the page while the build was {seen_running_with_log[0]}")

    row = page.locator("#artifacts tbody tr", has_text="hello-cross")
    sha256 = row.locator("code.sha256").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", sha256), sha256
    page.locator("#log").scroll_into_view_if_needed()
    page.screenshot(path=OUTPUT / "build-page.png", full_page=True)

    with page.expect_download() as downloading:
        row.get_by_role("link", name="Download hello-cross").click()
    download = downloading.value
    assert download.suggested_filename == "hello-cross"
    assert hashlib.sha256(Path(download.path()).read_bytes()).hexdigest() == sha256
    assert Build.objects.get(pk=build_id).artifacts.get().sha256 == sha256

    # Polling stopped with the final answer (status 286): no request for two seconds.
    count = len(polls)
    page.wait_for_timeout(2500)
    assert len(polls) == count, "the page went on polling a finished build"

    full_log = page.request.get(f"/builds/{build_id}/log.txt")
    assert full_log.ok
    assert full_log.headers["content-type"] == "text/plain; charset=utf-8"
    assert full_log.text().rstrip("\n").splitlines() == log.rstrip("\n").splitlines()

    for name, url in [
        ("dashboard", "/"),
        ("builds", "/builds/"),
        ("project", f"/projects/{hello_project.slug}/"),
        ("caches", "/caches/"),
        ("images", "/images/"),
        ("engines", "/engines/"),
        ("token", "/token/"),
    ]:
        response = page.goto(url)
        assert response is not None and response.ok, url
        page.screenshot(path=OUTPUT / f"page-{name}.png", full_page=True)


def test_a_slow_build_streams_its_log_to_the_page_and_is_cancelled_there(
    page: Page, engine_host, celery_worker: WorkerProcess
):
    form = page.locator("form", has=page.get_by_role("button", name="Register"))
    form.get_by_label("Name").fill("slow-build")
    form.get_by_label("Source").fill(str(FIXTURES / "slow-build"))
    form.get_by_label("Targets").fill(AARCH64)
    form.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="slow-build", exact=True)).to_be_visible()

    page.get_by_role("button", name=f"Build slow-build for {AARCH64}").click()
    expect(page).to_have_url(re.compile(r"/builds/\d+/$"))
    build_id = build_id_of(page)

    # The build script sleeps for ten minutes: what cargo printed so far reaches the page
    # while the build is still building.
    state, log = watch(
        page,
        lambda state, log: state == "building" and "Compiling slow-build" in log,
        seconds=BUILD_SECONDS,
        worker=celery_worker,
    )
    assert state == "building"
    page.screenshot(path=OUTPUT / "slow-build-live.png", full_page=True)

    page.get_by_role("button", name="Cancel build").click()
    expect(page.get_by_role("status")).to_contain_text(f"Build #{build_id} is being stopped.")
    state, log = watch(
        page,
        lambda state, log: state in FINAL_STATES and bool(LAST_LINE.search(log)),
        seconds=60,
        worker=celery_worker,
    )

    assert state == "cancelled", log
    expect(page.locator("#build-state")).to_have_text("cancelled")
    expect(page.get_by_role("button", name="Cancel build")).to_have_count(0)
    assert "xcargo: cancelled" in log
    page.screenshot(path=OUTPUT / "build-cancelled.png", full_page=True)
    build = Build.objects.get(pk=build_id)
    assert (build.state, build.error_kind) == (Build.State.CANCELLED, Build.ErrorKind.CANCELLED)


def test_a_dockerfile_from_an_untrusted_registry_waits_for_an_admins_yes_on_its_page(
    page: Page, user, untrusted_dockerfile_project, engine_host, celery_worker: WorkerProcess
):
    user.is_staff = True
    user.save()
    page.goto(f"/projects/{untrusted_dockerfile_project.slug}/")
    page.get_by_role("button", name=f"Build custom-image for {AARCH64}").click()
    expect(page).to_have_url(re.compile(r"/builds/\d+/$"))

    watch(page, lambda state, _log: state == "awaiting approval", seconds=120, worker=celery_worker)

    approval = page.locator("#approval")
    expect(approval).to_contain_text("xcargo.dockerfile")
    flagged = approval.locator("tr.concern")
    expect(flagged).to_have_count(1)
    expect(flagged).to_contain_text("FROM 127.0.0.1:5999/team/rust:1")
    expect(flagged).to_contain_text("127.0.0.1:5999, which is not a trusted registry")
    page.screenshot(path=OUTPUT / "dockerfile-approval.png", full_page=True)

    page.get_by_role("button", name="Approve this Dockerfile").click()
    state, log = watch(
        page,
        lambda state, log: state in FINAL_STATES and bool(LAST_LINE.search(log)),
        seconds=BUILD_SECONDS,
        worker=celery_worker,
    )

    assert state == "finished", (log, celery_worker.log_tail())
    expect(page.locator("#approval-decision")).to_contain_text("Approved by ada")
    assert "concerns approved by a person" in log
    build = Build.objects.get(pk=build_id_of(page))
    assert build.approval.decided_by == user


def test_an_image_from_an_untrusted_registry_waits_to_be_trusted_once_on_its_page(
    page: Page,
    user,
    hello_project,
    engine_host,
    celery_worker: WorkerProcess,
    docker_engine: Engine,
    pushed_toolchain: str,
):
    user.is_staff = True
    user.save()
    named = f"{PUBLIC}/team/rust:1"
    Target.objects.filter(project=hello_project).update(image=named)
    page.goto(f"/projects/{hello_project.slug}/")
    page.get_by_role("button", name=f"Build hello-cross for {AARCH64}").click()
    expect(page).to_have_url(re.compile(r"/builds/\d+/$"))
    try:
        watch(
            page,
            lambda state, _log: state == "awaiting approval",
            seconds=120,
            worker=celery_worker,
        )

        approval = page.get_by_role("region", name="image approval")
        expect(approval).to_contain_text(f"Image {named}: waiting for a person")
        flagged = approval.locator("tr.concern")
        expect(flagged).to_contain_text(f"{PUBLIC}/team/rust@{pushed_toolchain}")
        expect(flagged).to_contain_text(f"{PUBLIC}, which is not a trusted registry")
        page.screenshot(path=OUTPUT / "image-approval.png", full_page=True)

        page.get_by_role("button", name="Trust this image once (this digest)").click()
        state, log = watch(
            page,
            lambda state, log: state in FINAL_STATES and bool(LAST_LINE.search(log)),
            seconds=BUILD_SECONDS,
            worker=celery_worker,
        )

        assert state == "finished", (log, celery_worker.log_tail())
        expect(page.locator("#approval-decision")).to_contain_text("Approved by ada")
        assert "which a person trusted once" in log
    finally:
        docker_engine.client.images.remove(named, force=True)


def test_an_admin_removes_an_old_toolchain_image_from_the_caches_page(
    page: Page, user, engine_host, celery_worker: WorkerProcess, docker_engine: Engine
):
    user.is_staff = True
    user.save()
    old = labelled_image(docker_engine, "localhost/xcargo/removal-browser-test:old", "1.80")
    # As the worker's refresh records them: the old image, and the newest for its target.
    for reference, toolchain in (
        (old, "1.80"),
        (naming.toolchain_image(AARCH64, NEWEST_CHANNEL), NEWEST_CHANNEL),
    ):
        Image.objects.update_or_create(
            engine_host=engine_host,
            reference=reference,
            defaults={
                "toolchain": toolchain,
                "targets": [AARCH64],
                "size": docker_engine.client.images.get(reference).attrs["Size"],
                "origin": Image.Origin.BOOTSTRAPPED,
            },
        )
    page.goto("/caches/")
    removal = page.locator(
        "section", has=page.get_by_role("heading", name="Remove old toolchain images")
    )

    removal.get_by_label("Toolchain").fill("1.80")
    removal.get_by_role("button", name="Preview").click()
    preview = page.locator("#image-removal-preview")
    expect(preview).to_contain_text("This removes 1 image")
    expect(preview).to_contain_text(f"{engine_host.name}: {old} (toolchain 1.80)")
    page.screenshot(path=OUTPUT / "image-removal-preview.png", full_page=True)
    preview.get_by_role("button", name=re.compile(r"^Remove 1 image \(")).click()
    expect(page.get_by_text("Removing 1 image")).to_be_visible()

    deadline = time.monotonic() + 60
    while Image.objects.filter(reference=old).exists():
        assert time.monotonic() < deadline, celery_worker.log_tail()
        time.sleep(0.5)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_engine.client.images.get(old)
    page.goto("/caches/")
    expect(page.locator("#cache-images")).not_to_contain_text(old)
