"""Which target cache a build may write: the server's policy for protected refs.

A target cache holds compiled dependencies that later builds link without compiling again, so
whoever writes it decides what those builds ship. The default branch, tags and the refs an
admin marks protected share the protected cache; a build of any other ref writes a cache of
its own ref, which starts as a copy of the protected one and never flows back.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from builds.models import Build, Project
from runtimes.sources import Checkout

_SHORT_PREFIXES = ("refs/heads/", "refs/tags/")


def target_lane(build: Build, checkout: Checkout | None) -> str:
    """ "" when `build` writes the protected target cache, else the ref whose own cache it
    writes. `checkout` is None for a server-local project, which has no refs to tell apart.
    """
    if checkout is None or not build.ref or build.ref == build.project.default_ref:
        return ""
    if checkout.is_default_branch or checkout.is_tag:
        return ""
    names = {build.ref, _short(checkout.ref_name)} - {""}
    if any(fnmatchcase(name, pattern) for name in names for pattern in patterns(build.project)):
        return ""
    return build.ref


def patterns(project: Project) -> list[str]:
    """The admin's protected-ref patterns of a project, one a line."""
    return [line.strip() for line in project.protected_refs.splitlines() if line.strip()]


def _short(ref_name: str) -> str:
    for prefix in _SHORT_PREFIXES:
        if ref_name.startswith(prefix):
            return ref_name[len(prefix) :]
    return ref_name
