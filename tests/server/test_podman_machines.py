"""The Podman machine of a macOS engine host, set up by its worker (FR4): each step recorded on
the host as it happens and shown on the engines page, which polls until the set-up ends; an
admin asks for it there. Against the fake `podman` that answers as Podman 5 does.
"""

from __future__ import annotations

import shutil

import pytest
from django.test import Client

from builds.models import EngineHost
from builds.services.machines import set_up_machine
from runtimes.errors import EngineUnavailable
from tests.fake_podman import make_fake_podman


@pytest.fixture
def fake(monkeypatch):
    fake = make_fake_podman("5")
    for name, value in fake.env.items():
        monkeypatch.setenv(name, value)
    yield fake
    fake.stop_servers()
    shutil.rmtree(fake.root, ignore_errors=True)


@pytest.fixture
def mac(db: None) -> EngineHost:
    return EngineHost.objects.create(name="mac-mini", queue="xcargo.builds.mac-mini")


def statuses(host: EngineHost) -> list[tuple[str, str]]:
    host.refresh_from_db()
    return [(step["status"], step["text"]) for step in host.machine_steps]


def test_a_missing_machine_is_created_and_started_each_step_recorded(fake, mac):
    ready = set_up_machine(mac, platform="darwin", start_timeout=10, socket_timeout=5)

    steps = statuses(mac)
    assert ready is not None
    assert steps[0] == ("step", "looking for a Podman machine (`podman machine list`)")
    assert any(
        text.startswith("creating Podman machine podman-machine-default (4 CPUs")
        for _status, text in steps
    )
    assert steps[-1] == ("ready", f"ready: the engine answers at {ready.url}")
    assert not mac.machine_in_progress


def test_a_failing_set_up_is_recorded_with_podmans_message(fake, mac, monkeypatch):
    monkeypatch.setenv("FAKE_PODMAN_OFFLINE", "1")

    with pytest.raises(EngineUnavailable):
        set_up_machine(mac, platform="darwin", start_timeout=10, socket_timeout=5)

    status, text = statuses(mac)[-1]
    assert status == "failed"
    assert text.startswith("creating Podman machine podman-machine-default: failed to pull")
    assert (
        "(`podman machine init --cpus 4 --memory 4096 --disk-size 20` exited with status 125)"
        in (text)
    )


def test_a_linux_host_has_no_machine(mac):
    assert set_up_machine(mac, platform="linux") is None
    assert statuses(mac) == [
        ("ready", "no Podman machine here: machines are for macOS with Podman")
    ]


def test_an_admin_asks_for_it_on_the_engines_page_which_polls_until_it_ends(
    admin_client: Client, client: Client, user, mac, django_capture_on_commit_callbacks
):
    client.force_login(user)
    refused = client.post(f"/engines/{mac.pk}/machine/")
    with django_capture_on_commit_callbacks(execute=False) as published:
        asked = admin_client.post(f"/engines/{mac.pk}/machine/")
    polling = admin_client.get(f"/engines/{mac.pk}/machine/steps/")
    mac.refresh_from_db()
    mac.machine_steps = [*mac.machine_steps, {"at": "", "text": "ready: done", "status": "ready"}]
    mac.save()
    ended = admin_client.get(f"/engines/{mac.pk}/machine/steps/")
    page = admin_client.get("/engines/").content.decode()

    assert refused.status_code == 403
    assert asked.status_code == 302 and len(published) == 1
    assert polling.status_code == 200
    assert 'hx-trigger="every 1s"' in polling.content.decode()
    assert "asked for: waiting for the host&#x27;s worker" in polling.content.decode()
    assert ended.status_code == 286 and "hx-get" not in ended.content.decode()
    assert "ready: done" in page and "Set up the Podman machine" in page
