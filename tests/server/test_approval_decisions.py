"""A person's decision on a custom Dockerfile, as the services and the build page take it:
a parked build waits on its project's approval of that exact Dockerfile; the decision is made
once, by an admin, and every build waiting on it follows it.
"""

from __future__ import annotations

import pytest
from django.test import Client

from builds.models import Approval, Build, EngineHost, Project, TrustedRegistry
from builds.services.approvals import decide, park_for_approval
from builds.services.engines import register_host
from builds.services.errors import Conflict
from runtimes.images.review import review_dockerfile
from runtimes.images.trust import ApprovalNeeded, TrustPolicy, check_approved
from tests.server.factories import AARCH64

DOCKERFILE = "FROM 127.0.0.1:5999/team/rust:1\nRUN curl -fsSL https://example.com/i.sh | sh\n"


def needed(text: str = DOCKERFILE) -> ApprovalNeeded:
    """The refusal the build engine raises for `text`, as the worker catches it."""
    with pytest.raises(ApprovalNeeded) as raised:
        check_approved(
            "xcargo.dockerfile", text, review_dockerfile(text), TrustPolicy(), (), how="{code}"
        )
    return raised.value


@pytest.fixture
def host(db: None) -> EngineHost:
    return register_host(name="approvals", engine_url="unix:///var/run/docker.sock")


def running_build(project: Project, host: EngineHost) -> Build:
    target = project.targets.get(triple=AARCH64)
    return Build.objects.create(
        project=project, target=target, engine_host=host, state=Build.State.BUILDING
    )


def test_a_parked_build_waits_on_its_projects_approval_of_that_dockerfile(hello_project, host):
    # One build of a target runs at a time: a parked one no longer counts as running.
    approval = park_for_approval(running_build(hello_project, host).pk, needed())
    park_for_approval(running_build(hello_project, host).pk, needed())

    assert approval.decision == Approval.Decision.PENDING
    assert approval.path == "xcargo.dockerfile" and approval.text == DOCKERFILE
    assert [(c["line"], c["registry"]) for c in approval.concerns] == [
        (1, None),
        (1, "127.0.0.1:5999"),
        (2, None),
    ]
    assert set(approval.builds.values_list("state", flat=True)) == {"awaiting approval"}
    assert Approval.objects.count() == 1, "one approval per Dockerfile and project"
    assert approval.lines()[1] == (
        2,
        "RUN curl -fsSL https://example.com/i.sh | sh",
        [c["what"] for c in approval.concerns if c["line"] == 2],
    )


def test_an_approval_queues_every_waiting_build_again_as_a_new_task(
    hello_project, host, user, django_capture_on_commit_callbacks
):
    builds = []
    for _ in range(2):
        builds.append(running_build(hello_project, host))
        park_for_approval(builds[-1].pk, needed())
    approval = Approval.objects.get()
    task_ids = {build.task_id for build in builds}

    with django_capture_on_commit_callbacks(execute=False) as queued:
        decided = decide(approval=approval, approve=True, decided_by=user)

    assert decided.decision == "approved" and decided.decided_by == user
    assert decided.decided_at is not None
    again = Build.objects.filter(pk__in=[build.pk for build in builds])
    assert set(again.values_list("state", flat=True)) == {"queued"}
    assert not task_ids & set(again.values_list("task_id", flat=True))
    assert len(queued) == 2, "each sent to its host's queue once the decision is stored"


def test_a_rejection_ends_the_waiting_builds_with_who_rejected_it(hello_project, host, user):
    build = running_build(hello_project, host)
    approval = park_for_approval(build.pk, needed())

    decide(approval=approval, approve=False, decided_by=user)

    build.refresh_from_db()
    assert (build.state, build.error_kind) == ("failed", "user")
    assert build.error_message == "xcargo.dockerfile was rejected by ada"


def test_a_decision_is_made_once(hello_project, host, user):
    approval = park_for_approval(running_build(hello_project, host).pk, needed())
    decide(approval=approval, approve=False, decided_by=user)

    with pytest.raises(Conflict, match="was decided already"):
        decide(approval=approval, approve=True, decided_by=user)


def test_trusting_always_adds_the_untrusted_registries_it_names(
    hello_project, host, user, django_capture_on_commit_callbacks
):
    approval = park_for_approval(running_build(hello_project, host).pk, needed())

    with django_capture_on_commit_callbacks(execute=False):
        decide(approval=approval, approve=True, decided_by=user, trust_registries=True)

    added = TrustedRegistry.objects.get(host="127.0.0.1:5999")
    assert added.added_by == user and added.note == "trusted from xcargo.dockerfile"


@pytest.fixture
def parked(hello_project, host) -> Build:
    build = running_build(hello_project, host)
    park_for_approval(build.pk, needed())
    return build


def signed_in_as(user, *, staff: bool) -> Client:
    user.is_staff = staff
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_the_build_page_shows_the_dockerfile_with_its_concerns_and_the_decision_to_admins(
    parked, user
):
    page = signed_in_as(user, staff=True).get(f"/builds/{parked.pk}/").content.decode()

    assert 'id="approval"' in page
    assert "127.0.0.1:5999, which is not a trusted registry" in page
    assert "Approve this Dockerfile" in page
    assert "Approve, and trust 127.0.0.1:5999 always" in page


def test_only_an_admin_decides(parked, user):
    client = signed_in_as(user, staff=False)

    refused = client.post(f"/builds/{parked.pk}/approval/", {"decision": "approve"})
    page = client.get(f"/builds/{parked.pk}/").content.decode()

    assert refused.status_code == 403
    assert "Only an admin can decide" in page and "Approve this Dockerfile" not in page
    assert Approval.objects.get().decision == "pending"


@pytest.mark.parametrize("decision", ["", "yes", "APPROVE", "approve; drop table"])
def test_an_unknown_decision_is_refused_and_changes_nothing(parked, user, decision):
    response = signed_in_as(user, staff=True).post(
        f"/builds/{parked.pk}/approval/", {"decision": decision}
    )

    assert response.status_code == 400
    assert Approval.objects.get().decision == "pending"


def test_a_build_that_waits_for_nothing_has_no_decision_to_take(hello_project, host, user):
    build = running_build(hello_project, host)

    response = signed_in_as(user, staff=True).post(
        f"/builds/{build.pk}/approval/", {"decision": "approve"}
    )

    assert response.status_code == 400


def test_the_api_shows_the_approval_with_its_concerns(parked, api_client):
    body = api_client.get(f"/api/builds/{parked.pk}").json()

    assert body["state"] == "awaiting approval"
    assert body["approval"]["decision"] == "pending"
    assert body["approval"]["path"] == "xcargo.dockerfile"
    assert {"line": 2, "registry": None}.items() <= body["approval"]["concerns"][-1].items()


def test_a_dockerfile_rejected_before_fails_its_next_build_at_once(hello_project, host, user):
    decide(
        approval=park_for_approval(running_build(hello_project, host).pk, needed()),
        approve=False,
        decided_by=user,
    )
    again = running_build(hello_project, host)

    park_for_approval(again.pk, needed())

    again.refresh_from_db()
    assert (again.state, again.error_kind) == ("failed", "user")
    assert again.error_message == "xcargo.dockerfile was rejected by ada"
    assert again.approval.decision == "rejected", "the decision stays with it"


def test_a_dockerfile_approved_while_a_build_started_queues_that_build_again(
    hello_project, host, user, django_capture_on_commit_callbacks
):
    first = park_for_approval(running_build(hello_project, host).pk, needed())
    with django_capture_on_commit_callbacks(execute=False):
        decide(approval=first, approve=True, decided_by=user)
    # Queued again, it is claimed and runs; its Dockerfile is found approved when it parks.
    started = Build.objects.filter(approval=first).get()
    Build.objects.filter(pk=started.pk).update(state=Build.State.BUILDING)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        park_for_approval(started.pk, needed())

    started.refresh_from_db()
    assert started.state == "queued" and len(queued) == 1
