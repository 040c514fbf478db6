"""The management commands an operator runs: API tokens, preparing a server, starting a worker."""

from __future__ import annotations

import contextlib
import os
import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from docker.errors import NotFound

from builds.models import ApiToken, Build, EngineHost, Project
from builds.services.tokens import TOKEN_PREFIX, user_for_token
from runtimes import naming
from runtimes.engine import Engine
from runtimes.toolchains import NEWEST_CHANNEL
from tests.conftest import DOCKER_URL, FIXTURES
from tests.server.conftest import AARCH64


def run(command: str, *arguments: str) -> tuple[str, str]:
    """Run a management command; what it wrote to stdout and to stderr."""
    stdout, stderr = StringIO(), StringIO()
    call_command(command, *arguments, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


# --- api_token


@pytest.fixture
def ada(db: None) -> User:
    return User.objects.create_user("ada", password="correct horse battery")


def test_api_token_prints_a_token_that_authenticates_the_user(ada: User) -> None:
    stdout, _ = run("api_token", "ada")
    token = stdout.strip()
    assert token.startswith(TOKEN_PREFIX)
    assert user_for_token(token) == ada


def test_a_new_api_token_replaces_the_previous_one(ada: User) -> None:
    first = run("api_token", "ada")[0].strip()
    second = run("api_token", "ada")[0].strip()
    assert first != second
    assert user_for_token(first) is None
    assert user_for_token(second) == ada
    assert ApiToken.objects.filter(user=ada).count() == 1


def test_revoke_removes_the_users_token(ada: User) -> None:
    token = run("api_token", "ada")[0].strip()
    stdout, stderr = run("api_token", "ada", "--revoke")
    assert stdout == ""
    assert "token revoked" in stderr
    assert user_for_token(token) is None
    assert not ApiToken.objects.filter(user=ada).exists()


def test_revoking_when_there_is_no_token_says_so(ada: User) -> None:
    _, stderr = run("api_token", "ada", "--revoke")
    assert "the user had no token" in stderr


def test_api_token_for_an_unknown_user_is_an_error_naming_the_user(db: None) -> None:
    with pytest.raises(CommandError) as refused:
        run("api_token", "nobody")
    assert "'nobody'" in str(refused.value)
    assert "--create" in str(refused.value)
    assert not ApiToken.objects.exists()


def test_api_token_create_makes_a_user_for_scripts_once(db: None) -> None:
    token, stderr = run("api_token", "--create", "ci")
    again, second = run("api_token", "--create", "ci")

    ci = User.objects.get(username="ci")
    assert "made the user 'ci'" in stderr and second == ""
    assert user_for_token(token.strip()) is None, "the second token replaced the first"
    assert user_for_token(again.strip()) == ci
    assert not ci.has_usable_password() and not ci.is_staff


def test_api_token_create_never_makes_a_user_to_revoke(db: None) -> None:
    with pytest.raises(CommandError):
        run("api_token", "--create", "--revoke", "ghost")
    assert not User.objects.filter(username="ghost").exists()


# --- prepare_server


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    return tmp_path / "admin-password"


def test_prepare_server_makes_an_admin_whose_password_is_only_in_a_private_file(
    db: None, password_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stdout, stderr = run("prepare_server", "--password-file", str(password_file))
    password = password_file.read_text().strip()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password(password)
    assert len(password) >= 20
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    printed = stdout + stderr + "".join(capsys.readouterr())
    assert password not in printed
    assert str(password_file) in stderr


def test_prepare_server_registers_the_example_project_with_an_aarch64_target(
    db: None, password_file: Path
) -> None:
    run("prepare_server", "--password-file", str(password_file))
    project = Project.objects.get(slug="hello-cross")
    assert Path(project.local_path) == (FIXTURES / "hello-cross").resolve()
    assert project.git_url == ""
    assert list(project.targets.values_list("triple", flat=True)) == [AARCH64]


def test_prepare_server_a_second_time_changes_nothing(db: None, password_file: Path) -> None:
    run("prepare_server", "--password-file", str(password_file))
    password = password_file.read_text()
    modified = password_file.stat().st_mtime_ns
    admin = User.objects.get(username="admin")

    _, stderr = run("prepare_server", "--password-file", str(password_file))

    assert stderr == ""
    assert password_file.read_text() == password
    assert password_file.stat().st_mtime_ns == modified
    assert User.objects.get(username="admin").password == admin.password
    assert User.objects.count() == 1
    assert Project.objects.count() == 1
    assert Project.objects.get(slug="hello-cross").targets.count() == 1


def test_prepare_server_leaves_an_existing_admin_and_its_password_alone(
    db: None, password_file: Path
) -> None:
    User.objects.create_superuser("admin", password="chosen by the operator")
    run("prepare_server", "--password-file", str(password_file))
    assert not password_file.exists()
    assert User.objects.get(username="admin").check_password("chosen by the operator")


def test_prepare_server_without_the_example_makes_only_the_admin(
    db: None, password_file: Path
) -> None:
    run("prepare_server", "--password-file", str(password_file), "--no-example")
    assert User.objects.filter(username="admin").exists()
    assert not Project.objects.exists()


def test_a_password_file_left_readable_by_others_is_made_private(
    db: None, password_file: Path
) -> None:
    password_file.write_text("an old password\n")
    password_file.chmod(0o644)
    run("prepare_server", "--password-file", str(password_file))
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600


# --- worker


@pytest.fixture
def no_exec(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Stands in for os.execv, which would replace the test process with a Celery worker;
    records each command instead.
    """
    started: list[list[str]] = []

    def record(path: str, arguments: list[str]) -> Any:
        started.append(arguments)
        raise AssertionError(f"the worker command started {arguments}")

    monkeypatch.setattr(os, "execv", record)
    return started


def test_a_worker_whose_engine_does_not_answer_fails_saying_how_to_start_one(
    db: None, no_exec: list[list[str]]
) -> None:
    with pytest.raises(CommandError) as failed:
        run("worker", "--host", "unreachable", "--engine-url", "unix:///nonexistent.sock")
    message = str(failed.value)
    assert "unix:///nonexistent.sock" in message
    assert "start Docker" in message
    assert "XCARGO_ENGINE_URL" in message
    assert no_exec == []
    # No host is registered that no worker serves: builds would queue there and never start.
    assert not EngineHost.objects.filter(name="unreachable").exists()


@pytest.mark.parametrize("concurrency", ["0", "-1", "65"])
def test_a_worker_concurrency_outside_1_to_64_is_refused_before_anything_is_registered(
    db: None, no_exec: list[list[str]], concurrency: str
) -> None:
    with pytest.raises(CommandError) as refused:
        run("worker", "--host", "refused", "--concurrency", concurrency)
    assert "between 1 and 64" in str(refused.value)
    assert not EngineHost.objects.filter(name="refused").exists()
    assert no_exec == []


class _Exec(Exception):
    """Where the worker command would become the Celery worker."""


@pytest.mark.engine
def test_a_starting_worker_removes_the_containers_that_ended_builds_left_and_says_so(
    hello_project: Project, docker_toolchains: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = docker_toolchains
    other = EngineHost.objects.create(name="crashed", queue="xcargo.builds.crashed-test")
    target = hello_project.targets.get(triple=AARCH64)
    ended, running = (
        Build.objects.create(project=hello_project, target=target, engine_host=other, state=state)
        for state in (Build.State.FAILED, Build.State.BUILDING)
    )
    containers = {
        build.pk: engine.client.containers.run(
            naming.toolchain_image(AARCH64, NEWEST_CHANNEL),
            ["sleep", "300"],
            labels=naming.managed_labels(
                naming.KIND_BUILD, project="leftover", target=AARCH64, build=str(build.pk)
            ),
            network_mode="none",
            detach=True,
        )
        for build in (ended, running)
    }

    def exec_celery(path: str, arguments: list[str]) -> None:
        raise _Exec(arguments)

    monkeypatch.setattr(os, "execv", exec_celery)
    stderr = StringIO()
    try:
        with pytest.raises(_Exec):
            call_command("worker", "--host", "leftovers", "--engine-url", DOCKER_URL, stderr=stderr)
        names = {container.name for container in engine.client.containers.list(all=True)}
        assert containers[ended.pk].name not in names, "the ended build's container is gone"
        assert containers[running.pk].name in names, "a running build's container is kept"
        assert f"left behind: #{ended.pk}" in stderr.getvalue()
    finally:
        for container in containers.values():
            with contextlib.suppress(NotFound):
                container.remove(force=True)
