"""Registering projects and their targets. Every field a person types is checked with the same
validators the CLI uses, before anything is written: a refused project leaves no row behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from builds.models import Project, Target
from builds.services.errors import Conflict, InvalidInput, checked
from runtimes.cargo_args import check_cargo_args
from runtimes.images.custom import check_build_arg_name, check_build_arg_value, check_relative_path
from runtimes.images.references import parse_image_reference
from runtimes.sizes import parse_size
from runtimes.sources import validate_git_url, validate_local_path, validate_ref
from runtimes.targets import validate_triple

MAX_NAME = 100


def check_git_url(url: str) -> str:
    return checked(validate_git_url, url, "git_url") if url else url


def check_local_path(path: str) -> str:
    """The path, resolved, if it is a Cargo project under one of XCARGO_SOURCE_ROOTS."""
    if not path:
        return path
    roots = settings.XCARGO_SOURCE_ROOTS
    return str(checked(lambda text: validate_local_path(text, roots), path, "local_path"))


def check_ref(ref: str, field: str = "default_ref") -> str:
    return checked(validate_ref, ref, field) if ref else ref


def check_protected_refs(text: str) -> str:
    """Protected-ref patterns, one a line (refs whose `*` and `?` stand for any characters)."""
    patterns = text.split()
    for pattern in patterns:
        checked(validate_ref, pattern.replace("*", "x").replace("?", "x"), "protected_refs")
    return "\n".join(patterns)


def check_source(*, git_url: str, local_path: str, refs: dict[str, str]) -> None:
    """Exactly one source; and a server-local project has no git refs (`refs`: field → value)."""
    if bool(git_url) == bool(local_path):
        raise InvalidInput(
            "give either a git URL or a server-local path (not both)", field="git_url"
        )
    for field, value in refs.items():
        if local_path and value:
            raise InvalidInput("a server-local project has no git ref", field=field)


def check_triple(triple: str, field: str = "triple") -> str:
    checked(validate_triple, triple, field)
    return triple


def check_image(image: str) -> str:
    """The image reference in its canonical form (`docker.io/library/debian:bookworm`)."""
    return checked(parse_image_reference, image, "image").canonical if image else image


def check_disk_limit(limit: str) -> str:
    limit = limit.strip().lower()
    if limit:
        try:
            parse_size(limit)
        except ValueError as error:
            raise InvalidInput(str(error), field="disk_limit") from None
    return limit


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
    check_source(git_url=git_url, local_path=local_path, refs={"default_ref": default_ref})
    check_git_url(git_url)
    local_path = check_local_path(local_path)
    check_ref(default_ref)
    triples = list(dict.fromkeys(triples))
    for triple in triples:
        check_triple(triple, "triples")
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


def check_dockerfile(path: str) -> str:
    """A Dockerfile path relative to the project root, which it must not leave."""
    path = path.strip()
    if not path:
        return path
    return checked(lambda text: check_relative_path(text, "the Dockerfile"), path, "dockerfile")


def check_build_args(build_args: Mapping[str, str]) -> dict[str, str]:
    """Build arguments as Docker takes them: NAME = value, both strings."""
    for name, value in build_args.items():
        checked(check_build_arg_name, name, "build_args")
        checked(check_build_arg_value, value, "build_args")
    return dict(build_args)


def check_program_arguments(arguments: Sequence[str], field: str) -> list[str]:
    """Arguments a build passes on (cargo's, the test programs'): at most MAX_CARGO_ARGS of
    them, each a line of text.
    """
    if len(arguments) > MAX_CARGO_ARGS or any(
        len(argument) > MAX_CARGO_ARG_LENGTH or "\n" in argument or "\x00" in argument
        for argument in arguments
    ):
        raise InvalidInput(
            f"at most {MAX_CARGO_ARGS} arguments of {MAX_CARGO_ARG_LENGTH} characters, "
            "each on one line",
            field=field,
        )
    return list(arguments)


def check_cargo_arguments(arguments: Sequence[str]) -> list[str]:
    """Cargo's own arguments, as `xcargo build` takes them after the target: none that would
    break the sandbox.
    """
    checked_arguments = check_program_arguments(arguments, "cargo_args")
    return list(checked(check_cargo_args, checked_arguments, "cargo_args"))


MAX_CARGO_ARGS = 64
MAX_CARGO_ARG_LENGTH = 500


def add_target(
    *,
    project: Project,
    triple: str,
    image: str = "",
    release: bool = False,
    dockerfile: str = "",
    build_args: Mapping[str, str] | None = None,
    cargo_args: Sequence[str] = (),
) -> Target:
    """A target of `project`; its image, when given, must be a valid reference, and its
    Dockerfile a path inside the project.
    """
    check_triple(triple)
    image = check_image(image)
    dockerfile = check_dockerfile(dockerfile)
    build_args = check_build_args(build_args or {})
    cargo_args = check_cargo_arguments(cargo_args)
    if project.targets.filter(triple=triple).exists():
        raise Conflict(f"{project} already builds {triple}", field="triple")
    return Target.objects.create(
        project=project,
        triple=triple,
        image=image,
        release=release,
        dockerfile=dockerfile,
        build_args=build_args,
        cargo_args=cargo_args,
    )
