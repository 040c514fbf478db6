"""A custom Dockerfile with concerns, or an image of an untrusted registry, on the server: the
build waits, in "awaiting approval", for an admin's decision on its page; approved it runs,
rejected it ends, and an approved Dockerfile that has not changed (an image: its digest) is not
asked about again. The real worker runs the builds.
"""

from __future__ import annotations

import pytest
from django.test import Client

from builds.models import Approval, Build, Target, TrustedRegistry
from tests.conftest import UNTRUSTED_IMAGE
from tests.registries import PUBLIC
from tests.server.conftest import WorkerProcess
from tests.server.test_build_queue import finished, trigger, wait_for

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def awaiting(body: dict) -> bool:
    return body["state"] == "awaiting approval" or finished(body)


def _admin_client(user) -> Client:
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_an_untrusted_base_waits_for_an_admin_who_trusts_its_registry_and_it_builds(
    api_client,
    user,
    django_user_model,
    untrusted_dockerfile_project,
    engine_host,
    celery_worker: WorkerProcess,
):
    queued = trigger(api_client, untrusted_dockerfile_project.slug)

    parked = wait_for(api_client, queued["id"], until=awaiting)

    assert parked["state"] == "awaiting approval", (parked, celery_worker.log_tail())
    approval = parked["approval"]
    assert approval["path"] == "xcargo.dockerfile"
    assert approval["decision"] == "pending" and approval["decided_by"] is None
    assert {"line": 1, "registry": "127.0.0.1:5999"}.items() <= approval["concerns"][-1].items()
    assert any("not pinned by digest" in concern["what"] for concern in approval["concerns"])
    page = Client()
    page.force_login(django_user_model.objects.create_user("bob", password="x" * 12))
    assert (
        page.post(f"/builds/{queued['id']}/approval/", {"decision": "approve"}).status_code == 403
    )
    assert "Only an admin can decide" in page.get(f"/builds/{queued['id']}/").content.decode()

    admin = _admin_client(user)
    decided = admin.post(f"/builds/{queued['id']}/approval/", {"decision": "trust"})
    body = wait_for(api_client, queued["id"], until=finished)

    assert decided.status_code == 302
    assert body["state"] == "finished" and body["success"], (body, celery_worker.log_tail())
    assert body["image_source"] == "dockerfile"
    assert body["approval"]["decision"] == "approved"
    assert body["approval"]["decided_by"] == "ada"
    assert body["artifacts"][0]["smoke"]["output"] == [
        "custom-image: greetings from the custom image"
    ]
    assert TrustedRegistry.objects.filter(host="127.0.0.1:5999").exists()
    lines = api_client.get(f"/api/builds/{queued['id']}/log?limit=5000").json()["lines"]
    waited = lines.index("xcargo: the build waits for an admin's decision on its page")
    assert "xcargo: finished: custom-image" in lines[waited:], "one log, the run after the wait"

    again = wait_for(
        api_client, trigger(api_client, untrusted_dockerfile_project.slug)["id"], until=finished
    )

    assert again["state"] == "finished" and again["success"], again
    assert again["approval"] is None, "an approved, unchanged Dockerfile is not asked about"
    assert Approval.objects.count() == 1


def test_a_rejected_dockerfile_ends_its_build_with_who_rejected_it(
    api_client, user, untrusted_dockerfile_project, engine_host, celery_worker: WorkerProcess
):
    queued = trigger(api_client, untrusted_dockerfile_project.slug)
    assert wait_for(api_client, queued["id"], until=awaiting)["state"] == "awaiting approval"

    _admin_client(user).post(f"/builds/{queued['id']}/approval/", {"decision": "reject"})

    build = Build.objects.get(pk=queued["id"])
    assert build.state == "failed"
    assert build.error_kind == "user"
    assert build.error_message == "xcargo.dockerfile was rejected by ada"
    assert build.approval.decision == Approval.Decision.REJECTED
    assert not TrustedRegistry.objects.filter(host=UNTRUSTED_IMAGE.split("/")[0]).exists()


def test_an_untrusted_registrys_image_waits_to_be_trusted_once_and_is_pinned_by_its_digest(
    api_client,
    user,
    hello_project,
    engine_host,
    celery_worker: WorkerProcess,
    docker_engine,
    pushed_toolchain,
):
    named = f"{PUBLIC}/team/rust:1"
    Target.objects.filter(project=hello_project).update(image=named)
    queued = trigger(api_client, hello_project.slug)
    try:
        parked = wait_for(api_client, queued["id"], until=awaiting)

        assert parked["state"] == "awaiting approval", (parked, celery_worker.log_tail())
        pinned = f"{PUBLIC}/team/rust@{pushed_toolchain}"
        approval = parked["approval"]
        assert approval["path"] == named and approval["code"] == pushed_toolchain[7:19]
        assert approval["concerns"] == [
            {
                "line": 1,
                "what": f"{named} comes from {PUBLIC}, which is not a trusted registry",
                "registry": PUBLIC,
            }
        ]
        page = _admin_client(user).get(f"/builds/{queued['id']}/").content.decode()
        assert pinned in page and "Trust this image once (this digest)" in page

        _admin_client(user).post(f"/builds/{queued['id']}/approval/", {"decision": "approve"})
        body = wait_for(api_client, queued["id"], until=finished)

        assert body["state"] == "finished" and body["success"], (body, celery_worker.log_tail())
        assert (body["image"], body["image_digest"]) == (named, pinned)
        assert not TrustedRegistry.objects.filter(host=PUBLIC).exists(), "trusted once only"
    finally:
        docker_engine.client.images.remove(named, force=True)
