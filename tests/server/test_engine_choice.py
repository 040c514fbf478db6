"""A deployment with a Docker host and a Podman host: a build goes where its target's caches
are warm unless the trigger names a host; the dashboard offers the choice when there is one.
"""

from __future__ import annotations

import pytest
from django.test import Client

from builds.models import Build, EngineHost
from tests.server.conftest import AARCH64


@pytest.fixture
def hosts(db: None) -> tuple[EngineHost, EngineHost]:
    docker = EngineHost.objects.create(
        name="docker-1", queue="xcargo.builds.docker-1", kind="docker"
    )
    podman = EngineHost.objects.create(
        name="podman-1", queue="xcargo.builds.podman-1", kind="podman"
    )
    return docker, podman


def trigger(client: Client, project: str, **extra: object):
    return client.post(
        "/api/builds", {"project": project, "target": AARCH64, **extra}, "application/json"
    )


def test_a_trigger_names_the_host_it_builds_on(
    api_client, hello_project, hosts, django_capture_on_commit_callbacks
):
    _docker, podman = hosts
    with django_capture_on_commit_callbacks(execute=False):
        on_podman = trigger(api_client, hello_project.slug, engine_host="podman-1")
        warm = trigger(api_client, hello_project.slug)

    assert on_podman.status_code == 202, on_podman.content
    assert on_podman.json()["engine_host"] == "podman-1"
    assert Build.objects.get(pk=on_podman.json()["id"]).engine_host == podman
    assert warm.json()["engine_host"] == "docker-1", "no build succeeded yet: the first host"


def test_a_build_goes_back_where_its_caches_are_warm(
    api_client, hello_project, hosts, django_capture_on_commit_callbacks
):
    _docker, podman = hosts
    Build.objects.create(
        project=hello_project,
        target=hello_project.targets.get(),
        engine_host=podman,
        state=Build.State.FINISHED,
        success=True,
        task_id="earlier",
    )
    with django_capture_on_commit_callbacks(execute=False):
        again = trigger(api_client, hello_project.slug)

    assert again.json()["engine_host"] == "podman-1"


def test_an_unknown_or_disabled_host_is_refused_and_nothing_is_queued(
    api_client, hello_project, hosts
):
    docker, _podman = hosts
    EngineHost.objects.filter(pk=docker.pk).update(enabled=False)

    unknown = trigger(api_client, hello_project.slug, engine_host="mac-mini")
    disabled = trigger(api_client, hello_project.slug, engine_host="docker-1")

    assert unknown.status_code == 400
    assert "no engine host 'mac-mini'" in unknown.json()["detail"]
    assert "known: docker-1, podman-1" in unknown.json()["hint"]
    assert disabled.status_code == 409
    assert not Build.objects.exists()


def test_the_dashboard_offers_the_hosts_when_there_are_several(
    client: Client, user, hello_project, hosts
):
    client.force_login(user)

    page = client.get("/").content.decode()

    assert 'name="engine_host"' in page
    assert '<option value="podman-1">podman-1 (podman)</option>' in page
