"""Schema fuzzing: Schemathesis generates requests from the API's OpenAPI description, valid
and invalid ones, and sends them to the WSGI application in this process. Whatever it sends,
no operation answers 5xx or takes invalid data, and every refusal is JSON with a "detail" key.

The description is the one /api/openapi.json serves (a test below checks they are equal); it
is built at import because serving it takes a token, and tokens live in the test database.
The database is seeded with the rows the API tests use (a finished build with a log and an
artifact, a queued and a running build, a git project, images, volumes), and the generated
ids and bodies are mixed with theirs, so the happy paths run as well as the refusals. The
database is transactional, so that a valid trigger is really published: to a queue of this
run's own on the test broker's Redis, which no worker serves and which is removed afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import redis
import schemathesis
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection

from builds.api import api
from builds.services.tokens import issue_token
from tests.server.conftest import AARCH64
from tests.server.test_api import ARMV7, World, broker_at, make_world

EXAMPLES_PER_OPERATION = 50
QUEUE = f"xcargo.builds.fuzz-{os.getpid()}"
DESCRIPTION = api.get_openapi_schema()
APPLICATION = get_wsgi_application()
# The seeded rows' ids, while a test runs, for the hooks below.
seeded: dict[str, list[int]] = {}


def mixed_path_parameters(context: Any, strategy: Any) -> Any:
    """Mix the seeded builds and artifact (and missing ones) into the generated ids."""
    names = [parameter.name for parameter in context.operation.path_parameters]
    if not names or not seeded:
        return strategy
    known = st.fixed_dictionaries({name: st.sampled_from(seeded[name]) for name in names})
    return st.one_of(strategy, known)


def mixed_body(context: Any, strategy: Any) -> Any:
    """Mix triggers of the seeded projects' targets (good and bad) into the generated bodies."""
    trigger = st.fixed_dictionaries(
        {
            "project": st.sampled_from(["hello-cross", "firmware", "nobody"]),
            "target": st.sampled_from([AARCH64, ARMV7]),
        },
        optional={"ref": st.sampled_from(["", "main", "v1.2.0", "--upload-pack=x", "a..b"])},
    )
    return st.one_of(strategy, trigger)


def fuzzed(*modes: GenerationMode) -> Any:
    """The description as Schemathesis sees it, sent to the WSGI app, seeded rows mixed in."""
    loaded = schemathesis.openapi.from_dict(DESCRIPTION)
    loaded.app = APPLICATION
    loaded.config.generation.update(modes=list(modes))
    loaded.hook("before_generate_path_parameters")(mixed_path_parameters)
    loaded.hook("before_generate_body")(mixed_body)
    return loaded


schema = fuzzed(GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
invalid_only = fuzzed(GenerationMode.NEGATIVE)
fuzz_settings = hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture
def world(transactional_db: None, user: User, settings: Any, tmp_path: Path) -> Iterator[World]:
    settings.MEDIA_ROOT = tmp_path / "media"
    world = make_world(user, queue=QUEUE)
    seeded.update(
        build_id=[world.finished.pk, world.queued.pk, world.running.pk, world.running.pk + 999],
        artifact_id=[world.artifact.pk, world.artifact.pk + 999],
    )
    yield world
    seeded.clear()


@pytest.fixture
def authorization(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user=user)}"}


@pytest.fixture
def published(broker: str) -> Iterator[str]:
    """Valid triggers go to this run's queue on the test broker; the queue goes afterwards."""
    with broker_at(broker):
        yield QUEUE
    client = redis.Redis.from_url(broker)
    for key in client.scan_iter(match=f"*{QUEUE}*"):
        client.delete(key)


def refusals_say_why(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every answer of 400 or more is JSON with a "detail" key."""
    if response.status_code < 400:
        return None
    [content_type] = response.headers.get("content-type", [""])
    assert content_type.startswith("application/json"), (
        f"{response.status_code} answered as {content_type!r}: {response.content[:200]!r}"
    )
    body = response.json()
    assert isinstance(body, dict), body
    assert body.get("detail"), body
    return None


def test_the_fuzzed_description_is_the_served_one(db: None, user: User):
    client = Client(headers={"Authorization": f"Bearer {issue_token(user=user)}"})
    assert client.get("/api/openapi.json").json() == DESCRIPTION


@schema.parametrize()
@fuzz_settings
def test_no_operation_answers_5xx_or_takes_invalid_data(
    case: Any, world: World, authorization: dict[str, str], published: str
) -> None:
    response = case.call(headers=authorization)
    case.validate_response(
        response, checks=[not_a_server_error, negative_data_rejection], headers=authorization
    )


@invalid_only.parametrize()
@fuzz_settings
def test_every_refusal_is_json_with_a_detail(
    case: Any, world: World, authorization: dict[str, str], published: str
) -> None:
    response = case.call(headers=authorization)
    case.validate_response(
        response, checks=[not_a_server_error, refusals_say_why], headers=authorization
    )
