"""Builds on the server whose image comes from a private registry: pulled with the login an
admin set, pinned by digest in the build, and the password in no log, page or API answer.
The real worker runs the build; the registry is Debian's docker-registry over TLS.
"""

from __future__ import annotations

import pytest

from builds.models import Target, TrustedRegistry
from tests.conftest import registry_toolchain
from tests.server.conftest import WorkerProcess
from tests.server.test_build_queue import everything_shown_of, finished, trigger, wait_for

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def test_a_private_registrys_image_is_pulled_with_its_login_and_nothing_shows_the_password(
    api_client,
    user,
    hello_project,
    engine_host,
    celery_worker: WorkerProcess,
    docker_engine,
    registries,
    pushed_private_toolchain,
):
    password = registries.login.password
    TrustedRegistry.objects.create(
        host=registries.private, username=registries.login.username, password=password
    )
    named = registry_toolchain(registries.private)
    Target.objects.filter(project=hello_project).update(image=named)
    try:
        queued = trigger(api_client, hello_project.slug)
        body = wait_for(api_client, queued["id"], until=finished)

        assert body["state"] == "finished" and body["success"], (body, celery_worker.log_tail())
        assert body["image"] == named
        assert body["image_digest"] == (
            f"{registries.private}/xcargo/toolchain@{pushed_private_toolchain}"
        )
        lines = api_client.get(f"/api/builds/{queued['id']}/log?limit=5000").json()["lines"]
        assert f"xcargo: pulling {named} ({registries.private}: if-not-present)" in lines
        private = TrustedRegistry.objects.get(host=registries.private)
        shown = everything_shown_of(
            api_client,
            user,
            celery_worker,
            body,
            lines,
            api=("/api/images",),
            pages=(
                "/admin/builds/trustedregistry/",
                f"/admin/builds/trustedregistry/{private.pk}/change/",
            ),
        )
        assert not [text[:200] for text in shown if password in text]
    finally:
        docker_engine.client.images.remove(named, force=True)
