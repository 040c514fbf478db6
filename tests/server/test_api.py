"""The API without a worker: who may call it, what it answers, and how it refuses bad input.

Every refusal is a 4xx with a JSON body that has a "detail" key, and a refused trigger leaves
no build behind. Builds, logs and artifacts are made here as rows (a log as chunks of lines,
the way the worker stores it), so paging and downloads are tested without running a build.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from builds.models import (
    Artifact,
    Build,
    CacheVolume,
    EngineHost,
    Image,
    Project,
    Target,
)
from builds.services.engines import queue_name
from builds.services.projects import create_project
from builds.services.tokens import issue_token, revoke_token
from tests.conftest import FIXTURES
from tests.server.conftest import AARCH64, broker_at
from tests.server.factories import add_artifact, add_log

ARMV7 = "armv7-unknown-linux-gnueabihf"
GIT_URL = "https://ci-bot:s3cr3t-t0ken@git.example.com/team/firmware.git"
LOG_LINES = 2500
CHUNK_LINES = 1000
ARTIFACT_BYTES = b"\x7fELF hello from aarch64\n"
UNUSED_BROKER = "redis://127.0.0.1:1/0"


@dataclass
class World:
    """What the API tests read: a local project and a git project with credentials in its
    URL, a finished build with a 2500-line log and an artifact, a queued and a running build,
    an engine host with an image and a cache volume.
    """

    host: EngineHost
    project: Project
    target: Target
    disabled: Target
    git_project: Project
    finished: Build
    queued: Build
    running: Build
    artifact: Artifact


def make_world(user: User, *, queue: str = queue_name("local")) -> World:
    """The rows the API tests (and the fuzz tests) read; MEDIA_ROOT must be a scratch dir.
    Builds are triggered on the host "local", whose worker would serve `queue`.
    """
    host = EngineHost.objects.create(
        name="local",
        queue=queue,
        kind="docker",
        version="27.1.1",
        rootless=False,
        doctor=[{"name": "engine", "ok": True, "detail": "Docker 27.1.1"}],
    )
    project = create_project(
        name="hello-cross",
        local_path=str(FIXTURES / "hello-cross"),
        triples=[AARCH64, ARMV7],
        created_by=user,
    )
    target = project.targets.get(triple=AARCH64)
    disabled = project.targets.get(triple=ARMV7)
    Target.objects.filter(pk=disabled.pk).update(enabled=False)
    git_project = create_project(
        name="firmware", git_url=GIT_URL, default_ref="main", triples=[AARCH64]
    )
    finished = Build.objects.create(
        project=project,
        target=target,
        engine_host=host,
        state=Build.State.FINISHED,
        success=True,
        exit_code=0,
        triggered_by=user,
        phases={"prepare": 1.5, "build": 20.25},
        image=f"localhost/xcargo/toolchain:{AARCH64}",
        rustc_version="rustc 1.80.0",
    )
    add_log(finished, [f"line {number}" for number in range(LOG_LINES)])
    artifact = add_artifact(finished, ARTIFACT_BYTES, profile="release")
    queued = Build.objects.create(
        project=git_project,
        target=git_project.targets.get(),
        engine_host=host,
        ref="main",
        triggered_by=user,
    )
    running = Build.objects.create(
        project=project, target=target, engine_host=host, state=Build.State.BUILDING
    )
    Image.objects.create(
        engine_host=host,
        reference=f"localhost/xcargo/toolchain:{AARCH64}",
        size=2 * 10**9,
        targets=[AARCH64],
        origin=Image.Origin.BOOTSTRAPPED,
    )
    CacheVolume.objects.create(
        engine_host=host,
        name="xcargo-target-hello",
        kind="target",
        project=project,
        target=AARCH64,
        size=3 * 10**8,
    )
    return World(
        host=host,
        project=project,
        target=target,
        disabled=disabled,
        git_project=git_project,
        finished=finished,
        queued=queued,
        running=running,
        artifact=artifact,
    )


def endpoints(world: World) -> list[tuple[str, str]]:
    """Every operation of the API (and its description and docs), as (method, path)."""
    finished, artifact = world.finished.pk, world.artifact.pk
    return [
        ("get", "/api/builds"),
        ("post", "/api/builds"),
        ("get", f"/api/builds/{finished}"),
        ("get", f"/api/builds/{finished}/log"),
        ("post", f"/api/builds/{world.running.pk}/cancel"),
        ("get", f"/api/builds/{finished}/artifacts/{artifact}"),
        ("get", "/api/projects"),
        ("get", "/api/images"),
        ("get", "/api/caches"),
        ("get", "/api/engines"),
        ("get", "/api/openapi.json"),
        ("get", "/api/docs"),
    ]


def assert_refusal(response: Any, status: int | tuple[int, ...]) -> Any:
    """A refusal: the status(es) expected, and a JSON body that says what is wrong."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict)
    assert body.get("detail"), body
    return body


@pytest.fixture
def world(db: None, user: User, media: Path) -> World:
    return make_world(user)


def call(client: Client, method: str, path: str, body: Any = None) -> Any:
    if method == "post":
        return client.post(path, json.dumps(body or {}), content_type="application/json")
    return client.get(path)


# Who may call it


def test_every_endpoint_refuses_an_anonymous_request(client: Client, world):
    for method, path in endpoints(world):
        body = assert_refusal(call(client, method, path, {"project": "x", "target": "y"}), 401)
        assert body["detail"] == "Unauthorized", path
    assert Build.objects.count() == 3
    assert Build.objects.get(pk=world.running.pk).cancel_requested is False


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer x",
        "Bearer ",
        "Bearer",
        "Bearer xc_",
        "Bearer xc_" + "A" * 43,
        "Bearer " + "x" * 10_000,
        "Bearer xc_" + "\x00" * 50,
        "Basic YWRhOmNvcnJlY3QgaG9yc2UgYmF0dGVyeQ==",  # ada's real password, as Basic auth
        "Token xc_abc",
        "xc_abc",
    ],
    ids=lambda value: value[:20],
)
def test_every_endpoint_refuses_a_wrong_token(world, authorization):
    client = Client(headers={"Authorization": authorization})
    for method, path in endpoints(world):
        assert_refusal(call(client, method, path), 401)


def test_every_endpoint_answers_a_valid_token(api_client: Client, world, user):
    trigger = {"project": "hello-cross", "target": AARCH64}
    for method, path in endpoints(world):
        response = call(api_client, method, path, trigger)
        assert response.status_code == (202 if method == "post" else 200), (path, response)
        if path == "/api/docs":
            assert response["Content-Type"].startswith("text/html")
        elif path == "/api/openapi.json":
            assert response.json()["info"]["title"] == "xcargo-web"
        elif "/artifacts/" in path:
            assert b"".join(response.streaming_content) == ARTIFACT_BYTES
        else:
            assert response["Content-Type"] == "application/json; charset=utf-8"


def test_the_last_use_of_a_token_is_recorded(api_client: Client, world, user):
    assert user.api_token.last_used_at is None
    assert api_client.get("/api/engines").status_code == 200
    user.api_token.refresh_from_db()
    assert user.api_token.last_used_at is not None


def test_a_revoked_or_replaced_token_is_refused(world, user):
    token = issue_token(user=user)
    client = Client(headers={"Authorization": f"Bearer {token}"})
    assert client.get("/api/builds").status_code == 200
    revoke_token(user=user)
    assert_refusal(client.get("/api/builds"), 401)

    old = issue_token(user=user)
    new = issue_token(user=user)
    assert_refusal(Client(headers={"Authorization": f"Bearer {old}"}).get("/api/builds"), 401)
    assert Client(headers={"Authorization": f"Bearer {new}"}).get("/api/builds").status_code == 200


def test_an_inactive_users_token_is_refused(world, user):
    client = Client(headers={"Authorization": f"Bearer {issue_token(user=user)}"})
    User.objects.filter(pk=user.pk).update(is_active=False)
    for method, path in endpoints(world):
        assert_refusal(call(client, method, path), 401)


def test_a_signed_in_session_may_read_but_must_send_the_csrf_token_to_write(world, user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get("/api/builds").status_code == 200
    assert browser.get("/api/openapi.json").status_code == 200
    refused = browser.post(
        "/api/builds", {"project": "hello-cross", "target": AARCH64}, "application/json"
    )
    assert refused.status_code == 403
    assert Build.objects.count() == 3


def test_a_token_needs_no_csrf_token(world, user):
    client = Client(
        enforce_csrf_checks=True, headers={"Authorization": f"Bearer {issue_token(user=user)}"}
    )
    response = client.post(f"/api/builds/{world.running.pk}/cancel")
    assert response.status_code == 202


# Triggering builds


def test_a_trigger_queues_a_build_and_publishes_it_once_committed(
    api_client: Client, world, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.post(
            "/api/builds", {"project": "hello-cross", "target": AARCH64}, "application/json"
        )
    assert response.status_code == 202
    body = response.json()
    assert len(callbacks) == 1, "the build is published to the queue once, after the commit"
    build = Build.objects.get(pk=body["id"])
    assert build.state == body["state"] == "queued"
    assert body["url"] == f"http://testserver/api/builds/{build.pk}"
    assert body["project"] == "hello-cross"
    assert body["target"] == AARCH64
    assert body["triggered_by"] == user.username
    assert body["engine_host"] == "local"
    assert body["ref"] == ""
    assert body["artifacts"] == []


def test_a_git_project_builds_its_default_ref_unless_given_one(api_client: Client, world):
    default = api_client.post(
        "/api/builds", {"project": "firmware", "target": AARCH64}, "application/json"
    )
    given = api_client.post(
        "/api/builds",
        {"project": "firmware", "target": AARCH64, "ref": "  release/v1.2  "},
        "application/json",
    )
    assert default.json()["ref"] == "main"
    assert given.json()["ref"] == "release/v1.2"


BAD_BODIES = [
    pytest.param("{", 400, id="not JSON"),
    pytest.param("", 422, id="empty"),
    pytest.param(b"\xff\xfe{\x00", 400, id="not UTF-8"),
    pytest.param("[" * 100_000 + "]" * 100_000, 400, id="deeply nested"),
    pytest.param('["hello-cross", "aarch64-unknown-linux-gnu"]', 422, id="array"),
    pytest.param('"hello-cross"', 422, id="string"),
    pytest.param("null", 422, id="null"),
    pytest.param("{}", 422, id="no fields"),
    pytest.param('{"project": "hello-cross"}', 422, id="no target"),
    pytest.param('{"target": "aarch64-unknown-linux-gnu"}', 422, id="no project"),
    pytest.param('{"project": 5, "target": "aarch64-unknown-linux-gnu"}', 422, id="int project"),
    pytest.param('{"project": "hello-cross", "target": ["a"]}', 422, id="list target"),
    pytest.param('{"project": "hello-cross", "target": null}', 422, id="null target"),
    pytest.param(
        '{"project": "hello-cross", "target": "aarch64-unknown-linux-gnu", "ref": 7}',
        422,
        id="int ref",
    ),
    pytest.param(
        '{"project": "hello cross", "target": "aarch64-unknown-linux-gnu"}', 422, id="bad slug"
    ),
    pytest.param('{"project": "hello-cross", "target": "x86\\u0000"}', 422, id="NUL triple"),
    pytest.param(
        '{"project": "hello-cross\\u0000", "target": "aarch64-unknown-linux-gnu"}',
        422,
        id="NUL project",
    ),
    pytest.param(json.dumps({"project": "p" * 101, "target": AARCH64}), 422, id="long project"),
    pytest.param(
        json.dumps({"project": "hello-cross", "target": AARCH64, "ref": "r" * 201}),
        422,
        id="long ref",
    ),
    pytest.param(json.dumps({"project": "nobody", "target": AARCH64}), 404, id="unknown project"),
    pytest.param(
        json.dumps({"project": "hello-cross", "target": "riscv64gc-unknown-linux-gnu"}),
        404,
        id="target the project lacks",
    ),
    pytest.param(json.dumps({"project": "hello-cross", "target": ARMV7}), 409, id="disabled"),
    pytest.param(
        json.dumps({"project": "hello-cross", "target": AARCH64, "ref": "main"}),
        409,
        id="ref for a local project",
    ),
]


@pytest.mark.parametrize(("body", "status"), BAD_BODIES)
def test_a_malformed_trigger_is_refused_and_creates_no_build(
    api_client: Client, world, body, status
):
    response = api_client.post("/api/builds", body, content_type="application/json")
    assert_refusal(response, status)
    assert Build.objects.count() == 3


@pytest.mark.parametrize(
    "ref",
    [
        "--upload-pack=evil",
        "-b",
        "main..dev",
        "main\x00evil",
        "main\nevil",
        "HEAD@{1}",
        "refs//heads",
        "main.lock",
        "a b",
        "$(reboot)",
        "~1",
        "main^",
        "feature/",
    ],
)
def test_a_hostile_ref_is_refused_and_creates_no_build(api_client: Client, world, ref):
    response = api_client.post(
        "/api/builds",
        {"project": "firmware", "target": AARCH64, "ref": ref},
        content_type="application/json",
    )
    body = assert_refusal(response, 422)
    [problem] = body["detail"]
    assert problem["loc"][-1] == "ref" and "pattern" in problem["msg"]
    assert Build.objects.count() == 3


def test_the_reason_for_a_refusal_names_the_field(api_client: Client, world):
    body = assert_refusal(
        api_client.post(
            "/api/builds", {"project": "hello-cross", "target": ARMV7}, "application/json"
        ),
        409,
    )
    assert body["field"] == "target"
    assert "disabled" in body["detail"]
    body = assert_refusal(
        api_client.post(
            "/api/builds",
            {"project": "hello-cross", "target": AARCH64, "ref": "main"},
            "application/json",
        ),
        409,
    )
    assert body["field"] == "ref"


def test_a_form_encoded_trigger_is_refused(api_client: Client, world):
    response = api_client.post("/api/builds", {"project": "hello-cross", "target": AARCH64})
    assert_refusal(response, (400, 422))
    assert Build.objects.count() == 3


def test_a_trigger_without_an_engine_host_is_unavailable(api_client: Client, world):
    EngineHost.objects.update(enabled=False)
    body = assert_refusal(
        api_client.post(
            "/api/builds", {"project": "hello-cross", "target": AARCH64}, "application/json"
        ),
        503,
    )
    assert "no engine host" in body["detail"]
    assert Build.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_trigger_when_redis_does_not_answer_fails_the_build_and_says_so(
    api_client: Client, user, media
):
    world = make_world(user)
    with broker_at(UNUSED_BROKER):
        response = api_client.post(
            "/api/builds", {"project": "hello-cross", "target": AARCH64}, "application/json"
        )
    body = assert_refusal(response, 503)
    assert "Redis" in body["detail"]
    [build] = Build.objects.exclude(pk__in=[world.finished.pk, world.queued.pk, world.running.pk])
    assert build.state == Build.State.FAILED
    assert build.error_kind == Build.ErrorKind.QUEUE
    assert build.finished_at is not None
    assert f"#{build.pk}" in body["hint"]
    shown = api_client.get(f"/api/builds/{build.pk}").json()
    assert (shown["state"], shown["error_kind"]) == ("failed", "queue")
    assert shown["error_message"] == body["detail"]


# Reading builds


def test_a_build_reads_with_its_artifacts(api_client: Client, world, user):
    body = api_client.get(f"/api/builds/{world.finished.pk}").json()
    assert body["state"] == "finished"
    assert body["success"] is True
    assert body["phases"] == {"prepare": 1.5, "build": 20.25}
    assert body["log_lines"] == LOG_LINES
    assert body["triggered_by"] == user.username
    [artifact] = body["artifacts"]
    assert artifact["sha256"] == hashlib.sha256(ARTIFACT_BYTES).hexdigest()
    assert artifact["url"].endswith(
        f"/api/builds/{world.finished.pk}/artifacts/{world.artifact.pk}"
    )


@pytest.mark.parametrize(
    "build_id", ["0", "-1", "abc", "1.5", str(2**31), str(2**63), "9" * 5000, "%00", "1%00"]
)
def test_an_impossible_build_id_is_refused(api_client: Client, world, build_id):
    for path in (
        f"/api/builds/{build_id}",
        f"/api/builds/{build_id}/log",
        f"/api/builds/{build_id}/artifacts/1",
        f"/api/builds/{world.finished.pk}/artifacts/{build_id}",
    ):
        assert_refusal(api_client.get(path), (404, 422))
    assert_refusal(api_client.post(f"/api/builds/{build_id}/cancel"), (404, 422))


def test_a_missing_build_is_not_found(api_client: Client, world):
    missing = Build.objects.order_by("-pk").first().pk + 1000
    for path in (f"/api/builds/{missing}", f"/api/builds/{missing}/log"):
        body = assert_refusal(api_client.get(path), 404)
        assert body["detail"] == f"no build #{missing}"
    assert_refusal(api_client.post(f"/api/builds/{missing}/cancel"), 404)


# The build list


def test_the_list_is_newest_first_and_pages(api_client: Client, world):
    everything = api_client.get("/api/builds").json()
    assert everything["count"] == 3
    assert [item["id"] for item in everything["items"]] == [
        world.running.pk,
        world.queued.pk,
        world.finished.pk,
    ]
    assert everything["next_offset"] is None
    first = api_client.get("/api/builds?limit=2").json()
    assert [item["id"] for item in first["items"]] == [world.running.pk, world.queued.pk]
    assert first["next_offset"] == 2
    rest = api_client.get("/api/builds?limit=2&offset=2").json()
    assert [item["id"] for item in rest["items"]] == [world.finished.pk]
    assert rest["next_offset"] is None
    beyond = api_client.get("/api/builds?offset=500").json()
    assert beyond == {"items": [], "count": 3, "next_offset": None}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("project=hello-cross", ["running", "finished"]),
        ("project=firmware", ["queued"]),
        ("project=nobody", []),
        (f"target={AARCH64}", ["running", "queued", "finished"]),
        (f"target={ARMV7}", []),
        ("state=queued", ["queued"]),
        ("state=finished", ["finished"]),
        ("state=cancelled", []),
        ("project=hello-cross&state=building", ["running"]),
        ("project=&target=", ["running", "queued", "finished"]),
    ],
)
def test_the_list_filters(api_client: Client, world, query, expected):
    response = api_client.get(f"/api/builds?{query}")
    assert response.status_code == 200, response.content
    ids = [item["id"] for item in response.json()["items"]]
    assert ids == [getattr(world, name).pk for name in expected]
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=-5",
        "limit=201",
        "limit=100000",
        "limit=" + "9" * 5000,
        "limit=abc",
        "limit=1.5",
        "offset=-1",
        "offset=10000001",
        "offset=" + "9" * 30,
        "state=",
        "state=bogus",
        "state=QUEUED",
        "state=queued%00",
        "project=hello%00cross",
        "project=%00",
        "project=" + "p" * 101,
        "project=a%20b",
        "target=" + "%00" * 5,
        "target=AARCH64",
        "target=%FF%FE",
    ],
)
def test_out_of_bounds_list_parameters_are_refused(api_client: Client, world, query):
    assert_refusal(api_client.get(f"/api/builds?{query}"), 422)


# The log


def log(client: Client, build: Build, **query: int) -> dict[str, Any]:
    response = client.get(f"/api/builds/{build.pk}/log", query)
    assert response.status_code == 200, response.content
    return response.json()


def test_the_log_reads_from_the_start_in_pages(api_client: Client, world):
    first = log(api_client, world.finished)
    assert first["lines"] == [f"line {number}" for number in range(1000)]
    assert (first["offset"], first["next_offset"]) == (0, 1000)
    assert first["total_lines"] == LOG_LINES
    assert first["state"] == "finished"
    assert first["finished"] is False, "more lines follow"


@pytest.mark.parametrize(
    ("offset", "limit", "first", "count"),
    [
        (0, 1, 0, 1),
        (999, 1, 999, 1),
        (999, 2, 999, 2),  # across the first chunk boundary
        (950, 100, 950, 100),
        (995, 1010, 995, 1010),  # spans three chunks
        (1000, 1000, 1000, 1000),
        (2000, 1000, 2000, 500),
        (2499, 10, 2499, 1),
        (0, 10_000, 0, LOG_LINES),
        (1, 10_000, 1, LOG_LINES - 1),
    ],
)
def test_the_log_pages_across_chunk_boundaries(
    api_client: Client, world, offset, limit, first, count
):
    body = log(api_client, world.finished, offset=offset, limit=limit)
    assert body["lines"] == [f"line {number}" for number in range(first, first + count)]
    assert body["offset"] == offset
    assert body["next_offset"] == offset + count
    assert body["finished"] is (offset + count >= LOG_LINES)


def test_following_the_log_by_next_offset_reads_every_line_once(api_client: Client, world):
    lines: list[str] = []
    offset = 0
    for _ in range(100):
        body = log(api_client, world.finished, offset=offset, limit=333)
        lines += body["lines"]
        offset = body["next_offset"]
        if body["finished"]:
            break
    assert lines == [f"line {number}" for number in range(LOG_LINES)]


@pytest.mark.parametrize("offset", [LOG_LINES, LOG_LINES + 1, 10**6, 10**9])
def test_an_offset_past_the_end_returns_no_lines(api_client: Client, world, offset):
    body = log(api_client, world.finished, offset=offset)
    assert body["lines"] == []
    assert body["next_offset"] == offset
    assert body["finished"] is True


def test_an_unfinished_builds_log_is_not_finished_at_its_end(api_client: Client, world):
    add_log(world.running, ["compiling"])
    body = log(api_client, world.running, offset=1)
    assert body["lines"] == []
    assert body["next_offset"] == 1
    assert body["finished"] is False
    empty = log(api_client, world.queued)
    assert (empty["lines"], empty["next_offset"], empty["finished"]) == ([], 0, False)


@pytest.mark.parametrize(
    "query",
    ["offset=-1", "offset=1000000001", "limit=0", "limit=10001", "offset=x", "offset=%00"],
)
def test_out_of_bounds_log_parameters_are_refused(api_client: Client, world, query):
    assert_refusal(api_client.get(f"/api/builds/{world.finished.pk}/log?{query}"), 422)


# Cancelling


def test_a_queued_build_is_cancelled_at_once(api_client: Client, world, user):
    response = api_client.post(f"/api/builds/{world.queued.pk}/cancel")
    assert response.status_code == 202
    body = response.json()
    assert body["state"] == "cancelled"
    assert body["error_kind"] == "cancelled"
    assert user.username in body["error_message"]


def test_a_running_build_is_asked_to_stop(api_client: Client, world):
    response = api_client.post(f"/api/builds/{world.running.pk}/cancel")
    assert response.status_code == 202
    assert response.json()["state"] == "building"
    assert response.json()["cancel_requested"] is True


@pytest.mark.parametrize("state", Build.FINAL_STATES)
def test_cancelling_an_ended_build_is_a_conflict(api_client: Client, world, state):
    Build.objects.filter(pk=world.finished.pk).update(state=state)
    body = assert_refusal(api_client.post(f"/api/builds/{world.finished.pk}/cancel"), 409)
    assert "already ended" in body["detail"]
    assert Build.objects.get(pk=world.finished.pk).state == state


def test_cancel_answers_only_post(api_client: Client, world):
    response = api_client.get(f"/api/builds/{world.queued.pk}/cancel")
    assert_refusal(response, 405)
    assert response["Allow"] == "POST"
    assert Build.objects.get(pk=world.queued.pk).state == "queued"


# Projects, images, caches, engines


def test_projects_are_listed_with_their_targets_and_no_credentials(api_client: Client, world):
    response = api_client.get("/api/projects")
    assert response.status_code == 200
    assert "s3cr3t" not in response.content.decode()
    projects = {project["slug"]: project for project in response.json()}
    assert projects["firmware"]["source"] == "https://ci-bot:***@git.example.com/team/firmware.git"
    assert projects["firmware"]["default_ref"] == "main"
    assert projects["hello-cross"]["source"] == str(FIXTURES / "hello-cross")
    targets = {target["triple"]: target["enabled"] for target in projects["hello-cross"]["targets"]}
    assert targets == {AARCH64: True, ARMV7: False}


def test_no_answer_shows_a_git_projects_credentials(api_client: Client, world):
    build = api_client.post(
        "/api/builds", {"project": "firmware", "target": AARCH64}, "application/json"
    ).json()
    for path in (
        "/api/projects",
        "/api/builds",
        f"/api/builds/{build['id']}",
        f"/api/builds/{world.queued.pk}/log",
        "/api/caches",
        "/api/openapi.json",
    ):
        assert "s3cr3t" not in api_client.get(path).content.decode(), path


def test_images_caches_and_engines_are_listed(api_client: Client, world):
    [image] = api_client.get("/api/images").json()
    assert image["engine_host"] == "local"
    assert image["targets"] == [AARCH64]
    caches = api_client.get("/api/caches").json()
    assert caches["total_bytes"] == 3 * 10**8
    [volume] = caches["volumes"]
    assert (volume["project"], volume["target"]) == ("hello-cross", AARCH64)
    [engine] = api_client.get("/api/engines").json()
    assert engine["name"] == "local"
    assert engine["running_builds"] == 1
    assert engine["doctor"] == [{"name": "engine", "ok": True, "detail": "Docker 27.1.1"}]


# Artifacts


def test_an_artifact_downloads_with_its_checksum(api_client: Client, world):
    response = api_client.get(f"/api/builds/{world.finished.pk}/artifacts/{world.artifact.pk}")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert content == ARTIFACT_BYTES
    assert response["X-Checksum-Sha256"] == hashlib.sha256(content).hexdigest()
    assert response["Content-Disposition"] == 'attachment; filename="hello-cross"'
    response.close()


def test_an_artifact_of_another_build_is_not_found(api_client: Client, world):
    path = f"/api/builds/{world.queued.pk}/artifacts/{world.artifact.pk}"
    assert_refusal(api_client.get(path), 404)


def test_an_artifact_whose_file_is_gone_answers_410(api_client: Client, world):
    Path(world.artifact.file.path).unlink()
    path = f"/api/builds/{world.finished.pk}/artifacts/{world.artifact.pk}"
    body = assert_refusal(api_client.get(path), 410)
    assert "no longer stored" in body["detail"]


@pytest.mark.parametrize("stored", ["", "builds", "../../../../etc/passwd", "/etc/passwd"])
def test_an_artifact_without_a_readable_file_answers_410(api_client: Client, world, stored):
    Artifact.objects.filter(pk=world.artifact.pk).update(file=stored)
    path = f"/api/builds/{world.finished.pk}/artifacts/{world.artifact.pk}"
    assert_refusal(api_client.get(path), 410)


@pytest.mark.parametrize(
    "name", ['say "hi"', "naïve-ünïcode", "new\nline", "semi;colon", "../../etc/passwd"]
)
def test_an_artifact_with_an_odd_name_downloads(api_client: Client, world, name):
    Artifact.objects.filter(pk=world.artifact.pk).update(name=name)
    response = api_client.get(f"/api/builds/{world.finished.pk}/artifacts/{world.artifact.pk}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == ARTIFACT_BYTES
    assert "\n" not in response["Content-Disposition"]
    response.close()


# The description


def test_the_description_lists_every_operation_and_its_auth(api_client: Client, world):
    schema = api_client.get("/api/openapi.json").json()
    operations = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert operations == {
        ("get", "/api/builds"),
        ("post", "/api/builds"),
        ("get", "/api/builds/{build_id}"),
        ("get", "/api/builds/{build_id}/log"),
        ("post", "/api/builds/{build_id}/cancel"),
        ("get", "/api/builds/{build_id}/artifacts/{artifact_id}"),
        ("get", "/api/projects"),
        ("get", "/api/images"),
        ("get", "/api/caches"),
        ("get", "/api/engines"),
    }
    assert schema["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"


# Requests outside the description


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "BREW"])
def test_an_unsupported_method_is_refused_in_json(api_client: Client, world, method):
    for _, path in endpoints(world)[:-2]:  # the description and docs are Django views
        body = assert_refusal(api_client.generic(method, path), 405)
        assert method in body["detail"]
    assert Build.objects.count() == 3
    assert not Build.objects.filter(pk=world.running.pk, cancel_requested=True).exists()


@pytest.mark.parametrize(
    "path", ["/api/", "/api/nothing", "/api/builds/", "/api/builds/1/log/", "/api/v2/builds"]
)
def test_an_unknown_path_is_refused_in_json(client: Client, api_client: Client, world, path):
    assert_refusal(client.get(path), 401)
    body = assert_refusal(api_client.get(path), 404)
    assert "/api/docs" in body["detail"]
    assert_refusal(api_client.post(path, "{}", "application/json"), 404)


def test_an_oversized_body_is_refused_in_json(api_client: Client, world, settings):
    body = json.dumps({"project": "hello-cross", "target": AARCH64, "ref": "x" * 3_000_000})
    refusal = assert_refusal(api_client.post("/api/builds", body, "application/json"), 413)
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in refusal["detail"]
    assert Build.objects.count() == 3


def test_too_many_query_parameters_are_refused_in_json(api_client: Client, world):
    query = "&".join(f"p{number}=1" for number in range(1500))
    assert_refusal(api_client.get(f"/api/builds?{query}"), 400)
    assert_refusal(api_client.get(f"/api/builds/{world.finished.pk}/log?{query}"), 400)
