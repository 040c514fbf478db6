"""One vocabulary: the states, phases and error kinds of `runtimes.vocabulary` are the ones the
models store, the running-build constraint holds, the API sends and the pages say.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from builds.models import Build, EngineHost, Project, Target
from builds.services.tokens import issue_token
from runtimes import vocabulary
from runtimes.bootstrap import BootstrapError
from runtimes.config.schema import ContainerConfig
from runtimes.engine import ENGINE_HOST_RUNTIMES, RUNTIME_LABELS, RuntimeChoice
from runtimes.errors import EngineUnavailable, UsageError, XcargoError
from runtimes.sandbox import BuildBusy, BuildDiskFull, BuildOutOfMemory, BuildTimedOut
from runtimes.sources import SourceError
from tests.server.conftest import AARCH64

KINDS = [kind for kind in vocabulary.ERROR_KINDS if kind is not vocabulary.NONE]


@pytest.fixture
def host(db: None) -> EngineHost:
    return EngineHost.objects.create(name="local", queue="xcargo.builds.vocabulary-test")


@pytest.fixture
def target(hello_project: Project) -> Target:
    return hello_project.targets.get(triple=AARCH64)


def test_every_phase_is_a_state_a_build_can_be_in():
    states = {value for value, _label in Build.State.choices}
    assert [phase.state for phase in vocabulary.PHASES] == list(Build.RUNNING_STATES)
    assert states == set(vocabulary.STATES)
    assert set(vocabulary.RUNNING_STATES) < set(vocabulary.ACTIVE_STATES)
    assert not set(vocabulary.FINAL_STATES) & set(vocabulary.ACTIVE_STATES)
    assert len({phase.timing for phase in vocabulary.PHASES}) == len(vocabulary.PHASES)


def test_the_running_build_constraint_is_built_from_the_running_states():
    [constraint] = Build._meta.constraints
    assert constraint.condition.children == [("state__in", vocabulary.RUNNING_STATES)]


def test_every_error_kind_is_stored_with_its_word_and_label():
    assert Build.ErrorKind.choices == [(kind.word, kind.label) for kind in vocabulary.ERROR_KINDS]
    assert vocabulary.WORKER_LOST.word == Build.ErrorKind.WORKER_LOST


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_every_error_kind_reaches_the_api_and_the_page_in_its_words(
    kind: vocabulary.ErrorKind, user: User, target: Target, host: EngineHost
):
    build = Build.objects.create(
        project=target.project, target=target, engine_host=host, state=Build.State.FAILED,
        success=False, error_kind=kind.word, error_message="what happened",
    )  # fmt: skip
    api = Client(headers={"Authorization": f"Bearer {issue_token(user=user)}"})
    page = Client()
    page.force_login(user)

    assert api.get(f"/api/builds/{build.pk}").json()["error_kind"] == kind.word
    assert (
        f'<strong class="check-fail">{kind.label}</strong>'
        in page.get(build.get_absolute_url()).content.decode()
    )


def test_each_error_class_carries_its_kind_and_the_cli_exit_code_comes_from_it():
    expected = {
        UsageError: (vocabulary.USER, 2),
        EngineUnavailable: (vocabulary.ENGINE, 3),
        BuildTimedOut: (vocabulary.TIMEOUT, 4),
        BuildOutOfMemory: (vocabulary.MEMORY, 4),
        BuildDiskFull: (vocabulary.DISK, 4),
        BuildBusy: (vocabulary.BUSY, 4),
        BootstrapError: (vocabulary.IMAGE, 5),
        SourceError: (vocabulary.SOURCE, 1),
        XcargoError: (vocabulary.ENGINE, 3),
    }
    for error_class, (kind, exit_code) in expected.items():
        error = error_class("x")
        assert (error.kind, error.exit_code) == (kind, exit_code), error_class


def test_the_engine_runtime_choices_are_defined_once():
    assert [value for value, _ in EngineHost.Runtime.choices] == list(ENGINE_HOST_RUNTIMES)
    assert set(RUNTIME_LABELS) == set(RuntimeChoice.__args__)
    assert ContainerConfig.model_fields["runtime"].annotation == RuntimeChoice
