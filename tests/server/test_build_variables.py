"""Environment variables and secrets an admin sets for a project's builds: checked like
xcargo.toml's `env`, a target's own winning over the project's, passthrough names answered by
the admins' variables only (never the worker's environment), and a secret's value in no page,
API answer or log, even when the build prints it.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from builds.models import BuildVariable, Project
from builds.selectors import build_environment
from builds.services.projects import create_project
from runtimes.build_env import MASK
from runtimes.config import XcargoConfig, load_config
from tests.conftest import FIXTURES
from tests.server.conftest import AARCH64, WorkerProcess
from tests.server.test_build_queue import everything_shown_of, finished, trigger, wait_for

SECRET = "tok-3f9a1c77e2b54d08"


@pytest.fixture
def prints_env(db: None, user: User) -> Project:
    return create_project(
        name="prints-env",
        local_path=str(FIXTURES / "prints-env"),
        triples=[AARCH64],
        created_by=user,
    )


def project_form(project: Project, variables: list[dict[str, str]]) -> dict[str, str]:
    """The project's admin page as posted, its targets unchanged and `variables` as new rows."""
    data = {
        "name": project.name,
        "slug": project.slug,
        "git_url": "",
        "local_path": project.local_path,
        "default_ref": "",
        "protected_refs": "",
        "targets-TOTAL_FORMS": "0",
        "targets-INITIAL_FORMS": "0",
        "variables-TOTAL_FORMS": str(len(variables)),
        "variables-INITIAL_FORMS": "0",
    }
    for index, variable in enumerate(variables):
        data.update({f"variables-{index}-{key}": value for key, value in variable.items()})
    return data


def test_an_admin_sets_a_secret_that_no_page_shows_again(admin_client: Client, prints_env):
    url = reverse("admin:builds_project_change", args=[prints_env.pk])
    response = admin_client.post(
        url,
        project_form(
            prints_env,
            [
                {"name": "DEPLOY_TOKEN", "target": "", "value": SECRET, "secret": "on"},
                {"name": "GREETING", "target": "", "value": "hello from the admin"},
            ],
        ),
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    stored = {variable.name: variable for variable in BuildVariable.objects.all()}
    assert stored["DEPLOY_TOKEN"].value == SECRET and stored["DEPLOY_TOKEN"].secret
    pages = [
        admin_client.get(url).content.decode(),
        admin_client.get(prints_env.get_absolute_url()).content.decode(),
        json.dumps(admin_client.get("/api/projects").json()),
    ]
    assert not [page[:100] for page in pages if SECRET in page]
    assert "hello from the admin" in pages[1]
    [listed] = admin_client.get("/api/projects").json()
    assert {"name": "DEPLOY_TOKEN", "target": None, "secret": True, "value": None} in (
        listed["variables"]
    )


def test_a_secret_left_empty_keeps_its_value(admin_client: Client, prints_env):
    variable = BuildVariable.objects.create(
        project=prints_env, name="DEPLOY_TOKEN", value=SECRET, secret=True
    )
    data = project_form(prints_env, [])
    data.update(
        {
            "variables-TOTAL_FORMS": "1",
            "variables-INITIAL_FORMS": "1",
            "variables-0-id": str(variable.pk),
            "variables-0-project": str(prints_env.pk),
            "variables-0-name": "DEPLOY_TOKEN",
            "variables-0-value": "",
            "variables-0-secret": "on",
        }
    )

    response = admin_client.post(reverse("admin:builds_project_change", args=[prints_env.pk]), data)

    assert response.status_code == 302
    variable.refresh_from_db()
    assert variable.value == SECRET


@pytest.mark.parametrize(
    ("variable", "refusal"),
    [
        ({"name": "CARGO_HOME", "value": "/x"}, "set by xcargo for every build"),
        ({"name": "1BAD", "value": "x"}, "not a valid environment variable name"),
        ({"name": "SHORT", "value": "abc", "secret": "on"}, "at least 6 characters"),
    ],
)
def test_a_variable_xcargo_could_not_honour_is_refused(
    admin_client: Client, prints_env, variable, refusal
):
    response = admin_client.post(
        reverse("admin:builds_project_change", args=[prints_env.pk]),
        project_form(prints_env, [{"target": "", **variable}]),
    )

    assert response.status_code == 200
    assert refusal in response.content.decode()
    assert not BuildVariable.objects.exists()


def test_a_targets_variable_wins_and_passthrough_reads_only_the_admins_variables(
    prints_env, monkeypatch
):
    monkeypatch.setenv("FROM_HOST", "the worker's own environment")
    target = prints_env.targets.get()
    BuildVariable.objects.create(project=prints_env, name="GREETING", value="project-wide")
    BuildVariable.objects.create(project=prints_env, target=target, name="GREETING", value="own")
    BuildVariable.objects.create(project=prints_env, name="DEPLOY_TOKEN", value=SECRET, secret=True)

    environment = build_environment(target, load_config(FIXTURES / "prints-env"))

    assert environment.values == {"GREETING": "own", "DEPLOY_TOKEN": SECRET}
    assert environment.secrets == {"DEPLOY_TOKEN"}
    assert environment.missing == ("FROM_HOST",)
    assert build_environment(target, XcargoConfig()).values["GREETING"] == "own"


@pytest.mark.engine
@pytest.mark.slow
def test_a_secret_the_build_prints_is_masked_and_shown_nowhere(
    api_client, user, prints_env, engine_host, celery_worker: WorkerProcess
):
    BuildVariable.objects.create(project=prints_env, name="DEPLOY_TOKEN", value=SECRET, secret=True)

    queued = trigger(api_client, prints_env.slug)
    body = wait_for(api_client, queued["id"], until=finished)

    assert body["state"] == "finished" and body["success"], (body, celery_worker.log_tail())
    lines = api_client.get(f"/api/builds/{queued['id']}/log?limit=5000").json()["lines"]
    assert "xcargo: environment: DEPLOY_TOKEN (secret), GREETING" in lines
    assert any(f"DEPLOY_TOKEN={MASK}" in line for line in lines), lines
    assert any("GREETING=hello from xcargo.toml" in line for line in lines), lines
    shown = everything_shown_of(
        api_client,
        user,
        celery_worker,
        body,
        lines,
        api=("/api/projects",),
        pages=(
            prints_env.get_absolute_url(),
            reverse("admin:builds_project_change", args=[prints_env.pk]),
        ),
    )
    assert not [text[:200] for text in shown if SECRET in text]
