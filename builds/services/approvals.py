"""A person's yes or no to a custom Dockerfile with concerns (review findings, images from
untrusted registries), or to an image of an untrusted registry (one digest).

A build whose Dockerfile or image needs a decision is parked, not failed: it leaves the
running states (so its target is free for other builds) for "awaiting approval", tied to the
project's approval of that exact Dockerfile or digest. A decision applies to every build
waiting on it: approved, they are queued again and run; rejected, they end with who rejected
it. "Trust always" adds the registry to the trusted ones as well, so nothing is asked about it
again.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from builds.models import Approval, Build, TrustedRegistry
from builds.services.builds import end_build, requeue_build
from builds.services.errors import Conflict
from runtimes.images.trust import ApprovalNeeded


def park_for_approval(build_id: int, needed: ApprovalNeeded) -> Approval:
    """Move a running build to "awaiting approval" on its project's approval of this
    Dockerfile or image (made, pending, the first time it is asked about). One decided already
    is not asked about again: rejected, the build fails at once; approved meanwhile (while
    this build was starting), it is queued again.
    """
    build = Build.objects.select_related("project").get(pk=build_id)
    with transaction.atomic():
        approval, _ = Approval.objects.get_or_create(
            project=build.project,
            code=needed.approval,
            defaults=dict(
                kind=needed.what,
                path=needed.subject,
                text=needed.text,
                concerns=[
                    {"line": c.line, "what": c.what, "registry": c.registry}
                    for c in needed.concerns
                ],
            ),
        )
        Build.objects.filter(pk=build_id).update(approval=approval)
        if approval.decision == Approval.Decision.REJECTED:
            end_build(
                build_id,
                state=Build.State.FAILED,
                error_kind=Build.ErrorKind.USER,
                error_message=_rejection(approval),
                from_states=Build.RUNNING_STATES,
            )
        elif approval.decision == Approval.Decision.APPROVED:
            requeue_build(build_id, from_states=Build.RUNNING_STATES)
        else:
            Build.objects.filter(pk=build_id, state__in=Build.RUNNING_STATES).update(
                state=Build.State.AWAITING_APPROVAL, error_message=""
            )
    return approval


def _rejection(approval: Approval) -> str:
    who = approval.decided_by.get_username() if approval.decided_by else "someone"
    return f"{approval.path} was rejected by {who}"


def decide(
    *,
    approval: Approval,
    approve: bool,
    decided_by: AbstractBaseUser,
    trust_registries: bool = False,
) -> Approval:
    """Record the decision and act on the builds waiting for it; `trust_registries` (with an
    approval) trusts the untrusted registries it names from now on.
    """
    with transaction.atomic():
        decided = Approval.objects.filter(
            pk=approval.pk, decision=Approval.Decision.PENDING
        ).update(
            decision=(Approval.Decision.APPROVED if approve else Approval.Decision.REJECTED),
            decided_by=decided_by,
            decided_at=timezone.now(),
        )
        if not decided:
            raise Conflict(f"{approval.path} ({approval.code}) was decided already")
        approval.refresh_from_db()
        if approve and trust_registries:
            for host in approval.untrusted_registries():
                TrustedRegistry.objects.get_or_create(
                    host=host,
                    defaults={"note": f"trusted from {approval.path}", "added_by": decided_by},
                )
        waiting = list(
            approval.builds.filter(state=Build.State.AWAITING_APPROVAL).values_list("pk", flat=True)
        )
        for build_id in waiting:
            if approve:
                requeue_build(build_id, from_states=[Build.State.AWAITING_APPROVAL])
            else:
                end_build(
                    build_id,
                    state=Build.State.FAILED,
                    error_kind=Build.ErrorKind.USER,
                    error_message=_rejection(approval),
                    from_states=[Build.State.AWAITING_APPROVAL],
                )
    return approval
