"""Identical builds queued at once run once: which triggers join a queued build, how the
builds that joined it end with it (its result, its artifacts' files shared, never copied),
cancels, failures and deletions, and where a joined build says which build it joined.

Services on the database, without a worker: `_publish` is replaced by a list of the builds
handed to the queue, and commit callbacks run where the test says.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone
from kombu.exceptions import OperationalError

from builds.models import Artifact, Build, EngineHost, Project, Target
from builds.services import builds as build_services
from builds.services.builds import (
    cancel_build,
    delete_artifacts,
    delete_builds,
    end_abandoned_builds,
    end_build,
    resend_stalled_builds,
    send_next_of_target,
    trigger_build,
)
from builds.services.projects import create_project
from tests.server.factories import AARCH64, add_artifact
from tests.support import OLDEST

ARMV7 = "armv7-unknown-linux-gnueabihf"
# What a worker records when a build ran to its end: the result every joined build gets too.
RESULT = dict(
    state=Build.State.FINISHED,
    success=True,
    exit_code=0,
    phases={"prepare": 0.1, "build": 0.4, "collect": 0.1},
    fetch_skipped=True,
    image="localhost/xcargo/toolchain:aarch64-unknown-linux-gnu-1.98",
    image_source="toolchain",
    image_reason="the toolchain image",
    rustc_version="1.98.0",
    toolchain="1.98",
    toolchain_reason="the newest offered",
    strategy="zig",
    strategy_reason="a glibc floor",
    glibc_floor="2.28",
    target_cache="xcargo-target-app",
    target_cache_protected=True,
)


@pytest.fixture
def host(db: None) -> EngineHost:
    return EngineHost.objects.create(name="builder-1", queue="xcargo.builds.builder-1")


@pytest.fixture
def other_host(db: None) -> EngineHost:
    return EngineHost.objects.create(name="builder-2", queue="xcargo.builds.builder-2")


@pytest.fixture
def target(hello_project: Project, host: EngineHost) -> Target:
    return hello_project.targets.get()


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the builds handed to the queue, in order (no broker is needed)."""
    sent: list[int] = []

    def publish(build: Build) -> None:
        sent.append(build.pk)
        build_services.mark_sent(build.pk)

    monkeypatch.setattr(build_services, "_publish", publish)
    return sent


def trigger(target: Target, user: User, **options: Any) -> Build:
    return trigger_build(target=target, triggered_by=user, **options)


def running(build: Build, **fields: Any) -> Build:
    """`build` as its worker's claim leaves it (and as far as `fields` say it got)."""
    now = timezone.now()
    Build.objects.filter(pk=build.pk).update(
        state=Build.State.BUILDING, started_at=now, heartbeat_at=now, **fields
    )
    build.refresh_from_db()
    return build


def fresh(build: Build) -> Build:
    build.refresh_from_db()
    return build


# --- Which triggers join


def test_identical_triggers_join_the_first_one_queued_and_only_it_is_queued(
    target, user, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = trigger(target, user)
        second = trigger(target, user)
        third = trigger(target, user)

    assert first.joined_id is None
    assert second.joined_id == first.pk and third.joined_id == first.pk
    assert [second.state, third.state] == [Build.State.QUEUED] * 2
    assert published == [first.pk], "a build that joined another is never queued itself"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({}, {"toolchain": OLDEST}),
        ({}, {"toolchain": "stable"}),
        ({}, {"cargo_args": ["--jobs", "1"]}),
        ({"cargo_args": ["--jobs", "1"]}, {"cargo_args": ["--jobs", "2"]}),
        ({}, {"command": "test"}),
        ({"command": "test"}, {"command": "test", "test_args": ["--ignored"]}),
        ({}, {"engine_host": "builder-2"}),
    ],
    ids=[
        "toolchain",
        "stable",
        "cargo-args",
        "other-cargo-args",
        "command",
        "test-args",
        "engine-host",
    ],
)
def test_a_trigger_that_differs_in_any_option_does_not_join(
    target, user, other_host, published, first, second
):
    queued = trigger(target, user, **first)
    other = trigger(target, user, **second)

    assert other.joined_id is None
    assert trigger(target, user, **second).joined_id == other.pk, "identical ones still join"
    assert trigger(target, user, **first).joined_id == queued.pk


def test_a_trigger_of_another_ref_target_or_profile_does_not_join(user, host, published):
    project = create_project(
        name="app",
        git_url="https://git.example.invalid/app.git",
        default_ref="main",
        triples=[AARCH64, ARMV7],
    )
    aarch64, armv7 = project.targets.order_by("triple")
    main = trigger(aarch64, user)

    assert trigger(aarch64, user, ref="feature").joined_id is None
    assert trigger(armv7, user).joined_id is None
    assert trigger(aarch64, user, ref="main").joined_id == main.pk
    Target.objects.filter(pk=aarch64.pk).update(release=True)
    assert trigger(fresh(aarch64), user).joined_id is None, "a release build is not a debug one"


@pytest.mark.parametrize(
    "state",
    [
        Build.State.PREPARING_IMAGE,
        Build.State.BUILDING,
        Build.State.AWAITING_APPROVAL,
        Build.State.FINISHED,
        Build.State.FAILED,
        Build.State.CANCELLED,
    ],
)
def test_a_build_that_started_or_ended_is_not_joined(target, user, published, state):
    """A started build read its source before this trigger: the trigger may expect newer."""
    first = trigger(target, user)
    Build.objects.filter(pk=first.pk).update(state=state)

    assert trigger(target, user).joined_id is None


def test_concurrent_identical_triggers_make_one_build_that_the_others_join(
    transactional_db, target, user, published
):
    builds: list[int] = []
    errors: list[BaseException] = []

    def trigger_once() -> None:
        try:
            builds.append(trigger(target, user).pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    [leader] = Build.objects.filter(pk__in=builds, joined__isnull=True)
    assert Build.objects.filter(pk__in=builds, joined=leader).count() == 7
    assert published == [leader.pk]


# --- Never sent to a worker


def test_a_build_that_joined_is_never_sent_again_nor_sent_next(
    target, user, published, settings, django_capture_on_commit_callbacks
):
    settings.XCARGO_QUEUE_RESEND_AFTER = 0
    ended = trigger(target, user, cargo_args=["--jobs", "3"])
    Build.objects.filter(pk=ended.pk).update(state=Build.State.FINISHED)
    leader = running(trigger(target, user))
    joiner = trigger(target, user)
    # The leader started after the joiner joined it; another build waits for the target.
    Build.objects.filter(pk=joiner.pk).update(joined=leader)
    waiting = trigger(target, user, cargo_args=["--jobs", "1"])
    published.clear()

    assert send_next_of_target(ended.pk) == waiting.pk
    assert resend_stalled_builds() == [waiting.pk]
    assert published == [waiting.pk, waiting.pk]


# --- How the builds that joined end


def test_every_joined_build_ends_with_the_leaders_result_commit_and_artifact_files(
    target, user, published, media, api_client
):
    leader = trigger(target, user)
    joiners = [trigger(target, user) for _ in range(3)]
    running(leader, commit="a" * 40)
    made = add_artifact(leader, b"\x7fELF the one binary")

    assert end_build(leader.pk, from_states=Build.RUNNING_STATES, **RESULT)

    for joiner in map(fresh, joiners):
        assert joiner.state == Build.State.FINISHED and joiner.success is True
        assert {name: getattr(joiner, name) for name in RESULT} == RESULT
        assert joiner.commit == "a" * 40
        assert joiner.finished_at is not None
        assert joiner.started_at is None and joiner.log_lines == 0, "it did not run"
        [shared] = joiner.artifacts.all()
        assert (shared.name, shared.sha256, shared.size) == (made.name, made.sha256, made.size)
        assert shared.file.name == made.file.name, "the same stored file, not a copy"
        download = api_client.get(f"/api/builds/{joiner.pk}/artifacts/{shared.pk}")
        assert b"".join(download.streaming_content) == b"\x7fELF the one binary"
    assert len(list((media / "builds").rglob("*"))) == 2, "one directory, one file"


def test_a_leader_that_cargo_failed_ends_its_joined_builds_the_same_way(target, user, published):
    leader = trigger(target, user)
    joiner = trigger(target, user)
    running(leader)

    end_build(
        leader.pk,
        from_states=Build.RUNNING_STATES,
        state=Build.State.FINISHED,
        success=False,
        error_kind=Build.ErrorKind.COMPILE,
        error_message="cargo build failed",
        exit_code=101,
    )

    joiner = fresh(joiner)
    assert (joiner.state, joiner.success, joiner.error_kind, joiner.exit_code) == (
        Build.State.FINISHED,
        False,
        Build.ErrorKind.COMPILE,
        101,
    )
    assert joiner.error_message == "cargo build failed"


def test_a_leader_whose_worker_was_lost_ends_its_joined_builds_and_frees_its_target(
    target, user, published, settings, django_capture_on_commit_callbacks
):
    settings.XCARGO_HEARTBEAT_TIMEOUT = 90
    leader = trigger(target, user)
    joiner = trigger(target, user)
    running(leader)
    Build.objects.filter(pk=leader.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    waiting = trigger(target, user, cargo_args=["--jobs", "1"])
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert end_abandoned_builds() == 1

    joiner = fresh(joiner)
    assert (joiner.state, joiner.error_kind) == (Build.State.FAILED, Build.ErrorKind.WORKER_LOST)
    assert "stopped answering" in joiner.error_message
    assert published == [waiting.pk], "the target is free: its next build goes at once"


def test_a_leader_the_queue_did_not_take_ends_its_joined_builds_too(
    target, user, monkeypatch, django_capture_on_commit_callbacks
):
    def unreachable(build: Build) -> None:
        raise OperationalError("Connection refused")

    monkeypatch.setattr(build_services, "_publish", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        leader = trigger(target, user)
        joiner = trigger(target, user)

    for build in (fresh(leader), fresh(joiner)):
        assert (build.state, build.error_kind) == (Build.State.FAILED, Build.ErrorKind.QUEUE)


# --- Cancels


def test_cancelling_a_joined_build_cancels_only_it(target, user, published):
    leader = trigger(target, user)
    cancelled = trigger(target, user)
    other = trigger(target, user)

    cancel_build(build=cancelled, cancelled_by=user)
    running(leader)
    end_build(leader.pk, from_states=Build.RUNNING_STATES, **RESULT)

    cancelled = fresh(cancelled)
    assert cancelled.state == Build.State.CANCELLED
    assert cancelled.error_message == "cancelled by ada before it started"
    assert not cancelled.artifacts.exists()
    assert fresh(other).state == Build.State.FINISHED
    assert fresh(leader).state == Build.State.FINISHED


@pytest.mark.parametrize("started", [False, True], ids=["queued", "running"])
def test_a_cancelled_leader_hands_its_joined_builds_to_the_oldest_of_them(
    target, user, published, django_capture_on_commit_callbacks, started
):
    leader = trigger(target, user)
    heir, other = trigger(target, user), trigger(target, user)
    if started:
        running(leader)

    with django_capture_on_commit_callbacks(execute=True):
        cancel_build(build=leader, cancelled_by=user)
        # A running build is ended by its worker, which sees the request.
        end_build(
            leader.pk,
            from_states=Build.RUNNING_STATES,
            state=Build.State.CANCELLED,
            error_kind=Build.ErrorKind.CANCELLED,
            error_message="cancelled by ada while it ran",
        )

    assert fresh(leader).state == Build.State.CANCELLED
    heir, other = fresh(heir), fresh(other)
    assert heir.state == Build.State.QUEUED and heir.joined_id is None
    assert other.state == Build.State.QUEUED and other.joined_id == heir.pk
    assert published[-1] == heir.pk, "the heir is queued to run itself"
    assert trigger(target, user).joined_id == heir.pk


# --- Shared files and deletion


def _finished_with_a_shared_artifact(target: Target, user: User) -> tuple[Build, Build, Path]:
    leader = trigger(target, user)
    joiner = trigger(target, user)
    running(leader)
    made = add_artifact(leader)
    end_build(leader.pk, from_states=Build.RUNNING_STATES, **RESULT)
    return leader, joiner, Path(made.file.path)


@pytest.mark.parametrize(
    "delete",
    [
        lambda build: delete_builds(Build.objects.filter(pk=build.pk)),
        lambda build: delete_artifacts(Artifact.objects.filter(build=build)),
    ],
    ids=["builds", "artifacts"],
)
def test_a_shared_file_stays_until_the_last_row_that_names_it_is_deleted(
    target,
    user,
    published,
    media,
    django_capture_on_commit_callbacks,
    delete: Callable[[Build], int],
):
    leader, joiner, stored = _finished_with_a_shared_artifact(target, user)

    with django_capture_on_commit_callbacks(execute=True):
        delete(leader)
    assert stored.exists(), "the joined build still names the file"
    assert fresh(joiner).artifacts.get().file.read() == b"\x7fELF binary"

    with django_capture_on_commit_callbacks(execute=True):
        delete(joiner)
    assert not stored.exists()


# --- Where it shows


def test_the_api_the_pages_and_the_admin_say_which_build_it_joined(
    target, user, published, api_client, admin_client: Client
):
    leader = trigger(target, user)
    joiner = trigger(target, user)
    client = Client()
    client.force_login(user)

    assert api_client.get(f"/api/builds/{joiner.pk}").json()["joined_build"] == leader.pk
    assert api_client.get(f"/api/builds/{leader.pk}").json()["joined_build"] is None
    described = api_client.get("/api/openapi.json").json()["components"]["schemas"]["BuildOut"]
    assert "joined_build" in described["required"]
    assert "that this one joined" in described["properties"]["joined_build"]["description"]
    listed = api_client.get("/api/builds").json()["items"]
    assert {item["id"]: item["joined_build"] for item in listed} == {
        leader.pk: None,
        joiner.pk: leader.pk,
    }
    page = client.get(f"/builds/{joiner.pk}/").content.decode()
    assert f'Joined build <a href="/builds/{leader.pk}/">#{leader.pk}</a> (now' in page
    assert "Joined build" not in client.get(f"/builds/{leader.pk}/").content.decode()
    rows = client.get("/builds/").content.decode()
    assert f'joined <a href="/builds/{leader.pk}/">#{leader.pk}</a>' in rows
    changelist = admin_client.get("/admin/builds/build/?joined__isempty=0").content.decode()
    assert f"/admin/builds/build/{leader.pk}/change/" in changelist
    change = admin_client.get(f"/admin/builds/build/{joiner.pk}/change/").content.decode()
    assert "Joined:" in change and f"#{leader.pk}" in change
