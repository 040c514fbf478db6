"""cross-rs's configuration read as it is: Cross.toml (or the file CROSS_CONFIG names),
Cargo.toml's `metadata.cross` and the CROSS_* variables, into the same typed configuration
as xcargo.toml; each key honoured, or named as not supported with its file and line.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import click
import pytest

from runtimes.cli import target_for
from runtimes.config import MAX_CONFIG_BYTES, ConfigNotice, XcargoConfig, load_config
from runtimes.config.schema import DefaultTarget, EnvConfig
from runtimes.errors import ConfigError
from runtimes.glibc import DEFAULT_FLOOR, NEWEST_FLOOR, GlibcVersion
from runtimes.images.references import parse_image_reference
from runtimes.linking import Floor, choose_floor

AARCH64 = "aarch64-unknown-linux-gnu"
X86_64 = "x86_64-unknown-linux-gnu"
MUSL = "x86_64-unknown-linux-musl"
AARCH64_VARIABLE = "CROSS_TARGET_AARCH64_UNKNOWN_LINUX_GNU"

# The annotated example of cross-rs's wiki: every key of the configuration reference, with
# the values it shows (its comments left out, so the lines below are this text's).
ANNOTATED = """\
# Cross.toml
[build]
xargo = true
build-std = true
default-target = "x86_64-unknown-linux-gnu"
pre-build = [
    "dpkg --add-architecture $CROSS_DEB_ARCH",
    "apt-get update && apt-get install --assume-yes libssl-dev:$CROSS_DEB_ARCH"
]
dockerfile = "Dockerfile"

[build.env]
volumes = ["VOL1_ARG", "VOL2_ARG=/path/to/volume"]
passthrough = ["VAR1_ARG", "VAR2_ARG=VALUE"]

[target.aarch64-unknown-linux-gnu]
xargo = false
build-std = true
runner = "qemu-user"
image = "repository:tag"
pre-build = [
    "dpkg --add-architecture $CROSS_DEB_ARCH",
    "apt-get update && apt-get install --assume-yes libssl-dev:$CROSS_DEB_ARCH",
    "echo -e '#!/bin/bash\\\\necho test' > /usr/bin/test-echo",
    "chmod +x /usr/bin/test-echo"
]

[target.aarch64-unknown-linux-gnu.dockerfile]
file = "Dockerfile"
context = "."
build-args = { ARG1 = "foo" }

[target.aarch64-unknown-linux-gnu.env]
volumes = ["VOL3_ARG", "VOL4_ARG=/path/to/vol4"]
passthrough = ["VAR1_ARG", "VAR2_ARG=VALUE"]
"""

BUILD_PRE_BUILD = (
    "dpkg --add-architecture $CROSS_DEB_ARCH",
    "apt-get update && apt-get install --assume-yes libssl-dev:$CROSS_DEB_ARCH",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A Cargo project with nothing of cross's in it yet."""
    project = (tmp_path / "project").resolve()
    project.mkdir()
    (project / "Cargo.toml").write_text('[package]\nname = "hello"\nversion = "0.1.0"\n')
    return project


def write(project: Path, name: str, text: str) -> None:
    (project / name).write_text(textwrap.dedent(text))


def cross(project: Path, text: str, **environ: str) -> XcargoConfig:
    """The project's configuration with `text` as its Cross.toml and `environ` as the CLI's."""
    write(project, "Cross.toml", text)
    return load_config(project, environ)


def refused(project: Path, text: str, **environ: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        cross(project, text, **environ)
    return caught.value


def located(notices: tuple[ConfigNotice, ...]) -> list[tuple[str, int | None, str]]:
    return [(notice.file, notice.line, notice.key) for notice in notices]


def v(text: str) -> GlibcVersion:
    return GlibcVersion.parse(text)


# --- The annotated example, key by key


def test_example_default_target(project: Path) -> None:
    assert cross(project, ANNOTATED).default_target == DefaultTarget(
        X86_64, "Cross.toml: [build] default-target"
    )


def test_example_build_pre_build_is_every_targets(project: Path) -> None:
    config = cross(project, ANNOTATED)
    assert config.for_target(X86_64).pre_build == BUILD_PRE_BUILD
    assert config.where(X86_64, "pre_build") == "Cross.toml: [build] pre-build"


def test_example_build_dockerfile_is_every_targets(project: Path) -> None:
    config = cross(project, ANNOTATED)
    assert config.for_target(X86_64).dockerfile == project / "Dockerfile"
    assert config.where(X86_64, "dockerfile") == "Cross.toml: [build] dockerfile"


def test_example_build_env_passthrough_is_the_projects(project: Path) -> None:
    config = cross(project, ANNOTATED)
    assert config.container.env == EnvConfig(passthrough=("VAR1_ARG", "VAR2_ARG=VALUE"))
    assert config.env_for(X86_64).passthrough == ("VAR1_ARG", "VAR2_ARG=VALUE")


def test_example_target_image_is_a_named_image(project: Path) -> None:
    config = cross(project, ANNOTATED)
    assert config.for_target(AARCH64).image == parse_image_reference("repository:tag")
    assert config.where(AARCH64, "image") == f"Cross.toml: [target.{AARCH64}] image"


def test_example_target_pre_build_replaces_the_builds(project: Path) -> None:
    pre_build = cross(project, ANNOTATED).for_target(AARCH64).pre_build
    assert isinstance(pre_build, tuple) and len(pre_build) == 4
    assert pre_build[3] == "chmod +x /usr/bin/test-echo"


def test_example_target_dockerfile_table(project: Path) -> None:
    target = cross(project, ANNOTATED).for_target(AARCH64)
    assert (target.dockerfile, target.context) == (project / "Dockerfile", project)
    assert target.build_args == {"ARG1": "foo"}


def test_example_target_passthrough_adds_to_the_builds(project: Path) -> None:
    assert cross(project, ANNOTATED).env_for(AARCH64).passthrough == (
        *("VAR1_ARG", "VAR2_ARG=VALUE"),
        *("VAR1_ARG", "VAR2_ARG=VALUE"),
    )


def test_example_runner_qemu_user_is_what_xcargo_does(project: Path) -> None:
    config = cross(project, ANNOTATED)
    assert not [notice for notice in config.unsupported if "runner" in notice.key]


def test_example_names_what_is_not_supported_with_file_and_line(project: Path) -> None:
    assert located(cross(project, ANNOTATED).unsupported) == [
        ("Cross.toml", 3, "build.xargo"),
        ("Cross.toml", 4, "build.build-std"),
        ("Cross.toml", 13, "build.env.volumes"),
        ("Cross.toml", 17, f"target.{AARCH64}.xargo"),
        ("Cross.toml", 18, f"target.{AARCH64}.build-std"),
        ("Cross.toml", 34, f"target.{AARCH64}.env.volumes"),
        ("Cross.toml", 29, f"target.{AARCH64}.dockerfile.file"),
    ]


def test_example_says_why_each_key_is_not_supported(project: Path) -> None:
    messages = {notice.key: notice.message for notice in cross(project, ANNOTATED).unsupported}
    assert "deprecated by cross itself" in messages["build.xargo"]
    assert "standard library from source" in messages["build.build-std"]
    assert "sees only the project" in messages["build.env.volumes"]
    assert messages[f"target.{AARCH64}.dockerfile.file"] == (
        f"not built for {AARCH64}: its image is set too (Cross.toml: [target.{AARCH64}] "
        "image), and xcargo builds in that image (cross builds the Dockerfile on top of it)"
    )


def test_example_has_no_warnings(project: Path) -> None:
    assert cross(project, ANNOTATED).warnings == ()


def test_a_project_without_cross_configuration_is_unchanged(project: Path) -> None:
    assert load_config(project, {"PATH": "/usr/bin"}) == XcargoConfig()


# --- zig: xcargo links *-linux-gnu with zig at a glibc floor already


@pytest.mark.parametrize(
    ("text", "floor", "where"),
    [
        ('[build]\nzig = "2.17"\n', v("2.17"), "Cross.toml: [build] zig"),
        (
            '[build.zig]\nenable = true\nversion = "2.17"\n',
            v("2.17"),
            "Cross.toml: [build.zig] version",
        ),
        ('[build.zig]\nversion = "2.31"\n', v("2.31"), "Cross.toml: [build.zig] version"),
        ("[build]\nzig = false\n", NEWEST_FLOOR, "Cross.toml: [build] zig"),
        (
            '[build.zig]\nenable = false\nversion = "2.17"\n',
            NEWEST_FLOOR,
            "Cross.toml: [build.zig] enable",
        ),
    ],
)
def test_build_zig_sets_every_targets_floor(
    project: Path, text: str, floor: GlibcVersion, where: str
) -> None:
    config = cross(project, text)
    assert config.setting_for(X86_64, "glibc") == (floor, where)
    assert choose_floor(AARCH64, config) == Floor(floor, where)


def test_zig_true_is_what_xcargo_does_already(project: Path) -> None:
    config = cross(project, "[build]\nzig = true\n")
    assert config.setting_for(AARCH64, "glibc") is None
    assert config.warnings == config.unsupported == ()


def test_a_targets_zig_version_is_its_floor_and_the_reason_names_it(project: Path) -> None:
    config = cross(project, f'[build]\nzig = "2.28"\n\n[target.{AARCH64}]\nzig = "2.17"\n')
    assert choose_floor(AARCH64, config) == Floor(v("2.17"), f"Cross.toml: [target.{AARCH64}] zig")
    assert choose_floor(X86_64, config) == Floor(v("2.28"), "Cross.toml: [build] zig")


def test_a_targets_zig_true_undoes_a_build_zig_false(project: Path) -> None:
    config = cross(project, f"[build]\nzig = false\n\n[target.{AARCH64}]\nzig = true\n")
    assert choose_floor(AARCH64, config) == Floor(
        DEFAULT_FLOOR, f"Cross.toml: [target.{AARCH64}] zig"
    )
    assert choose_floor(X86_64, config) == Floor(NEWEST_FLOOR, "Cross.toml: [build] zig")


def test_zig_image_is_the_targets_image(project: Path) -> None:
    config = cross(project, f'[target.{AARCH64}.zig]\nenable = true\nimage = "team/zig:1"\n')
    assert config.for_target(AARCH64).image == parse_image_reference("team/zig:1")
    assert config.where(AARCH64, "image") == f"Cross.toml: [target.{AARCH64}.zig] image"


def test_build_zig_image_is_every_targets_image(project: Path) -> None:
    config = cross(project, '[build.zig]\nimage = "team/zig:1"\n')
    assert config.for_target(MUSL).image == parse_image_reference("team/zig:1")


# --- image, runner, dockerfile in their other forms


def test_image_table_name_is_honoured_and_its_platforms_are_not(project: Path) -> None:
    config = cross(
        project,
        f"""\
        [target.{AARCH64}]
        image.name = "alpine:edge"
        image.toolchain = ["x86_64-unknown-linux-musl", "linux/arm64=aarch64-unknown-linux-musl"]
        """,
    )
    assert config.for_target(AARCH64).image == parse_image_reference("alpine:edge")
    assert located(config.unsupported) == [("Cross.toml", 3, f"target.{AARCH64}.image.toolchain")]


@pytest.mark.parametrize("image", [":edge", "@sha256:" + "7" * 64, "-centos"])
def test_a_tag_or_digest_alone_names_a_cross_rs_image_and_is_not_used(
    project: Path, image: str
) -> None:
    config = cross(project, f'[target.{AARCH64}]\nimage = "{image}"\n')
    assert config.for_target(AARCH64).image is None
    [notice] = config.unsupported
    assert (notice.line, notice.key) == (2, f"target.{AARCH64}.image")
    assert "no Rust toolchain" in notice.message


@pytest.mark.parametrize("runner", ["native", "qemu-system", "custom-runner"])
def test_another_runner_is_named_as_not_supported(project: Path, runner: str) -> None:
    [notice] = cross(project, f'[target.{AARCH64}]\nrunner = "{runner}"\n').unsupported
    assert (notice.line, notice.key) == (2, f"target.{AARCH64}.runner")
    assert notice.message.startswith(f"runner '{runner}': xcargo runs the programs")


def test_a_targets_dockerfile_wins_over_the_builds_and_build_args_merge(project: Path) -> None:
    config = cross(
        project,
        f"""\
        [build.dockerfile]
        file = "docker/all.Dockerfile"
        context = "docker"
        build-args = {{ A = "build", B = "build" }}

        [target.{AARCH64}]
        dockerfile = {{ file = "docker/arm.Dockerfile", build-args = {{ B = "target" }} }}
        """,
    )
    target = config.for_target(AARCH64)
    assert target.dockerfile == project / "docker/arm.Dockerfile"
    assert target.context == project / "docker"
    assert target.build_args == {"A": "build", "B": "target"}
    assert config.for_target(X86_64).dockerfile == project / "docker/all.Dockerfile"


def test_a_pre_build_script_path_is_inside_the_project(project: Path) -> None:
    config = cross(project, f'[target.{AARCH64}]\npre-build = "./scripts/my-script.sh"\n')
    assert config.for_target(AARCH64).pre_build == project / "scripts/my-script.sh"


def test_a_build_image_is_not_a_cross_key(project: Path) -> None:
    config = cross(project, '[build]\nimage = "debian"\n')
    assert located(config.warnings) == [("Cross.toml", 2, "build.image")]
    assert config.for_target(X86_64).image is None


def test_unknown_keys_are_warnings_with_a_suggestion(project: Path) -> None:
    config = cross(
        project,
        f"""\
        [build]
        pre_build = ["true"]
        [target.{AARCH64}]
        imgae = "debian"
        [target.{AARCH64}.env]
        passthru = ["A"]
        [profile]
        x = 1
        """,
    )
    assert [(notice.line, notice.key, notice.message) for notice in config.warnings] == [
        (2, "build.pre_build", "unknown key (did you mean 'pre-build'?), ignored"),
        (4, f"target.{AARCH64}.imgae", "unknown key (did you mean 'image'?), ignored"),
        (6, f"target.{AARCH64}.env.passthru", "unknown key (did you mean 'passthrough'?), ignored"),
        (7, "profile", "unknown key, ignored (known keys: build, target)"),
    ]


# --- Cargo.toml's metadata


def test_package_metadata_cross_is_read_like_cross_toml(project: Path) -> None:
    with (project / "Cargo.toml").open("a") as manifest:
        manifest.write(
            textwrap.dedent(
                f"""
                [package.metadata.cross.build.env]
                passthrough = ["RUST_LOG"]

                [package.metadata.cross.target.{AARCH64}]
                xargo = false
                image = "test-image"
                """
            )
        )
    config = load_config(project, {})
    assert config.container.env.passthrough == ("RUST_LOG",)
    assert config.for_target(AARCH64).image == parse_image_reference("test-image")
    assert config.where(AARCH64, "image") == (
        f"Cargo.toml: [package.metadata.cross.target.{AARCH64}] image"
    )
    assert located(config.unsupported) == [
        ("Cargo.toml", 9, f"package.metadata.cross.target.{AARCH64}.xargo")
    ]


def test_workspace_metadata_wins_and_a_packages_is_ignored_as_cross_does(project: Path) -> None:
    with (project / "Cargo.toml").open("a") as manifest:
        manifest.write(
            "[workspace.metadata.cross.build]\n"
            'default-target = "aarch64-unknown-linux-gnu"\n'
            "[package.metadata.cross.build]\n"
            'default-target = "x86_64-unknown-linux-gnu"\n'
        )
    config = load_config(project, {})
    assert config.default_target == DefaultTarget(
        AARCH64, "Cargo.toml: [workspace.metadata.cross.build] default-target"
    )
    assert located(config.warnings) == [("Cargo.toml", 6, "package.metadata.cross")]


# --- Precedence: environment over Cross.toml over Cargo.toml; [target] over [build]


def test_cross_toml_wins_over_cargo_toml_key_by_key(project: Path) -> None:
    with (project / "Cargo.toml").open("a") as manifest:
        manifest.write(f'[package.metadata.cross.target.{AARCH64}]\nimage = "a"\nzig = "2.17"\n')
    config = cross(project, f'[target.{AARCH64}]\nimage = "b"\n')
    assert config.for_target(AARCH64).image == parse_image_reference("b")
    assert config.setting_for(AARCH64, "glibc") == (
        v("2.17"),
        f"Cargo.toml: [package.metadata.cross.target.{AARCH64}] zig",
    )


def test_a_variable_wins_over_cross_toml(project: Path) -> None:
    config = cross(
        project, f'[target.{AARCH64}]\nimage = "b"\n', **{f"{AARCH64_VARIABLE}_IMAGE": "c"}
    )
    assert config.for_target(AARCH64).image == parse_image_reference("c")
    assert config.where(AARCH64, "image") == f"environment: {AARCH64_VARIABLE}_IMAGE"


def test_a_targets_key_in_the_file_wins_over_a_build_variable(project: Path) -> None:
    """cross's own order: target variable, target key, build variable, build key."""
    config = cross(project, f'[target.{AARCH64}]\nzig = "2.17"\n', CROSS_BUILD_ZIG_VERSION="2.31")
    assert config.setting_for(AARCH64, "glibc") == (
        v("2.17"),
        f"Cross.toml: [target.{AARCH64}] zig",
    )
    assert config.setting_for(X86_64, "glibc") == (
        v("2.31"),
        "environment: CROSS_BUILD_ZIG_VERSION",
    )


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"CROSS_BUILD_ENV_PASSTHROUGH": "RUST_LOG  TRAVIS"}, ("RUST_LOG", "TRAVIS")),
        ({f"{AARCH64_VARIABLE}_ENV_PASSTHROUGH": "RUST_DEBUG"}, ("RUST_DEBUG",)),
    ],
)
def test_passthrough_variables_are_names_separated_by_spaces(
    project: Path, variables: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert load_config(project, variables).env_for(AARCH64).passthrough == expected


def test_a_pre_build_variable_is_one_command_a_line(project: Path) -> None:
    config = load_config(project, {"CROSS_BUILD_PRE_BUILD": "apt-get update\napt-get install -y x"})
    assert config.for_target(AARCH64).pre_build == ("apt-get update", "apt-get install -y x")


@pytest.mark.parametrize(("value", "floor"), [("0", NEWEST_FLOOR), ("false", NEWEST_FLOOR)])
def test_zig_variables_read_booleans_as_cross_does(
    project: Path, value: str, floor: GlibcVersion
) -> None:
    assert load_config(project, {"CROSS_BUILD_ZIG": value}).container.glibc == floor


def test_dockerfile_variables(project: Path) -> None:
    config = load_config(
        project,
        {"CROSS_BUILD_DOCKERFILE": "docker/Dockerfile", "CROSS_BUILD_DOCKERFILE_CONTEXT": "docker"},
    )
    assert config.for_target(AARCH64).dockerfile == project / "docker/Dockerfile"
    assert config.for_target(AARCH64).context == project / "docker"


def test_cross_build_opts_is_named_as_not_supported(project: Path) -> None:
    [notice] = load_config(project, {"CROSS_BUILD_OPTS": "--network=host"}).unsupported
    assert (notice.file, notice.key) == ("environment", "CROSS_BUILD_OPTS")


def test_an_unknown_cross_variable_is_a_warning(project: Path) -> None:
    config = load_config(project, {f"{AARCH64_VARIABLE}_IMGAE": "x", "CROSS_BUILD_IMAGE": "y"})
    assert located(config.warnings) == [
        ("environment", None, "CROSS_BUILD_IMAGE"),
        ("environment", None, f"{AARCH64_VARIABLE}_IMGAE"),
    ]


def test_cross_config_names_the_file_read_instead_of_cross_toml(
    project: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "ci" / "cross.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(f'[target.{AARCH64}]\nimage = "from-ci"\nxargo = true\n')
    config = cross(project, f'[target.{AARCH64}]\nimage = "b"\n', CROSS_CONFIG=str(elsewhere))
    assert config.for_target(AARCH64).image == parse_image_reference("from-ci")
    assert located(config.unsupported) == [(str(elsewhere), 3, f"target.{AARCH64}.xargo")]


def test_cross_config_naming_nothing_is_an_error(project: Path, tmp_path: Path) -> None:
    error = refused(project, "", CROSS_CONFIG=str(tmp_path / "missing.toml"))
    assert (error.file, error.key) == ("environment", "CROSS_CONFIG")
    assert "does not exist" in error.message


def test_cross_config_naming_a_directory_is_an_error(project: Path, tmp_path: Path) -> None:
    error = refused(project, "", CROSS_CONFIG=str(tmp_path))
    assert "not a regular file" in error.message


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, DefaultTarget(AARCH64, "Cross.toml: [build] default-target")),
        ({"CARGO_BUILD_TARGET": MUSL}, DefaultTarget(MUSL, "environment: CARGO_BUILD_TARGET")),
        (
            {"CARGO_BUILD_TARGET": MUSL, "CROSS_BUILD_ZIG": "true"},
            DefaultTarget(MUSL, "environment: CARGO_BUILD_TARGET"),
        ),
        (
            {"CARGO_BUILD_TARGET": MUSL, "CROSS_BUILD_TARGET": X86_64},
            DefaultTarget(X86_64, "environment: CROSS_BUILD_TARGET"),
        ),
        (
            {"CROSS_BUILD_DEFAULT_TARGET": X86_64},
            DefaultTarget(X86_64, "environment: CROSS_BUILD_DEFAULT_TARGET"),
        ),
    ],
)
def test_the_default_target_comes_from_the_variables_then_the_file(
    project: Path, variables: dict[str, str], expected: DefaultTarget
) -> None:
    config = cross(project, f'[build]\ndefault-target = "{AARCH64}"\n', **variables)
    assert config.default_target == expected


def test_without_an_environment_as_on_the_server_only_the_files_count(project: Path) -> None:
    write(project, "Cross.toml", f'[target.{AARCH64}]\nimage = "b"\n')
    config = load_config(project)
    assert config.for_target(AARCH64).image == parse_image_reference("b")
    assert config.default_target is None


# --- xcargo.toml wins where both set a key, and says so at the cross key


def test_xcargo_toml_wins_over_cross_toml_and_says_so(project: Path) -> None:
    write(project, "xcargo.toml", f'[targets."{AARCH64}".container]\nimage = "mine"\n')
    config = cross(project, f'[target.{AARCH64}]\nxargo = false\nimage = "theirs"\n')
    assert config.for_target(AARCH64).image == parse_image_reference("mine")
    assert config.where(AARCH64, "image") == f'xcargo.toml: [targets."{AARCH64}".container] image'
    [notice] = config.warnings
    assert str(notice) == (
        f"Cross.toml:3: target.{AARCH64}.image: xcargo.toml sets this too "
        f'([targets."{AARCH64}".container] image, line 2), which wins'
    )


def test_xcargo_toml_glibc_wins_over_the_build_zig(project: Path) -> None:
    write(project, "xcargo.toml", '[container]\nglibc = "2.31"\n')
    config = cross(project, '[build]\nzig = "2.17"\n')
    assert config.setting_for(AARCH64, "glibc") == (v("2.31"), "xcargo.toml: [container] glibc")
    assert [str(notice) for notice in config.warnings] == [
        "Cross.toml:2: build.zig: xcargo.toml sets this too ([container] glibc, line 2), which wins"
    ]


def test_xcargo_toml_dockerfile_wins_over_cross_tomls_image(project: Path) -> None:
    write(project, "xcargo.toml", f'[targets."{AARCH64}".container]\ndockerfile = "x.Dockerfile"\n')
    config = cross(project, f'[target.{AARCH64}]\nimage = "theirs"\n')
    target = config.for_target(AARCH64)
    assert (target.image, target.dockerfile) == (None, project / "x.Dockerfile")
    assert [notice.message for notice in config.warnings] == [
        f'xcargo.toml sets the target\'s dockerfile ([targets."{AARCH64}".container] '
        "dockerfile, line 2), which wins"
    ]


def test_keys_only_one_file_sets_are_kept_from_both(project: Path) -> None:
    write(project, "xcargo.toml", '[container.env]\nvalues = { RUST_LOG = "debug" }\n')
    config = cross(project, '[build.env]\npassthrough = ["TRAVIS"]\n')
    assert config.env_for(AARCH64) == EnvConfig(
        passthrough=("TRAVIS",), values={"RUST_LOG": "debug"}
    )
    assert config.warnings == ()


# --- Malformed and hostile: refused with file, line and key


def test_bad_toml_names_the_file_and_line(project: Path) -> None:
    error = refused(project, "[build]\nzig = \n")
    assert (error.file, error.line) == ("Cross.toml", 2)
    assert "invalid TOML" in error.message


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        (
            f"[target.{AARCH64}]\nimage = 3\n",
            2,
            f"target.{AARCH64}.image",
            "expected an image name or a table { name, toolchain }, got 3",
        ),
        (
            f"[target.{AARCH64}]\n\npre-build = 5\n",
            3,
            f"target.{AARCH64}.pre-build",
            "expected an array of commands or a script's path, got 5",
        ),
        (
            f'[target.{AARCH64}]\nimage = "debian;curl x|sh"\n',
            2,
            f"target.{AARCH64}.image",
            "invalid image reference",
        ),
        (
            '[build.dockerfile]\nfile = "../Dockerfile"\n',
            2,
            "build.dockerfile.file",
            "'../Dockerfile' is outside the project directory",
        ),
        (
            f'[target.{AARCH64}]\ndockerfile = "/etc/Dockerfile"\n',
            2,
            f"target.{AARCH64}.dockerfile",
            "is outside the project directory",
        ),
        (
            f'[target.{AARCH64}]\npre-build = "../../script.sh"\n',
            2,
            f"target.{AARCH64}.pre-build",
            "is outside the project directory",
        ),
        ("[build]\nzig = 2.17\n", 2, "build.zig", "expected true or false, a glibc version"),
        ('[build.zig]\nenable = "yes"\n', 2, "build.zig.enable", "expected true or false"),
        ('[build]\nzig = "2.3"\n', 2, "build.zig", "2.3"),
        (
            f'[target.{AARCH64}]\nzig = "2.16"\n',
            2,
            f"target.{AARCH64}.zig",
            "2.16",
        ),
        ("[build]\ndefault-target = 5\n", 2, "build.default-target", "expected a target triple"),
        (
            '[build]\ndefault-target = "aarch64-unknown-linux-gnux"\n',
            2,
            "build.default-target",
            "unknown target",
        ),
        (
            '[build.env]\npassthrough = ["OK", "NOT OK"]\n',
            2,
            "build.env.passthrough[1]",
            "",
        ),
        ('[build.env]\npassthrough = "RUST_LOG"\n', 2, "build.env.passthrough", "an array"),
        (
            '[build.dockerfile]\nfile = "D"\nbuild-args = { "A B" = "1" }\n',
            3,
            'build.dockerfile.build-args."A B"',
            "",
        ),
        (f"[target.{AARCH64}]\nrunner = 1\n", 2, f"target.{AARCH64}.runner", "expected a string"),
        ("[build]\ndockerfile = 1\n", 2, "build.dockerfile", "expected a path or a table"),
        (f"[target.{AARCH64}.image]\ntoolchain = []\n", 1, f"target.{AARCH64}.image", "name"),
        ('build = "x"\n', 1, "build", "expected a table"),
        (
            '[target.aarch64-unknown-linux-gnux]\nimage = "debian"\n',
            1,
            "target.aarch64-unknown-linux-gnux",
            "unknown target",
        ),
        (
            '[target."$(reboot)"]\nimage = "debian"\n',
            1,
            'target."$(reboot)"',
            "",
        ),
    ],
)
def test_a_malformed_value_is_refused_with_file_line_and_key(
    project: Path, text: str, line: int, key: str, message: str
) -> None:
    error = refused(project, text)
    assert (error.file, error.line, error.key) == ("Cross.toml", line, key)
    assert message in error.message


def test_every_problem_is_listed(project: Path) -> None:
    error = refused(project, f"[target.{AARCH64}]\nimage = 3\npre-build = 5\nrunner = 1\n")
    assert error.line == 2
    assert f"Cross.toml:3: target.{AARCH64}.pre-build:" in error.message
    assert f"Cross.toml:4: target.{AARCH64}.runner:" in error.message


def test_a_hint_says_what_to_write(project: Path) -> None:
    assert refused(project, "[build]\nzig = 2.17\n").hint == 'quote a version: zig = "2.17"'


def test_a_malformed_cargo_toml_metadata_names_cargo_toml(project: Path) -> None:
    with (project / "Cargo.toml").open("a") as manifest:
        manifest.write(f"[package.metadata.cross.target.{AARCH64}]\nimage = 3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(project, {})
    error = caught.value
    assert (error.file, error.line) == ("Cargo.toml", 5)
    assert error.key == f"package.metadata.cross.target.{AARCH64}.image"


def test_cargo_toml_metadata_that_is_not_a_table_is_refused(project: Path) -> None:
    with (project / "Cargo.toml").open("a") as manifest:
        manifest.write('[package.metadata]\ncross = "yes"\n')
    with pytest.raises(ConfigError, match="expected a table") as caught:
        load_config(project, {})
    assert (caught.value.line, caught.value.key) == (5, "package.metadata.cross")


def test_a_malformed_variable_names_the_variable(project: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(project, {f"{AARCH64_VARIABLE}_IMAGE": "debian;id"})
    error = caught.value
    assert (error.file, error.line, error.key) == ("environment", None, f"{AARCH64_VARIABLE}_IMAGE")


def test_cross_toml_symlinked_outside_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.toml"
    secret.write_text("[build]\n")
    (project / "Cross.toml").symlink_to(secret)
    with pytest.raises(ConfigError, match="outside the project") as caught:
        load_config(project, {})
    assert caught.value.file == "Cross.toml"


def test_cross_toml_that_is_not_utf8_is_refused_with_its_line(project: Path) -> None:
    (project / "Cross.toml").write_bytes(b'[build]\ndefault-target = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8") as caught:
        load_config(project, {})
    assert (caught.value.file, caught.value.line) == ("Cross.toml", 2)


def test_cross_toml_over_one_mebibyte_is_refused(project: Path) -> None:
    (project / "Cross.toml").write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than"):
        load_config(project, {})


# --- The CLI: the default target when --target is not given


def test_the_cli_takes_the_target_given_first() -> None:
    config = XcargoConfig(
        default_target=DefaultTarget(AARCH64, "Cross.toml: [build] default-target")
    )
    assert target_for(X86_64, config) == X86_64


def test_the_cli_takes_the_default_target_and_says_where_it_was_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = XcargoConfig(
        default_target=DefaultTarget(AARCH64, "Cross.toml: [build] default-target")
    )
    assert target_for(None, config) == AARCH64
    assert (
        f"no --target: {AARCH64}, the default target of Cross.toml: [build] default-target"
        in capsys.readouterr().err
    )


def test_the_cli_without_either_says_target_is_missing() -> None:
    with pytest.raises(click.MissingParameter) as caught:
        target_for(None, XcargoConfig())
    assert caught.value.format_message() == "Missing option '--target'."
