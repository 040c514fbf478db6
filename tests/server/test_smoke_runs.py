"""An artifact's smoke-run on the server: the worker stores what run_build found when it started
each program, a required smoke-run that failed ends the build with the error kind "smoke", and
the API, the build page and the admin show the run. Rows and results are made here directly:
no engine and no worker.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import cast

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from builds.models import Artifact, Build, EngineHost, Project, Target
from builds.services.build_log import BuildLog
from builds.services.builds import end_build
from builds.services.runner import _ending_of_result, _store_artifacts
from runtimes import artifacts, smoke, vocabulary
from runtimes.smoke import SmokeRun
from tests.server.conftest import AARCH64
from tests.server.factories import add_artifact, result_of

PASSED_RUN = SmokeRun(
    state=smoke.PASSED,
    summary="under qemu-aarch64 on Debian bullseye's glibc 2.31",
    command="qemu-aarch64 -L /sysroots/bullseye/aarch64 /target/debug/hello-cross",
    exit_code=0,
    output=("hello-cross ok", "<b>not markup</b>"),
    seconds=0.4321,
)
FAILED_RUN = SmokeRun(
    state=smoke.FAILED,
    summary="wrong architecture: an x86-64 program, not AArch64",
)
REQUIRED_FAILURE = (
    "the smoke-run of hello-cross failed (wrong architecture: an x86-64 program, not "
    "AArch64), and xcargo.toml: [container] smoke requires it to pass; the artifact is kept "
    "for a look"
)


class _Log:
    """The build log as the runner writes it, kept as a list."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture
def host(db: None) -> EngineHost:
    return EngineHost.objects.create(name="local", queue="xcargo.builds.smoke-test")


@pytest.fixture
def target(hello_project: Project) -> Target:
    return hello_project.targets.get(triple=AARCH64)


@pytest.fixture
def running(target: Target, host: EngineHost) -> Build:
    return Build.objects.create(
        project=target.project, target=target, engine_host=host, state=Build.State.SMOKE_RUNNING
    )


def made_artifact(outputs: Path, smoke_run: SmokeRun | None) -> artifacts.Artifact:
    """A file the build copied out to `outputs`, with the smoke-run run_build gave it."""
    content = b"\x7fELF hello"
    path = outputs / AARCH64 / "debug" / "hello-cross"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()
    return artifacts.Artifact("hello-cross", path, len(content), digest, smoke=smoke_run)


def with_smoke(artifact: Artifact, run: SmokeRun) -> Artifact:
    """The stored artifact with `run` as the worker keeps it."""
    Artifact.objects.filter(pk=artifact.pk).update(
        smoke_state=run.state,
        smoke_summary=run.summary,
        smoke_command=run.command,
        smoke_exit_code=run.exit_code,
        smoke_output="\n".join(run.output),
        smoke_seconds=run.seconds,
    )
    artifact.refresh_from_db()
    return artifact


# The worker stores it


def test_the_worker_stores_each_artifacts_smoke_run(running: Build, media: Path, tmp_path: Path):
    outputs = tmp_path / "outputs"
    _store_artifacts(running, result_of(made_artifact(outputs, PASSED_RUN)), outputs)

    stored = Artifact.objects.get(build=running)
    assert stored.smoke_state == Artifact.SmokeState.PASSED == smoke.PASSED
    assert stored.smoke_summary == PASSED_RUN.summary
    assert stored.smoke_command == PASSED_RUN.command
    assert stored.smoke_exit_code == 0
    assert stored.smoke_lines == ["hello-cross ok", "<b>not markup</b>"]
    assert stored.smoke_seconds == pytest.approx(0.432)


def test_an_artifact_without_a_smoke_run_is_stored_as_not_tried(
    running: Build, media: Path, tmp_path: Path
):
    outputs = tmp_path / "outputs"
    _store_artifacts(running, result_of(made_artifact(outputs, None)), outputs)

    stored = Artifact.objects.get(build=running)
    assert stored.smoke_state == Artifact.SmokeState.NOT_TRIED == ""
    assert (stored.smoke_command, stored.smoke_exit_code, stored.smoke_seconds) == ("", None, None)
    assert stored.smoke_lines == []


def test_a_required_smoke_run_that_failed_ends_the_build_with_the_kind_smoke(
    running: Build, tmp_path: Path
):
    failed = result_of(
        made_artifact(tmp_path, FAILED_RUN),
        failure=REQUIRED_FAILURE,
        failure_kind=vocabulary.SMOKE,
    )
    log = _Log()

    ending = _ending_of_result(failed, cast(BuildLog, log))
    end_build(running.pk, from_states=Build.RUNNING_STATES, **ending)

    running.refresh_from_db()
    assert (running.state, running.success) == (Build.State.FINISHED, False)
    assert running.error_kind == Build.ErrorKind.SMOKE == vocabulary.SMOKE.word
    assert running.error_message == REQUIRED_FAILURE
    assert running.phases["smoke"] == 0.5
    assert log.lines == [f"xcargo: error: {REQUIRED_FAILURE}"]


@pytest.mark.parametrize(
    ("phases", "kind"),
    [({"fetch": 1.0, "build": 3.0}, vocabulary.COMPILE), ({"fetch": 1.0}, vocabulary.SOURCE)],
)
def test_a_failure_without_a_kind_is_cargos_or_the_fetchs(
    phases: dict[str, float], kind: vocabulary.ErrorKind
):
    failed = result_of(exit_code=101, failure="cargo build failed", phases=phases)

    assert _ending_of_result(failed, cast(BuildLog, _Log()))["error_kind"] == kind.word


# The API sends it


def test_the_api_sends_an_artifacts_smoke_run_and_null_when_none_was_tried(
    api_client: Client, running: Build, media: Path
):
    with_smoke(add_artifact(running, name="hello-cross"), PASSED_RUN)
    add_artifact(running, name="libhello.so")

    body = api_client.get(f"/api/builds/{running.pk}").json()

    runs = {artifact["name"]: artifact["smoke"] for artifact in body["artifacts"]}
    assert runs == {
        "hello-cross": {
            "state": "passed",
            "summary": PASSED_RUN.summary,
            "command": PASSED_RUN.command,
            "exit_code": 0,
            "output": ["hello-cross ok", "<b>not markup</b>"],
            "seconds": PASSED_RUN.seconds,
        },
        "libhello.so": None,
    }


def test_the_api_description_says_what_a_smoke_run_holds(api_client: Client, db: None):
    schemas = api_client.get("/api/openapi.json").json()["components"]["schemas"]

    smoke_property = schemas["ArtifactOut"]["properties"]["smoke"]
    assert {"$ref": "#/components/schemas/SmokeOut"} in smoke_property["anyOf"]
    assert {"type": "null"} in smoke_property["anyOf"]
    run = schemas["SmokeOut"]
    assert run["properties"]["state"]["enum"] == [smoke.PASSED, smoke.FAILED, smoke.NOT_RUN]
    assert set(run["required"]) == {"state", "summary", "command", "exit_code", "output", "seconds"}


# The page and the admin show it


def test_the_build_page_shows_each_artifacts_smoke_run(
    user: User, running: Build, media: Path, client: Client
):
    end_build(running.pk, from_states=Build.RUNNING_STATES, state=Build.State.FINISHED)
    with_smoke(add_artifact(running, name="hello-cross"), PASSED_RUN)
    add_artifact(running, name="libhello.so")
    client.force_login(user)

    page = client.get(running.get_absolute_url()).content.decode()

    assert '<th scope="col">Smoke-run</th>' in page
    assert '<strong class="smoke-passed">passed</strong>' in page
    assert "under qemu-aarch64 on Debian bullseye&#x27;s glibc 2.31" in page
    assert "(exit 0, 0.4 s)" in page
    assert (
        '<pre class="smoke-output">hello-cross ok\n&lt;b&gt;not markup&lt;/b&gt;</pre>' in page
    ), "the output is shown as it was printed, escaped"
    assert '<span class="muted">not tried</span>' in page, "the library was not started"


def test_a_build_failed_by_its_smoke_run_says_so_where_its_state_is_shown(
    user: User, running: Build, media: Path, client: Client
):
    end_build(
        running.pk,
        from_states=Build.RUNNING_STATES,
        state=Build.State.FINISHED,
        success=False,
        error_kind=vocabulary.SMOKE.word,
        error_message=REQUIRED_FAILURE,
    )
    with_smoke(add_artifact(running), FAILED_RUN)
    client.force_login(user)

    page = client.get(running.get_absolute_url()).content.decode()

    assert f"finished: {vocabulary.SMOKE.label}" in page
    assert "cargo failed" not in page
    assert '<strong class="smoke-failed">failed</strong>' in page
    assert "(exit" not in page, "nothing ran: no exit status, no seconds"


def test_the_admin_shows_the_smoke_run_read_only(admin_client: Client, running: Build, media: Path):
    artifact = with_smoke(add_artifact(running), PASSED_RUN)

    page = admin_client.get(reverse("admin:builds_artifact_change", args=[artifact.pk]))

    assert page.status_code == 200
    text = page.content.decode()
    assert PASSED_RUN.command in text
    assert "hello-cross ok" in text
    assert 'name="smoke_summary"' not in text, "read-only: no form field"
