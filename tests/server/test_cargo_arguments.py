"""Cargo's own arguments on the server: a target carries them (dashboard, admin, API), a
trigger adds its own after them, the build records what it ran with, and the real worker
passes them to cargo. Those that would break the sandbox are refused where they are typed.
"""

from __future__ import annotations

import pytest
from django.test import Client

from builds.models import Build, Target
from builds.services.engines import register_host
from builds.services.projects import create_project
from tests.conftest import FIXTURES
from tests.server.conftest import WorkerProcess
from tests.server.test_build_queue import finished, trigger, wait_for
from tests.support import AARCH64, run_binary


def post_json(client: Client, path: str, body: dict) -> dict:
    response = client.post(path, body, "application/json")
    return {"status": response.status_code, **response.json()}


def test_a_trigger_adds_its_cargo_arguments_after_the_targets(
    api_client, hello_project, django_capture_on_commit_callbacks
):
    # Registered in this test's transaction, so that the build is never published.
    register_host(name="local", engine_url="unix:///var/run/docker.sock", runtime="docker")
    Target.objects.filter(project=hello_project).update(cargo_args=["--features", "cli"])

    with django_capture_on_commit_callbacks(execute=False):
        queued = post_json(
            api_client,
            "/api/builds",
            {
                "project": hello_project.slug,
                "target": AARCH64,
                "cargo_args": ["-p", "app", "--locked"],
            },
        )

    assert queued["status"] == 202
    assert queued["cargo_args"] == ["--features", "cli", "-p", "app"], "--locked is implied"
    assert Build.objects.get(pk=queued["id"]).cargo_args == queued["cargo_args"]
    project = api_client.get("/api/projects").json()[0]
    assert project["targets"][0]["cargo_args"] == ["--features", "cli"]


@pytest.mark.parametrize(
    ("cargo_args", "said"),
    [
        (["--target-dir", "/tmp/x"], "cargo's --target-dir is not passed through"),
        (["--config", "/root/.cargo/config.toml"], "a config file is not passed through"),
        (["--features", "a\nb"], "each on one line"),
        (["-j"] * 65, "at most 64 arguments"),
    ],
)
def test_a_trigger_with_arguments_that_would_break_the_sandbox_is_refused(
    api_client, hello_project, cargo_args, said
):
    refused = post_json(
        api_client,
        "/api/builds",
        {"project": hello_project.slug, "target": AARCH64, "cargo_args": cargo_args},
    )

    assert refused["status"] == 400
    assert refused["field"] == "cargo_args" and said in refused["detail"]
    assert not Build.objects.exists()


def test_a_target_gets_its_cargo_arguments_on_the_project_page(client, user, hello_project):
    client.force_login(user)
    url = hello_project.get_absolute_url()
    triple = "x86_64-unknown-linux-gnu"

    added = client.post(
        url, {"triple": triple, "cargo_args": "--features 'cli json' -p app --bin tool"}
    )
    unsplittable = client.post(
        url, {"triple": "riscv64gc-unknown-linux-gnu", "cargo_args": "--features 'cli"}
    )
    hostile = client.post(
        url, {"triple": "riscv64gc-unknown-linux-gnu", "cargo_args": "--target-dir=/tmp"}
    )

    assert added.status_code == 302
    assert hello_project.targets.get(triple=triple).cargo_args == [
        "--features",
        "cli json",
        "-p",
        "app",
        "--bin",
        "tool",
    ]
    assert "--features cli json -p app --bin tool" in client.get(url).content.decode()
    assert unsplittable.status_code == 400
    assert "cannot split these arguments" in unsplittable.content.decode()
    assert hostile.status_code == 400
    assert "cargo&#x27;s --target-dir is not passed through" in hostile.content.decode()
    assert hello_project.targets.count() == 2


@pytest.mark.engine
@pytest.mark.slow
def test_the_worker_passes_a_builds_cargo_arguments_to_cargo(
    api_client, user, engine_host, celery_worker: WorkerProcess, tmp_path
):
    project = create_project(
        name="workspace-features",
        local_path=str(FIXTURES / "workspace-features"),
        triples=[AARCH64],
        created_by=user,
    )
    queued = trigger(api_client, project.slug, cargo_args=["-p", "app", "--features", "loud"])

    body = wait_for(api_client, queued["id"], until=finished)

    assert body["state"] == "finished" and body["success"], (body, celery_worker.log_tail())
    assert body["cargo_args"] == ["-p", "app", "--features", "loud"]
    names = {artifact["name"]: artifact for artifact in body["artifacts"]}
    assert set(names) == {"hello", "bye"}
    downloaded = tmp_path / "bye"
    downloaded.write_bytes(b"".join(api_client.get(names["bye"]["url"]).streaming_content))
    downloaded.chmod(0o755)
    assert run_binary(AARCH64, downloaded) == "bye: BYE FROM THE WORKSPACE\n"


@pytest.mark.engine
@pytest.mark.slow
def test_a_test_run_shows_its_results_and_the_failing_tests(
    api_client, user, engine_host, celery_worker: WorkerProcess
):
    project = create_project(
        name="workspace-features",
        local_path=str(FIXTURES / "workspace-features"),
        triples=[AARCH64],
        created_by=user,
    )
    passing = trigger(api_client, project.slug, command="test")
    passed = wait_for(api_client, passing["id"], until=finished)
    failing = trigger(
        api_client,
        project.slug,
        command="test",
        cargo_args=["-p", "greeter", "--features", "failing"],
        # For the test programs, as after `cargo test --`: only the tests this filter names.
        test_args=["fails_on"],
    )
    failed = wait_for(api_client, failing["id"], until=finished)

    assert passed["state"] == "finished" and passed["success"], (passed, celery_worker.log_tail())
    assert passed["command"] == "test" and passed["artifacts"] == []
    assert passed["tests"] == {
        "passed": 2,
        "failed": 0,
        "ignored": 1,
        "programs": 3,
        "failures": [],
        "broken": [],
    }
    assert failed["state"] == "finished" and failed["success"] is False
    assert failed["error_kind"] == "tests"
    assert failed["tests"]["failures"] == ["greeter: tests::fails_on_purpose"]
    assert failed["test_args"] == ["fails_on"]
    assert (failed["tests"]["passed"], failed["tests"]["failed"]) == (0, 1)
    lines = api_client.get(f"/api/builds/{failing['id']}/log?limit=5000").json()["lines"]
    assert "test tests::fails_on_purpose ... FAILED" in lines
    assert any("this test fails on purpose" in line for line in lines), "the failing output"
    client = Client()
    client.force_login(user)
    page = client.get(f"/builds/{failing['id']}/").content.decode()
    assert "test run" in page and "1 failed" in page
    assert "failed: greeter: tests::fails_on_purpose" in page


def test_test_arguments_are_for_a_test_run(api_client, hello_project):
    register_host(name="local", engine_url="unix:///var/run/docker.sock", runtime="docker")
    response = api_client.post(
        "/api/builds",
        {"project": hello_project.slug, "target": AARCH64, "test_args": ["--ignored"]},
        "application/json",
    )
    assert response.status_code == 400, response.content
    assert "test arguments are for a test run" in response.json()["detail"]
    assert not Build.objects.exists()


def test_a_build_is_a_build_or_a_test_run(api_client, hello_project):
    response = api_client.post(
        "/api/builds",
        {"project": hello_project.slug, "target": AARCH64, "command": "run"},
        "application/json",
    )
    assert response.status_code == 422
    assert not Build.objects.exists()
