"""Registering projects and their targets. Every field a person types is checked with the same
validators the CLI uses, before anything is written: a refused project leaves no row behind.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from builds.models import Project, Target
from builds.services.errors import Conflict, InvalidInput, checked
from runtimes.references import parse_image_reference
from runtimes.sources import validate_git_url, validate_local_path, validate_ref
from runtimes.targets import validate_triple

MAX_NAME = 100


@transaction.atomic
def create_project(
    *,
    name: str,
    git_url: str = "",
    local_path: str = "",
    default_ref: str = "",
    triples: Iterable[str] = (),
    created_by: AbstractBaseUser | None = None,
) -> Project:
    """A new project with one target per triple; all checked first, all or nothing."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"a project name is 1 to {MAX_NAME} characters", field="name")
    slug = slugify(name)[:MAX_NAME]
    if not slug:
        raise InvalidInput("the name needs at least one letter or digit", field="name")
    if bool(git_url) == bool(local_path):
        raise InvalidInput(
            "give either a git URL or a server-local path (not both)", field="git_url"
        )
    if git_url:
        checked(validate_git_url, git_url, "git_url")
    if local_path:
        roots = settings.XCARGO_SOURCE_ROOTS
        local_path = str(
            checked(lambda path: validate_local_path(path, roots), local_path, "local_path")
        )
        if default_ref:
            raise InvalidInput("a server-local project has no git ref", field="default_ref")
    if default_ref:
        checked(validate_ref, default_ref, "default_ref")
    triples = list(dict.fromkeys(triples))
    for triple in triples:
        checked(validate_triple, triple, "triples")
    if Project.objects.filter(slug=slug).exists():
        raise Conflict(f"a project named {slug!r} exists already", field="name")
    try:
        with transaction.atomic():
            project = Project.objects.create(
                name=name,
                slug=slug,
                git_url=git_url,
                local_path=local_path,
                default_ref=default_ref,
                created_by=created_by,
            )
    except IntegrityError:
        raise Conflict(f"a project named {slug!r} exists already", field="name") from None
    for triple in triples:
        add_target(project=project, triple=triple)
    return project


def add_target(*, project: Project, triple: str, image: str = "", release: bool = False) -> Target:
    """A target of `project`; its image, when given, must be a valid reference."""
    checked(validate_triple, triple, "triple")
    if image:
        image = checked(parse_image_reference, image, "image").canonical
    if project.targets.filter(triple=triple).exists():
        raise Conflict(f"{project} already builds {triple}", field="triple")
    return Target.objects.create(project=project, triple=triple, image=image, release=release)
