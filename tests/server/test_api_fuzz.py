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


def mixed_body(refs: list[str]) -> Any:
    """A hook mixing triggers of the seeded projects' targets, with `refs`, into the bodies."""

    def mix(context: Any, strategy: Any) -> Any:
        trigger = st.fixed_dictionaries(
            {
                "project": st.sampled_from(["hello-cross", "firmware", "nobody"]),
                "target": st.sampled_from([AARCH64, ARMV7]),
            },
            optional={"ref": st.sampled_from(refs)},
        )
        return st.one_of(strategy, trigger)

    return mix


VALID_REFS = ["", "main", "v1.2.0"]


def fuzzed(*modes: GenerationMode, refs: list[str], app: Any = APPLICATION) -> Any:
    """The description as Schemathesis sees it, seeded rows mixed in; sent to `app` (the WSGI
    application in this process), or with `app=None` to whatever base URL a test gives.
    """
    loaded = schemathesis.openapi.from_dict(DESCRIPTION)
    loaded.app = app
    loaded.config.generation.update(modes=list(modes))
    loaded.hook("before_generate_path_parameters")(mixed_path_parameters)
    loaded.hook("before_generate_body")(mixed_body(refs))
    return loaded


ANY_REFS = [*VALID_REFS, "--upload-pack=x", "a..b"]
schema = fuzzed(GenerationMode.POSITIVE, GenerationMode.NEGATIVE, refs=ANY_REFS)
invalid_only = fuzzed(GenerationMode.NEGATIVE, refs=ANY_REFS)
# Over HTTP, with every check: the mixed-in bodies must be valid by the description too.
live = fuzzed(GenerationMode.POSITIVE, GenerationMode.NEGATIVE, refs=VALID_REFS, app=None)
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


@live.parametrize()
@fuzz_settings
def test_every_answer_of_the_live_server_is_the_one_its_description_gives(
    case: Any, world: World, authorization: dict[str, str], published: str, live_server: Any
) -> None:
    """All of Schemathesis' checks (status codes, content types, response schemas and
    headers, schema-valid requests accepted, invalid ones refused), over HTTP.
    """
    response = case.call(base_url=live_server.url, headers=authorization)
    case.validate_response(response, headers=authorization)
