"""Custom images (FR2) on a real engine: a project's Dockerfile made into the image its build
runs in, named by what it is made from, built once, reviewed before it is built, and kept
from registries nobody trusted until a person approves it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from runtimes import naming
from runtimes.engine import Engine
from runtimes.images import choice
from runtimes.images.custom import CustomImageError
from runtimes.images.trust import ApprovalNeeded, TrustPolicy
from runtimes.smoke import PASSED
from runtimes.toolchains import NEWEST_CHANNEL
from runtimes.vocabulary import IMAGE
from tests.conftest import untrusted_image_on
from tests.support import AARCH64, build, run_xcargo

pytestmark = [pytest.mark.engine, pytest.mark.slow]

BASE = naming.toolchain_image(AARCH64, NEWEST_CHANNEL)
GREETING = "custom-image: greetings from the custom image"
XCARGO_TOML = f'[targets."{AARCH64}".container]\nbuild_args = {{ BASE = "{BASE}" }}\n'


@pytest.fixture
def custom_images(toolchain_engine: Engine) -> Iterator[Engine]:
    """The engine (Docker, then Podman); the custom images a test made are removed after it."""
    engine = toolchain_engine
    before = {image.id for image in _custom_images(engine)}
    yield engine
    for image in _custom_images(engine):
        if image.id not in before:
            engine.client.images.remove(image.id, force=True)


@pytest.fixture
def untrusted_image(custom_images: Engine) -> Iterator[str]:
    """UNTRUSTED_IMAGE on the engine of the test."""
    with untrusted_image_on(custom_images) as name:
        yield name


def _custom_images(engine: Engine):
    return engine.client.images.list(name=naming.CUSTOM_REPOSITORY)


def test_the_project_dockerfile_adds_a_tool_the_build_runs_and_is_built_once(
    custom_images, copy_fixture, tmp_path
):
    engine = custom_images
    project = copy_fixture("custom-image", engine, xcargo_toml=XCARGO_TOML)
    first_lines: list[str] = []

    first = build(engine, project, AARCH64, tmp_path / "state", lines=first_lines)

    assert first.succeeded, first_lines[-30:]
    assert first.image_source == choice.DOCKERFILE
    assert first.image_reason == "made from xcargo.dockerfile in the project root"
    assert any(line.startswith(f"xcargo: building {first.image}") for line in first_lines)
    assert any("COPY tools/greeting" in line for line in first_lines), "the image build's log"
    [artifact] = first.artifacts
    assert artifact.smoke.state == PASSED, artifact.smoke
    assert artifact.smoke.output[0] == GREETING

    second_lines: list[str] = []
    second = build(engine, project, AARCH64, tmp_path / "state", lines=second_lines)

    assert second.succeeded, second_lines[-30:]
    assert (second.image, second.image_id) == (first.image, first.image_id)
    assert (
        f"xcargo: xcargo.dockerfile and what it takes are unchanged: image {first.image} is "
        "not rebuilt" in second_lines
    )
    assert second.volumes.target == first.volumes.target, "the same warm target cache"
    assert not any("Compiling custom-image" in line for line in second_lines), second_lines

    # A source file the image does not take: the same image, and the same warm target cache.
    main = project.root / "src" / "main.rs"
    main.write_text(main.read_text().replace("custom-image: ", "custom-image says: "))
    edited = build(engine, project, AARCH64, tmp_path / "state")

    assert (edited.image, edited.volumes.target) == (first.image, first.volumes.target)
    assert edited.artifacts[0].smoke.output[0] == GREETING.replace(": ", " says: ", 1)


def test_a_changed_file_of_the_context_makes_a_new_image(custom_images, copy_fixture, tmp_path):
    engine = custom_images
    project = copy_fixture("custom-image", engine, xcargo_toml=XCARGO_TOML)
    first = build(engine, project, AARCH64, tmp_path / "state")
    tool = project.root / "tools" / "greeting"
    tool.write_text('#!/bin/sh\necho "a changed greeting"\n')

    second = build(engine, project, AARCH64, tmp_path / "state")

    assert second.succeeded
    assert second.image != first.image
    assert second.artifacts[0].smoke.output[0] == "custom-image: a changed greeting"


def test_a_failing_image_build_is_an_image_error_with_the_engines_words(
    custom_images, copy_fixture, tmp_path
):
    engine = custom_images
    project = copy_fixture("custom-image", engine, xcargo_toml=XCARGO_TOML)
    (project.root / "xcargo.dockerfile").write_text(f"FROM {BASE}\nRUN exit 3\n")

    with pytest.raises(CustomImageError) as raised:
        build(engine, project, AARCH64, tmp_path / "state")

    assert raised.value.kind == IMAGE
    # Docker: "returned a non-zero code: 3"; Podman: "RUN exit 3": … exit status 3.
    assert re.search(r"(non-zero code:|exit status) 3\b", raised.value.message), raised.value


def test_an_image_from_an_untrusted_registry_is_built_only_once_a_person_approved_it(
    custom_images, untrusted_image, copy_fixture, tmp_path
):
    engine = custom_images
    project = copy_fixture("custom-image", engine, xcargo_toml=XCARGO_TOML)
    (project.root / "xcargo.dockerfile").write_text(
        f"FROM {BASE} AS tools\n"
        f"FROM {untrusted_image}\n"
        "COPY tools/greeting /usr/local/bin/custom-greeting\n"
    )
    images_before = len(_custom_images(engine))

    with pytest.raises(ApprovalNeeded) as raised:
        build(engine, project, AARCH64, tmp_path / "state")

    refusal = raised.value
    assert (
        "xcargo.dockerfile:line 2: FROM 127.0.0.1:5999/team/rust:1 comes from "
        "127.0.0.1:5999, which is not a trusted registry" in refusal.message
    )
    assert f"--approve-dockerfile {refusal.approval}" in refusal.hint
    assert len(_custom_images(engine)) == images_before, "nothing was built"

    lines: list[str] = []
    approved = build(
        engine,
        project,
        AARCH64,
        tmp_path / "state",
        lines=lines,
        approvals=frozenset({refusal.approval}),
    )

    assert approved.succeeded, lines[-30:]
    assert approved.artifacts[0].smoke.output[0] == GREETING
    assert any("concerns approved by a person" in line for line in lines)


def test_a_registry_the_policy_trusts_needs_no_approval(
    custom_images, untrusted_image, copy_fixture, tmp_path
):
    engine = custom_images
    project = copy_fixture("custom-image", engine, xcargo_toml=XCARGO_TOML)
    (project.root / "xcargo.dockerfile").write_text(
        f"FROM {untrusted_image}\nCOPY tools/greeting /usr/local/bin/custom-greeting\n"
    )
    policy = TrustPolicy.from_hosts(["127.0.0.1:5999"])

    with pytest.raises(ApprovalNeeded) as raised:
        build(engine, project, AARCH64, tmp_path / "state", trust=policy)

    # Trusted, the registry is no concern; the tag that is not a digest still is one.
    assert "not a trusted registry" not in raised.value.message
    assert "not pinned by digest" in raised.value.message


def test_the_cli_refuses_a_dockerfile_outside_the_project_and_names_the_approval_flag(
    custom_images, untrusted_image, copy_fixture, tmp_path
):
    engine = custom_images
    project = copy_fixture("custom-image", engine, xcargo_toml=XCARGO_TOML)
    (project.root / "ci.Dockerfile").write_text(f"FROM {untrusted_image}\n")
    (tmp_path / "outside.Dockerfile").write_text(f"FROM {BASE}\n")
    command = (engine, project.root, "build", "--target", AARCH64, "--dockerfile")

    outside = run_xcargo(*command, "../outside.Dockerfile")
    refused = run_xcargo(*command, "ci.Dockerfile")

    assert outside.returncode == 2, outside.stderr
    assert "is outside the project" in outside.stderr
    assert refused.returncode == 2, refused.stderr
    assert "ci.Dockerfile:line 1: FROM 127.0.0.1:5999/team/rust:1" in refused.stderr
    assert "--approve-dockerfile " in refused.stderr


NEWER_LIBRARY = """\
ARG BASE
FROM ${BASE}
COPY tools/newer.c /tmp/newer.c
RUN aarch64-linux-gnu-gcc -shared -fPIC -o /usr/lib/aarch64-linux-gnu/libnewer.so /tmp/newer.c
"""
# pthread_create moved into libc at glibc 2.34: a library calling it needs GLIBC_2.34.
NEWER_C = """\
#include <pthread.h>
static void *run(void *p) { return p; }
int started(void) {
    pthread_t t;
    return pthread_create(&t, 0, run, 0) || pthread_join(t, 0);
}
"""


def test_a_library_of_the_image_newer_than_the_glibc_floor_is_named_with_what_to_do(
    custom_images, copy_fixture, tmp_path
):
    """An image's own libraries are built against its glibc (2.41): linking one at the default
    floor (2.28, with zig) cannot work, and the build says why instead of lld's words alone.
    """
    engine = custom_images
    project = copy_fixture("custom-image", engine, xcargo_toml=XCARGO_TOML)
    (project.root / "xcargo.dockerfile").write_text(NEWER_LIBRARY)
    (project.root / "tools" / "newer.c").write_text(NEWER_C)
    (project.root / "build.rs").write_text(
        'fn main() { println!("cargo:rustc-link-search=native=/usr/lib/aarch64-linux-gnu"); }\n'
    )
    (project.root / "src" / "main.rs").write_text(
        '#[link(name = "newer")]\nextern "C" { fn started() -> i32; }\n'
        'fn main() { println!("{}", unsafe { started() }); }\n'
    )

    result = build(engine, project, AARCH64, tmp_path / "state")

    assert not result.succeeded
    assert result.failure.startswith(
        f"a library linked from {result.image} needs glibc 2.34, above the build's floor 2.28"
    ), result.failure
    assert "`vendored` or `static` feature" in result.failure
