"""What a custom image is made from: the Dockerfile a target uses, paths that must stay in the
project, and the context as the engine is sent it (after .dockerignore, under a size limit).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtimes.errors import UsageError
from runtimes.images.custom import (
    PROJECT_DOCKERFILE,
    check_build_arg_name,
    check_relative_path,
    find_dockerfile,
    path_inside,
    prepare_custom_image,
    read_context,
)

AARCH64 = "aarch64-unknown-linux-gnu"


def custom(root: Path, **options):
    return find_dockerfile(root, AARCH64, configured=None, context=None, build_args={}, **options)


def test_no_dockerfile_anywhere_means_no_custom_image(tmp_path):
    assert custom(tmp_path) is None


def test_the_context_is_the_project_root_and_the_dockerfile_is_shown_relative_to_it(tmp_path):
    (tmp_path / PROJECT_DOCKERFILE).write_text("FROM scratch\n")

    found = custom(tmp_path)

    assert found.context == tmp_path.resolve()
    assert found.shown == PROJECT_DOCKERFILE and found.name_in_context == PROJECT_DOCKERFILE


@pytest.mark.parametrize(
    "text", ["../x", "/etc/passwd", "a/../../x", "", "bad\x00name", "tab\tname"]
)
def test_paths_that_leave_the_project_or_are_not_paths_are_refused(tmp_path, text):
    with pytest.raises(UsageError):
        path_inside(tmp_path, text, "the Dockerfile")


def test_a_symlink_that_leaves_the_project_is_refused_where_it_points(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "secret").write_text("FROM scratch\n")
    (project / "Dockerfile").symlink_to(tmp_path / "secret")

    with pytest.raises(UsageError, match="is outside the project"):
        path_inside(project, "Dockerfile", "the Dockerfile")


@pytest.mark.parametrize("text", ["../x", "/abs/Dockerfile", "a/../../b", "", "nul\x00"])
def test_a_servers_target_dockerfile_is_a_relative_path_without_dotdot(text):
    with pytest.raises(UsageError):
        check_relative_path(text, "the Dockerfile")


def test_a_relative_dockerfile_path_is_kept_as_written():
    assert check_relative_path("docker/cross.Dockerfile", "the Dockerfile") == (
        "docker/cross.Dockerfile"
    )


@pytest.mark.parametrize("name", ["1ARG", "A-B", "A B", "", "A=B"])
def test_build_argument_names_are_those_docker_takes(name):
    with pytest.raises(UsageError):
        check_build_arg_name(name)


def test_dockerignore_leaves_files_out_of_what_is_sent_and_hashed(tmp_path):
    (tmp_path / PROJECT_DOCKERFILE).write_text("FROM scratch\n")
    (tmp_path / ".dockerignore").write_text("# build output\ntarget/\n*.log\n")
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "big").write_bytes(b"x" * 100)
    (tmp_path / "debug.log").write_text("noise")
    (tmp_path / "tool").write_text("kept")

    context = read_context(custom(tmp_path))

    assert "tool" in context.files and PROJECT_DOCKERFILE in context.files
    assert not any(name.startswith("target") or name.endswith(".log") for name in context.files)


def test_a_context_past_its_limit_is_refused_before_anything_is_sent_naming_the_largest_part(
    tmp_path,
):
    (tmp_path / PROJECT_DOCKERFILE).write_text("FROM scratch\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "blob").write_bytes(b"x" * 5000)

    with pytest.raises(UsageError) as refused:
        read_context(custom(tmp_path), limit=1000)

    assert "sends more than 1.0 KB to the engine (the largest: data (5.0 KB)" in (
        refused.value.message
    )
    assert ".dockerignore" in (refused.value.hint or "")


def test_a_link_in_the_context_is_sent_as_a_link_never_as_what_it_points_to(tmp_path):
    (tmp_path / PROJECT_DOCKERFILE).write_text("FROM scratch\n")
    (tmp_path / "passwd").symlink_to("/etc/passwd")

    context = read_context(custom(tmp_path))

    assert "passwd" in context.files
    assert context.size == len("FROM scratch\n"), "the link's target is neither read nor counted"


def test_a_dockerfile_outside_its_context_is_sent_under_a_name_of_its_own(tmp_path):
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "cross.Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "ctx").mkdir()

    found = find_dockerfile(
        tmp_path,
        AARCH64,
        configured=(tmp_path / "docker" / "cross.Dockerfile").resolve(),
        context=(tmp_path / "ctx").resolve(),
        build_args={"A": "1"},
    )

    assert found.name_in_context == ".xcargo.Dockerfile"
    assert found.shown == "docker/cross.Dockerfile"
    assert found.build_args == {"A": "1"}


def prepared(root: Path, dockerfile: str, ids: dict[str, str] | None = None) -> str:
    """The name of the custom image `dockerfile` (as xcargo.dockerfile in `root`) makes."""
    (root / PROJECT_DOCKERFILE).write_text(dockerfile)
    return prepare_custom_image(custom(root), image_ids=(ids or {}).get).reference


def test_editing_a_source_file_the_image_does_not_take_keeps_the_image(tmp_path):
    """So the build keeps its warm target cache: a new image would start a cold one."""
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "greeting").write_text("v1")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text("fn main() {}")
    dockerfile = "FROM scratch\nCOPY ./tools/ /usr/local/bin/\n"
    first = prepared(tmp_path, dockerfile)

    (tmp_path / "src" / "main.rs").write_text("fn main() { println!(); }")
    (tmp_path / "xcargo.toml").write_text("")
    assert prepared(tmp_path, dockerfile) == first

    (tmp_path / "tools" / "greeting").write_text("v2")
    assert prepared(tmp_path, dockerfile) != first


@pytest.mark.parametrize(
    "dockerfile",
    ["FROM scratch\nCOPY . /src\n", "FROM scratch\nARG WHAT=src\nCOPY $WHAT /src\n"],
)
def test_copying_the_whole_context_or_a_variable_path_makes_every_file_count(tmp_path, dockerfile):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.rs").write_text("fn main() {}")
    first = prepared(tmp_path, dockerfile)

    (tmp_path / "src" / "main.rs").write_text("fn main() { println!(); }")

    assert prepared(tmp_path, dockerfile) != first


def test_globs_take_what_docker_would(tmp_path):
    (tmp_path / "a.toml").write_text("1")
    (tmp_path / "b.txt").write_text("1")
    dockerfile = "FROM scratch\nCOPY *.toml /etc/\n"
    first = prepared(tmp_path, dockerfile)

    (tmp_path / "b.txt").write_text("2")
    assert prepared(tmp_path, dockerfile) == first
    (tmp_path / "a.toml").write_text("2")
    assert prepared(tmp_path, dockerfile) != first


def test_a_base_image_made_again_makes_a_new_custom_image(tmp_path):
    dockerfile = "FROM localhost/xcargo/debian:trixie\n"
    base = "localhost/xcargo/debian:trixie"

    before = prepared(tmp_path, dockerfile, {base: "sha256:aaa"})

    assert prepared(tmp_path, dockerfile, {base: "sha256:aaa"}) == before
    assert prepared(tmp_path, dockerfile, {base: "sha256:bbb"}) != before
