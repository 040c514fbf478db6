"""The server's build path end to end: the API triggers a build, a real Celery worker on a
real Redis runs it in a real container, the artifact downloads with its sha256 and runs.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import uuid
from typing import Any

import pytest
from django.test import Client
from docker.models.containers import Container

from builds.models import Build, LogChunk
from builds.services.builds import end_abandoned_builds, resend_stalled_builds
from builds.services.projects import create_project
from runtimes import naming
from runtimes.engine import Engine
from runtimes.glibc import DEFAULT_FLOOR, GlibcVersion
from runtimes.toolchains import NEWEST_CHANNEL
from tests.conftest import FIXTURES
from tests.server.conftest import AARCH64, WorkerProcess
from tests.support import OLDEST, run_binary

pytestmark = [pytest.mark.engine, pytest.mark.slow]
BUILD_SECONDS = 600


def wait_for(client: Client, build_id: int, *, until: Any, seconds: float = BUILD_SECONDS) -> dict:
    """Poll the build through the API until `until(build)` holds; the last answer."""
    deadline = time.monotonic() + seconds
    while True:
        body = client.get(f"/api/builds/{build_id}").json()
        if until(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.5)


def wait_for_log_line(client: Client, build_id: int, text: str, seconds: float = 10) -> bool:
    """Whether a line with `text` reaches the stored log (lines land every half second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lines = client.get(f"/api/builds/{build_id}/log").json()["lines"]
        if any(text in line for line in lines):
            return True
        time.sleep(0.3)
    return False


def finished(body: dict) -> bool:
    return body["state"] in ("finished", "failed", "cancelled")


def trigger(client: Client, project: str, target: str = AARCH64, **extra: object) -> dict:
    response = client.post(
        "/api/builds", {"project": project, "target": target, **extra}, "application/json"
    )
    assert response.status_code == 202, response.content
    return response.json()


def everything_shown_of(
    api_client: Client,
    user: Any,
    worker: WorkerProcess,
    body: dict,
    lines: list[str],
    *,
    api: tuple[str, ...] = (),
    pages: tuple[str, ...] = (),
) -> list[str]:
    """Every text a build ended as `body` with log `lines` reaches: its log, its API answers and
    the build list's, its page and log download as staff see them, the worker's log, and the
    further API answers and pages named; for a test that a secret shows in none of them.
    """
    user.is_staff = user.is_superuser = True
    user.save()
    browser = Client()
    browser.force_login(user)
    page = f"/builds/{body['id']}/"
    return [
        "\n".join(lines),
        json.dumps(body),
        *(json.dumps(api_client.get(path).json()) for path in ("/api/builds", *api)),
        browser.get(page).content.decode(),
        b"".join(browser.get(f"{page}log.txt").streaming_content).decode(),
        *(browser.get(path).content.decode() for path in pages),
        worker.log_tail(),
    ]


def test_api_build_runs_on_the_worker_and_its_artifact_downloads_and_runs(
    api_client, user, hello_project, engine_host, celery_worker, tmp_path
):
    queued = trigger(api_client, hello_project.slug)
    # Accepted and not ended: a quick worker may already have taken it when the answer is made.
    assert queued["state"] in Build.ACTIVE_STATES
    assert queued["url"].endswith(f"/api/builds/{queued['id']}")

    body = wait_for(api_client, queued["id"], until=finished)

    assert body["state"] == "finished", (body, celery_worker.log_tail())
    assert body["success"] is True
    assert body["exit_code"] == 0
    assert set(body["phases"]) >= {"prepare", "build", "collect"}
    assert body["image"] == naming.toolchain_image(AARCH64, NEWEST_CHANNEL)
    assert body["image_source"] == "toolchain"
    assert body["image_reason"] == (
        f"the toolchain image for {AARCH64} and rustc {NEWEST_CHANNEL} (nothing named another)"
    )
    assert body["rustc_version"].startswith(NEWEST_CHANNEL)
    assert body["toolchain"] == NEWEST_CHANNEL
    assert body["engine_host"] == engine_host.name
    assert body["triggered_by"] == "ada"
    [artifact] = body["artifacts"]
    assert artifact["name"] == "hello-cross"
    download = api_client.get(artifact["url"])
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert hashlib.sha256(content).hexdigest() == artifact["sha256"]
    assert download["X-Checksum-Sha256"] == artifact["sha256"]
    binary = tmp_path / "hello-cross"
    binary.write_bytes(content)
    binary.chmod(0o755)
    assert "arch: aarch64" in run_binary(AARCH64, binary)
    assert artifact["smoke"]["state"] == "passed", artifact["smoke"]
    assert artifact["smoke"]["output"] == ["hello-cross 0.3.1"]
    assert artifact["smoke"]["summary"] == "under qemu-aarch64 on Debian bullseye's glibc 2.31"

    page = _signed_in(user).get(f"/builds/{queued['id']}/").content.decode()
    assert "finished" in page
    assert artifact["sha256"] in page
    assert "xcargo: finished: hello-cross" in page
    assert "under qemu-aarch64 on Debian bullseye&#x27;s glibc 2.31" in page
    assert f"(the toolchain image for {AARCH64} and rustc {NEWEST_CHANNEL}" in page

    log = api_client.get(f"/api/builds/{queued['id']}/log").json()
    assert log["finished"] is True
    assert any("xcargo: copying" in line for line in log["lines"])
    assert log["total_lines"] == len(log["lines"]) == body["log_lines"]
    # Following from an offset returns the rest, and nothing past the end.
    rest = api_client.get(f"/api/builds/{queued['id']}/log?offset=2").json()
    assert rest["lines"] == log["lines"][2:]
    assert rest["next_offset"] == log["total_lines"]


def test_a_build_with_a_toolchain_asked_for_records_it_its_strategy_and_its_artifacts_glibc(
    api_client, user, engine_host, celery_worker, tmp_path
):
    project = create_project(
        name="c-floor", local_path=str(FIXTURES / "c-floor"), triples=[AARCH64], created_by=user
    )
    queued = trigger(api_client, project.slug, toolchain=OLDEST)
    assert queued["requested_toolchain"] == OLDEST

    body = wait_for(api_client, queued["id"], until=finished)

    assert body["success"] is True, (body, celery_worker.log_tail())
    assert body["toolchain"] == OLDEST
    assert body["toolchain_reason"] == "named by the build"
    assert body["rustc_version"].startswith(OLDEST)
    assert body["strategy"] == "zig"
    assert "the server's floor (XCARGO_GLIBC_FLOOR)" in body["strategy_reason"]
    assert body["glibc_floor"] == "2.28"
    [artifact] = body["artifacts"]
    assert artifact["glibc"] and GlibcVersion.parse(artifact["glibc"]) <= DEFAULT_FLOOR
    binary = tmp_path / "c-floor"
    binary.write_bytes(b"".join(api_client.get(artifact["url"]).streaming_content))
    binary.chmod(0o755)
    assert "hello from C on glibc 2.36" in run_binary(AARCH64, binary)

    page = _signed_in(user).get(f"/builds/{queued['id']}/").content.decode()
    assert f'<span class="mono">{OLDEST}</span>' in page
    assert "named by the build" in page
    assert "zig <span" in page
    assert f'<td class="artifact-glibc">{artifact["glibc"]}</td>' in page


def test_a_toolchain_the_server_does_not_offer_is_refused_and_creates_no_build(
    api_client, user, hello_project, settings
):
    settings.XCARGO_TOOLCHAINS = (NEWEST_CHANNEL,)
    before = Build.objects.count()
    response = api_client.post(
        "/api/builds",
        {"project": hello_project.slug, "target": AARCH64, "toolchain": OLDEST},
        "application/json",
    )
    assert response.status_code == 409
    assert response.json()["field"] == "toolchain"
    assert NEWEST_CHANNEL in response.json()["hint"]
    assert Build.objects.count() == before


def test_a_git_project_builds_the_resolved_commit_and_a_rebuild_is_warm(
    api_client, user, git_repository, engine_host, celery_worker
):
    project = create_project(
        name="hello-git", git_url=git_repository, default_ref="main", triples=[AARCH64]
    )
    first = wait_for(api_client, trigger(api_client, project.slug)["id"], until=finished)
    assert first["success"] is True, (first, celery_worker.log_tail())
    head = subprocess.run(
        ["git", "rev-parse", "main"],
        cwd=git_repository.removeprefix("file://"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert first["commit"] == head
    assert first["ref"] == "main"

    second = wait_for(api_client, trigger(api_client, project.slug)["id"], until=finished)
    assert second["success"] is True
    assert second["fetch_skipped"] is True, "the same Cargo.lock is not fetched twice"
    assert second["crates_downloaded"] == 0
    assert second["artifacts"][0]["sha256"] == first["artifacts"][0]["sha256"]


def test_a_log_of_200_000_lines_is_stored_whole_and_in_order(
    api_client, user, engine_host, celery_worker
):
    project = create_project(
        name="noisy-build", local_path=str(FIXTURES / "noisy-build"), triples=[AARCH64]
    )
    body = wait_for(api_client, trigger(api_client, project.slug)["id"], until=finished)
    assert body["success"] is True, (body, celery_worker.log_tail())
    assert body["log_lines"] > 200_000

    numbered = []
    offset = 0
    while offset < body["log_lines"]:
        piece = api_client.get(f"/api/builds/{body['id']}/log?offset={offset}&limit=10000").json()
        numbered += [line for line in piece["lines"] if "noisy line" in line]
        offset = piece["next_offset"]
    assert [line.rsplit(" ", 1)[1] for line in numbered] == [f"{n:06}" for n in range(200_000)]
    # The stored chunks are bounded, so no read or write ever handles the whole log.
    chunks = LogChunk.objects.filter(build_id=body["id"])
    assert max(chunks.values_list("line_count", flat=True)) <= 1000


def test_cancel_stops_a_running_build_and_removes_its_container(
    api_client, user, engine_host, celery_worker, docker_engine
):
    project = create_project(
        name="slow-build", local_path=str(FIXTURES / "slow-build"), triples=[AARCH64]
    )
    build = trigger(api_client, project.slug)
    running = wait_for(api_client, build["id"], until=lambda b: b["state"] == "building")
    assert running["state"] == "building", (running, celery_worker.log_tail())

    response = api_client.post(f"/api/builds/{build['id']}/cancel")
    assert response.status_code == 202
    ended = wait_for(api_client, build["id"], until=finished, seconds=60)

    assert ended["state"] == "cancelled", ended
    assert ended["success"] is False
    assert ended["error_kind"] == "cancelled"
    assert ended["error_message"] == "cancelled by ada while it ran"
    assert _build_containers(docker_engine, "slow-build") == []
    again = api_client.post(f"/api/builds/{build['id']}/cancel")
    assert again.status_code == 409, "an ended build cannot be cancelled"


def test_two_builds_of_one_target_run_one_after_the_other(
    api_client, hello_project, engine_host, celery_worker
):
    first = trigger(api_client, hello_project.slug)
    # Not identical to the first (which it would join): cargo's own job count differs.
    second = trigger(api_client, hello_project.slug, cargo_args=["--jobs", "1"])
    assert second["joined_build"] is None
    for build_id in (first["id"], second["id"]):
        assert wait_for(api_client, build_id, until=finished)["success"] is True
    one, two = (Build.objects.get(pk=pk) for pk in (first["id"], second["id"]))
    assert one.finished_at <= two.started_at or two.finished_at <= one.started_at, (
        "two builds of one target shared its target volume at the same time"
    )


def test_identical_builds_queued_at_once_run_once_and_all_end_with_its_artifact(
    api_client, hello_project, engine_host, celery_worker: WorkerProcess, docker_engine
):
    since = int(time.time())
    # Triggered while no worker takes them (as while the worker is busy): all queued at once.
    celery_worker.wait_until_idle()
    celery_worker.stop()
    try:
        queued = [trigger(api_client, hello_project.slug) for _ in range(4)]
    finally:
        celery_worker.start()
    leader, *joiners = queued
    assert leader["joined_build"] is None
    assert [body["joined_build"] for body in joiners] == [leader["id"]] * 3

    ended = [wait_for(api_client, body["id"], until=finished) for body in queued]

    assert [(body["state"], body["success"]) for body in ended] == [("finished", True)] * 4, (
        ended,
        celery_worker.log_tail(),
    )
    [made] = ended[0]["artifacts"]
    for body in ended[1:]:
        [shared] = body["artifacts"]
        assert shared["sha256"] == made["sha256"]
        content = b"".join(api_client.get(shared["url"]).streaming_content)
        assert hashlib.sha256(content).hexdigest() == made["sha256"]
        assert body["started_at"] is None and body["log_lines"] == 0, "it did not run"
    # Only the first one ran containers (each is labelled with its build).
    ours = {str(body["id"]) for body in queued}
    events = docker_engine.client.events(
        since=since,
        until=int(time.time()) + 1,
        filters={"type": "container", "event": "create", "label": naming.LABEL_BUILD},
        decode=True,
    )
    ran = {event["Actor"]["Attributes"].get(naming.LABEL_BUILD) for event in events}
    assert ran & ours == {str(leader["id"])}


def test_a_killed_worker_ends_its_build_as_worker_lost_and_the_next_build_recovers(
    api_client, user, engine_host, celery_worker: WorkerProcess, docker_engine, settings
):
    settings.XCARGO_HEARTBEAT_TIMEOUT = 5
    slow = create_project(
        name="slow-kill", local_path=str(FIXTURES / "slow-build"), triples=[AARCH64]
    )
    build = trigger(api_client, slow.slug)
    running = wait_for(api_client, build["id"], until=lambda b: b["state"] == "building")
    assert running["state"] == "building", celery_worker.log_tail()

    celery_worker.kill()
    try:
        deadline = time.monotonic() + 60
        while not end_abandoned_builds() and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        celery_worker.start()

    lost = api_client.get(f"/api/builds/{build['id']}").json()
    assert lost["state"] == "failed"
    assert lost["error_kind"] == "worker lost"
    assert "stopped answering" in lost["error_message"]
    # The dead worker's container is still there, labelled with its build, which the next
    # worker to start (or the next build of the target) removes.
    left = _build_containers(docker_engine, "slow-build")
    assert [container.labels[naming.LABEL_BUILD] for container in left] == [str(build["id"])]
    retry = wait_for(
        api_client, trigger(api_client, slow.slug)["id"], until=lambda b: b["state"] == "building"
    )
    assert retry["state"] == "building", celery_worker.log_tail()
    assert wait_for_log_line(api_client, retry["id"], "left behind")
    api_client.post(f"/api/builds/{retry['id']}/cancel")
    assert wait_for(api_client, retry["id"], until=finished, seconds=60)["state"] == "cancelled"


def test_a_project_without_cargo_lock_fails_with_what_to_do(
    api_client, user, engine_host, celery_worker, source_root
):
    source = source_root / "no-lock"
    (source / "src").mkdir(parents=True)
    (source / "Cargo.toml").write_text('[package]\nname = "no-lock"\nversion = "0.1.0"\n')
    (source / "src" / "main.rs").write_text("fn main() {}\n")
    project = create_project(name="no-lock", local_path=str(source), triples=[AARCH64])

    body = wait_for(api_client, trigger(api_client, project.slug)["id"], until=finished)

    assert body["state"] == "failed", body
    assert body["error_kind"] == "user"
    assert "Cargo.lock is missing" in body["error_message"]
    assert "cargo generate-lockfile" in body["error_message"]
    lines = api_client.get(f"/api/builds/{body['id']}/log").json()["lines"]
    assert any("Cargo.lock is missing" in line for line in lines)


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _build_containers(engine: Engine, crate: str) -> list[Container]:
    """Build containers of a crate (their names start with the crate's project key)."""
    containers = engine.client.containers.list(all=True, filters={"label": "io.xcargo.kind=build"})
    return [c for c in containers if c.name.startswith(f"xcargo-build-{crate}-")]


def test_a_build_past_its_targets_disk_limit_fails_with_the_limit_named(
    api_client, user, engine_host, celery_worker
):
    project = create_project(
        name="fills-disk", local_path=str(FIXTURES / "fills-disk"), triples=[AARCH64]
    )
    project.targets.update(disk_limit="100m")

    body = wait_for(api_client, trigger(api_client, project.slug)["id"], until=finished)

    assert body["state"] == "failed", (body, celery_worker.log_tail())
    assert body["error_kind"] == "disk"
    assert "past its disk limit of 100m" in body["error_message"]
    assert body["target_cache_protected"] is None, "it never got to record a cache"
    page = _signed_in(user).get(f"/builds/{body['id']}/").content.decode()
    assert "disk limit" in page and "past its disk limit of 100m" in page


def test_a_queued_build_whose_task_the_queue_lost_is_sent_again_and_runs(
    api_client, user, hello_project, engine_host, celery_worker, settings
):
    settings.XCARGO_QUEUE_RESEND_AFTER = 0
    target = hello_project.targets.get(triple=AARCH64)
    # Accepted (in the database) while its message never reached Redis, or Redis lost it.
    lost = Build.objects.create(
        project=hello_project, target=target, engine_host=engine_host, task_id=uuid.uuid4().hex
    )

    assert resend_stalled_builds() == [lost.pk]
    body = wait_for(api_client, lost.pk, until=finished)

    assert body["state"] == "finished" and body["success"] is True, celery_worker.log_tail()
    assert resend_stalled_builds() == [], "an ended build is never sent again"
