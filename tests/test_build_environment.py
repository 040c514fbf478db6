"""The build's environment and pre-build, on a real engine: xcargo.toml's values and the names
it passes through reach build scripts, the compiler and the test programs; a secret is masked
in the log; pre-build commands make a derived image once, reviewed like a Dockerfile.
"""

from __future__ import annotations

import pytest

from runtimes import naming
from runtimes.build_env import MASK, resolve_environment
from tests.support import AARCH64, build, run_xcargo

pytestmark = [pytest.mark.engine, pytest.mark.slow]

PRINTS_ENV_TOML = """\
[container]
glibc = "2.41"

[container.env]
passthrough = ["FROM_HOST"]
values = { GREETING = "hello from xcargo.toml" }
"""


def test_build_scripts_the_program_and_its_tests_see_the_environment_and_secrets_are_masked(
    toolchain_engine, copy_fixture, tmp_path
):
    project = copy_fixture("prints-env", toolchain_engine)

    tested = run_xcargo(
        toolchain_engine, project.root, "test", "--target", AARCH64, FROM_HOST="from the shell"
    )
    ran = run_xcargo(toolchain_engine, project.root, "run", "--target", AARCH64)

    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "xcargo: environment: FROM_HOST, GREETING" in tested.stderr
    assert "GREETING=hello from xcargo.toml" in tested.stderr
    assert "FROM_HOST=from the shell" in tested.stderr
    assert "test sees_the_greeting ... ok" in tested.stderr
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "FROM_HOST is to be passed through but is not set" in ran.stderr
    assert ran.stdout == "built with: hello from xcargo.toml\nruns with: hello from xcargo.toml\n"

    # The same project again, with a secret its build script prints (it runs again, since
    # it watches the variable): the log masks it.
    secret = "s3cret-for-the-deploy"
    lines: list[str] = []
    masked = build(
        toolchain_engine,
        project,
        AARCH64,
        tmp_path,
        lines=lines,
        environment=resolve_environment([], {}, available={}, secrets={"DEPLOY_TOKEN": secret}),
    )

    assert masked.succeeded, lines[-20:]
    assert any(f"DEPLOY_TOKEN={MASK}" in line for line in lines), lines
    assert not [line for line in lines if secret in line]


def test_pre_build_commands_make_a_derived_image_once(toolchain_engine, copy_fixture, tmp_path):
    project = copy_fixture(
        "prints-env",
        toolchain_engine,
        xcargo_toml=PRINTS_ENV_TOML
        + f"""
[targets."{AARCH64}".container]
pre_build = ["echo pre-built for $CROSS_TARGET on $CROSS_DEB_ARCH", "touch /etc/xcargo-marker"]
""",
    )
    first: list[str] = []
    second: list[str] = []

    made = build(toolchain_engine, project, AARCH64, tmp_path, lines=first)
    again = build(toolchain_engine, project, AARCH64, tmp_path, lines=second)

    assert made.succeeded and again.succeeded, first[-20:] + second[-20:]
    assert any(f"pre-built for {AARCH64} on arm64" in line for line in first), first
    assert made.image_id == again.image_id
    assert any("is not rebuilt" in line for line in second), second
    image = toolchain_engine.client.images.get(made.image_id)
    try:
        assert image.labels["io.xcargo.kind"] == "custom"
    finally:
        toolchain_engine.client.images.remove(made.image_id, force=True)


def test_a_pre_build_script_runs_with_the_triple_and_risky_commands_wait_for_a_person(
    toolchain_engine, copy_fixture
):
    project = copy_fixture(
        "prints-env",
        toolchain_engine,
        xcargo_toml=PRINTS_ENV_TOML
        + f"""
[targets."{AARCH64}".container]
pre_build = ["curl -fsSL https://example.com/install.sh | sh"]
""",
    )

    refused = run_xcargo(toolchain_engine, project.root, "build", "--target", AARCH64)

    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "--approve-dockerfile" in refused.stderr
    assert "curl" in refused.stderr

    script = project.root / "pre-build.sh"
    script.write_text('#!/bin/sh\necho "pre-build script for $1"\n')
    (project.root / "xcargo.toml").write_text(
        PRINTS_ENV_TOML + f'\n[targets."{AARCH64}".container]\npre_build = "pre-build.sh"\n'
    )

    try:
        built = run_xcargo(toolchain_engine, project.root, "build", "--target", AARCH64)
    finally:
        label = f"{naming.LABEL_PROJECT}={project.key}"
        for image in toolchain_engine.client.images.list(filters={"label": label}):
            toolchain_engine.client.images.remove(image.id, force=True)

    assert built.returncode == 0, built.stderr[-3000:]
    assert f"pre-build script for {AARCH64}" in built.stderr
