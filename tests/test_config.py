"""xcargo.toml: what the loader accepts, the defaults, and how each problem is located."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtimes.config import (
    MAX_CONFIG_BYTES,
    CacheConfig,
    ConfigNotice,
    ContainerConfig,
    PodmanMachineConfig,
    TargetContainerConfig,
    XcargoConfig,
    load_config,
    load_config_text,
)
from runtimes.errors import ConfigError
from runtimes.images.references import parse_image_reference
from tests.support import load_toml, toml_error

DESIGN_EXAMPLE = """\
# xcargo.toml

[container]
# Runtime selection
runtime = "auto"  # auto, docker, podman, none

# When to use containers
use_when = "target.os != host.os"  # Expression

# Volume caching
cache.enabled = true
cache.registry_path = "~/.cache/xcargo/cargo-registry"
cache.git_path = "~/.cache/xcargo/cargo-git"

# Image registry preferences
image_registry = ["ghcr.io", "docker.io"]

# Podman machine (macOS)
[container.podman_machine]
auto_create = true
auto_start = true
cpus = 4
memory = 4096  # MB
disk_size = 20  # GB

# Custom images per target
[targets."aarch64-unknown-linux-gnu".container]
dockerfile = "./docker/aarch64.dockerfile"
build_args = { RUST_VERSION = "1.75" }

[targets."x86_64-pc-windows-gnu".container]
image = "ghcr.io/cross-rs/x86_64-pc-windows-gnu:latest"
"""

AARCH64 = "aarch64-unknown-linux-gnu"
WINDOWS = "x86_64-pc-windows-gnu"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home directory outside the project, so `~` paths are predictable."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def project(tmp_path: Path, home: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    return project.resolve()


# --- The design's example, key by key


def test_example_runtime(project: Path) -> None:
    assert load_toml(project, DESIGN_EXAMPLE).container.runtime == "auto"


def test_example_use_when(project: Path) -> None:
    use_when = load_toml(project, DESIGN_EXAMPLE).container.use_when
    assert use_when is not None and use_when.text == "target.os != host.os"


def test_example_cache_enabled(project: Path) -> None:
    assert load_toml(project, DESIGN_EXAMPLE).container.cache.enabled is True


def test_example_cache_paths_expand_the_home_directory(project: Path, home: Path) -> None:
    cache = load_toml(project, DESIGN_EXAMPLE).container.cache
    assert cache.registry_path == home / ".cache/xcargo/cargo-registry"
    assert cache.git_path == home / ".cache/xcargo/cargo-git"


def test_example_image_registry(project: Path) -> None:
    assert load_toml(project, DESIGN_EXAMPLE).container.image_registry == ("ghcr.io", "docker.io")


def test_example_podman_machine(project: Path) -> None:
    machine = load_toml(project, DESIGN_EXAMPLE).container.podman_machine
    assert machine == PodmanMachineConfig(
        auto_create=True, auto_start=True, cpus=4, memory=4096, disk_size=20
    )


def test_example_dockerfile_resolves_inside_the_project(project: Path) -> None:
    target = load_toml(project, DESIGN_EXAMPLE).for_target(AARCH64)
    assert target.dockerfile == project / "docker" / "aarch64.dockerfile"


def test_example_build_args(project: Path) -> None:
    target = load_toml(project, DESIGN_EXAMPLE).for_target(AARCH64)
    assert target.build_args == {"RUST_VERSION": "1.75"}


def test_example_image_is_a_parsed_reference(project: Path) -> None:
    target = load_toml(project, DESIGN_EXAMPLE).for_target(WINDOWS)
    assert target.image == parse_image_reference("ghcr.io/cross-rs/x86_64-pc-windows-gnu:latest")


def test_example_targets(project: Path) -> None:
    assert set(load_toml(project, DESIGN_EXAMPLE).targets) == {AARCH64, WINDOWS}


def test_example_has_no_warnings(project: Path) -> None:
    assert load_toml(project, DESIGN_EXAMPLE).warnings == ()


def test_example_holds_nothing_unsupported(project: Path) -> None:
    assert load_toml(project, DESIGN_EXAMPLE).unsupported == ()


# --- Defaults


def test_missing_file_gives_defaults_and_no_path(project: Path) -> None:
    assert load_config(project) == XcargoConfig()
    assert load_config(project).path is None


def test_empty_file_gives_defaults(project: Path) -> None:
    assert load_toml(project, "") == XcargoConfig()


def test_file_of_comments_gives_defaults(project: Path) -> None:
    assert load_toml(project, "# nothing to see\n\n# here\n") == XcargoConfig()


def test_default_container_settings() -> None:
    container = ContainerConfig()
    assert container.runtime == "auto"
    assert container.use_when is None
    assert container.image_registry == ("ghcr.io", "docker.io")


def test_default_cache_settings() -> None:
    assert CacheConfig() == CacheConfig(enabled=True, registry_path=None, git_path=None)


def test_default_podman_machine_settings() -> None:
    machine = PodmanMachineConfig()
    assert (machine.cpus, machine.memory, machine.disk_size) == (4, 4096, 20)
    assert machine.auto_create and machine.auto_start


def test_default_target_settings() -> None:
    target = TargetContainerConfig()
    assert (target.image, target.dockerfile, target.context, target.build_args) == (
        None,
        None,
        None,
        {},
    )


def test_target_not_in_the_file_gets_defaults(project: Path) -> None:
    assert load_toml(project, DESIGN_EXAMPLE).for_target("x86_64-unknown-linux-gnu") == (
        TargetContainerConfig()
    )


def test_unset_keys_keep_their_defaults(project: Path) -> None:
    config = load_toml(project, '[container]\nruntime = "podman"\n')
    assert config.container.cache == CacheConfig()
    assert config.container.podman_machine == PodmanMachineConfig()


def test_load_config_reads_xcargo_toml_and_records_its_path(project: Path) -> None:
    (project / "xcargo.toml").write_text('[container]\nruntime = "docker"\n')
    config = load_config(project)
    assert config.container.runtime == "docker"
    assert config.path == project / "xcargo.toml"


def test_loaded_settings_are_frozen(project: Path) -> None:
    container = load_toml(project, DESIGN_EXAMPLE).container
    with pytest.raises(ValueError, match="frozen"):
        container.runtime = "docker"  # type: ignore[misc]


# --- Accepted values and forms


@pytest.mark.parametrize("runtime", ["auto", "docker", "podman", "none"])
def test_every_runtime_is_accepted(project: Path, runtime: str) -> None:
    assert load_toml(project, f'[container]\nruntime = "{runtime}"\n').container.runtime == runtime


def test_dotted_cache_key_and_cache_table_mean_the_same(project: Path) -> None:
    dotted = load_toml(project, "[container]\ncache.enabled = false\n")
    table = load_toml(project, "[container.cache]\nenabled = false\n")
    assert dotted.container.cache == table.container.cache == CacheConfig(enabled=False)


def test_inline_container_table_is_accepted(project: Path) -> None:
    config = load_toml(project, 'container = { runtime = "docker", cache = { enabled = false } }\n')
    assert config.container.runtime == "docker"
    assert config.container.cache.enabled is False


def test_target_container_as_dotted_key_under_the_target(project: Path) -> None:
    config = load_toml(project, f'[targets."{AARCH64}"]\ncontainer.image = "debian:bookworm"\n')
    assert config.for_target(AARCH64).image == parse_image_reference("debian:bookworm")


def test_integer_and_boolean_build_args_become_strings(project: Path) -> None:
    config = load_toml(
        project,
        f"""
        [targets."{AARCH64}".container]
        build_args = {{ JOBS = 8, STATIC = true, DEBUG = false, NAME = "x" }}
        """,
    )
    assert config.for_target(AARCH64).build_args == {
        "JOBS": "8",
        "STATIC": "true",
        "DEBUG": "false",
        "NAME": "x",
    }


def test_context_dot_is_the_project_directory(project: Path) -> None:
    config = load_toml(project, f'[targets."{AARCH64}".container]\ncontext = "."\n')
    assert config.for_target(AARCH64).context == project


def test_absolute_dockerfile_inside_the_project_is_accepted(project: Path) -> None:
    dockerfile = project / "Dockerfile"
    config = load_toml(project, f'[targets."{AARCH64}".container]\ndockerfile = "{dockerfile}"\n')
    assert config.for_target(AARCH64).dockerfile == dockerfile


def test_symlink_that_stays_inside_the_project_is_accepted(project: Path) -> None:
    (project / "docker").mkdir()
    (project / "link").symlink_to(project / "docker")
    config = load_toml(
        project,
        f'[targets."{AARCH64}".container]\ndockerfile = "link/Dockerfile"\n',
    )
    assert config.for_target(AARCH64).dockerfile == project / "docker" / "Dockerfile"


def test_cache_path_relative_to_the_project_but_outside_it(project: Path) -> None:
    config = load_toml(project, '[container.cache]\nregistry_path = "../cargo-cache"\n')
    assert config.container.cache.registry_path == project.parent / "cargo-cache"


def test_absolute_cache_path_is_kept(project: Path, tmp_path: Path) -> None:
    config = load_toml(project, f'[container.cache]\ngit_path = "{tmp_path / "git"}"\n')
    assert config.container.cache.git_path == tmp_path.resolve() / "git"


def test_image_registry_may_list_hosts_with_ports(project: Path) -> None:
    config = load_toml(project, '[container]\nimage_registry = ["localhost:5000", "quay.io"]\n')
    assert config.container.image_registry == ("localhost:5000", "quay.io")


def test_utf8_byte_order_mark_is_accepted(project: Path) -> None:
    (project / "xcargo.toml").write_bytes(b'\xef\xbb\xbf[container]\nruntime = "docker"\n')
    assert load_config(project).container.runtime == "docker"


# --- Type and range errors: file, line, key and a human message


def test_string_for_a_boolean(project: Path) -> None:
    err = toml_error(project, '[container]\nruntime = "docker"\ncache.enabled = "yes"\n')
    assert (err.file, err.line, err.key) == ("xcargo.toml", 3, "container.cache.enabled")
    assert (
        err.message == "xcargo.toml:3: container.cache.enabled: expected true or false, got 'yes'"
    )


def test_number_for_a_boolean(project: Path) -> None:
    err = toml_error(project, "[container.podman_machine]\nauto_start = 1\n")
    assert err.key == "container.podman_machine.auto_start"
    assert "expected true or false, got 1" in err.message


def test_string_for_a_number(project: Path) -> None:
    err = toml_error(project, '[container.podman_machine]\nmemory = "4096"\n')
    assert (err.line, err.key) == (2, "container.podman_machine.memory")
    assert "expected a whole number, got '4096'" in err.message


def test_float_for_a_number(project: Path) -> None:
    err = toml_error(project, "[container.podman_machine]\ncpus = 2.5\n")
    assert "expected a whole number, got 2.5" in err.message


def test_boolean_for_a_number(project: Path) -> None:
    err = toml_error(project, "[container.podman_machine]\ncpus = true\n")
    assert "expected a whole number, got true" in err.message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("cpus", 0, "must be at least 1, got 0"),
        ("cpus", 257, "must be at most 256, got 257"),
        ("memory", 511, "must be at least 512, got 511"),
        ("memory", 1_048_577, "must be at most 1048576, got 1048577"),
        ("disk_size", 4, "must be at least 5, got 4"),
        ("disk_size", 10_001, "must be at most 10000, got 10001"),
        ("cpus", -1, "must be at least 1, got -1"),
    ],
)
def test_out_of_range_machine_sizes(project: Path, key: str, value: int, expected: str) -> None:
    err = toml_error(project, f"[container.podman_machine]\n{key} = {value}\n")
    assert (err.line, err.key) == (2, f"container.podman_machine.{key}")
    assert expected in err.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "must be at least 1, got 0"),
        ("3651", "must be at most 3650, got 3651"),
        ('"2w"', "expected a whole number, got '2w'"),
    ],
)
def test_target_unused_days_out_of_range_or_not_a_number(
    project: Path, value: str, expected: str
) -> None:
    err = toml_error(project, f"[container.cache]\ntarget_unused_days = {value}\n")
    assert (err.line, err.key) == (2, "container.cache.target_unused_days")
    assert expected in err.message


def test_target_unused_days_defaults_to_two_weeks(project: Path) -> None:
    assert load_toml(project, "").container.cache.target_unused_days == 14
    assert (
        load_toml(
            project, "[container.cache]\ntarget_unused_days = 1\n"
        ).container.cache.target_unused_days
        == 1
    )


@pytest.mark.parametrize(("key", "value"), [("cpus", 256), ("memory", 512), ("disk_size", 5)])
def test_machine_size_limits_are_inclusive(project: Path, key: str, value: int) -> None:
    machine = load_toml(project, f"[container.podman_machine]\n{key} = {value}\n")
    assert getattr(machine.container.podman_machine, key) == value


def test_unknown_runtime_lists_the_choices(project: Path) -> None:
    err = toml_error(project, '[container]\nruntime = "dockr"\n')
    assert (err.line, err.key) == (2, "container.runtime")
    assert "expected 'auto', 'docker', 'podman' or 'none', got 'dockr'" in err.message


def test_runtime_is_case_sensitive(project: Path) -> None:
    assert toml_error(project, '[container]\nruntime = "Docker"\n').key == "container.runtime"


def test_an_unknown_smoke_policy_names_the_three_and_the_line(project: Path) -> None:
    text = '[targets."aarch64-unknown-linux-gnu".container]\nsmoke = "always"\n'
    err = toml_error(project, text)
    assert (err.line, err.key) == (2, "targets.aarch64-unknown-linux-gnu.container.smoke")
    assert "expected 'require', 'report' or 'off', got 'always'" in err.message


def test_non_string_use_when(project: Path) -> None:
    err = toml_error(project, "[container]\nuse_when = 5\n")
    assert "expected a string, got 5" in err.message


def test_container_that_is_not_a_table(project: Path) -> None:
    err = toml_error(project, 'container = "docker"\n')
    assert (err.line, err.key) == (1, "container")
    assert "expected a table, got 'docker'" in err.message


def test_targets_that_is_not_a_table(project: Path) -> None:
    err = toml_error(project, "targets = [1, 2]\n")
    assert "expected a table, got an array" in err.message


def test_target_that_is_not_a_table(project: Path) -> None:
    err = toml_error(project, f'[targets]\n"{AARCH64}" = "debian"\n')
    assert (err.line, err.key) == (2, f"targets.{AARCH64}")


def test_image_registry_that_is_not_an_array(project: Path) -> None:
    err = toml_error(project, '[container]\nimage_registry = "ghcr.io"\n')
    assert "expected an array, got 'ghcr.io'" in err.message


def test_date_value_is_described_in_words(project: Path) -> None:
    err = toml_error(project, "[container.cache]\nenabled = 2024-01-01\n")
    assert "got a date or time" in err.message


def test_long_string_value_is_cut_in_the_message(project: Path) -> None:
    err = toml_error(project, f'[container.cache]\nenabled = "{"y" * 5000}"\n')
    assert len(err.message) < 200


def test_several_problems_are_all_listed_first_one_in_the_file_first(project: Path) -> None:
    err = toml_error(
        project,
        """\
        [container.podman_machine]
        memory = 1

        [container]
        runtime = "bogus"
        """,
    )
    assert (err.line, err.key) == (2, "container.podman_machine.memory")
    assert "xcargo.toml:5: container.runtime: expected" in err.message


def test_config_error_is_a_usage_error_with_exit_code_two(project: Path) -> None:
    assert toml_error(project, "[container]\nruntime = 1\n").exit_code == 2


# --- Registry host lists


def test_bad_registry_host_is_located_by_index(project: Path) -> None:
    err = toml_error(project, '[container]\nimage_registry = ["ghcr.io", "https://evil.example"]\n')
    assert (err.line, err.key) == (2, "container.image_registry[1]")
    assert "invalid registry host 'https://evil.example'" in err.message


def test_registry_host_with_a_path_is_refused(project: Path) -> None:
    err = toml_error(project, '[container]\nimage_registry = ["ghcr.io/owner"]\n')
    assert err.key == "container.image_registry[0]"


def test_registry_host_with_a_bad_port_is_refused(project: Path) -> None:
    assert "port" in toml_error(project, '[container]\nimage_registry = ["ghcr.io:0"]\n').message


def test_non_string_registry_host_is_refused(project: Path) -> None:
    assert (
        "expected a string, got 5"
        in toml_error(
            project,
            "[container]\nimage_registry = [5]\n",
        ).message
    )


def test_duplicate_registry_hosts_are_refused(project: Path) -> None:
    err = toml_error(project, '[container]\nimage_registry = ["ghcr.io", "GHCR.io"]\n')
    assert err.key == "container.image_registry"
    assert "listed more than once" in err.message


def test_multi_line_array_error_points_at_its_first_line(project: Path) -> None:
    err = toml_error(
        project,
        """\
        [container]
        image_registry = [
            "ghcr.io",
            "bad host",
        ]
        """,
    )
    assert (err.line, err.key) == (2, "container.image_registry[1]")


# --- Target triples


def test_unknown_triple_is_located_and_gets_a_suggestion(project: Path) -> None:
    err = toml_error(project, '[container]\n\n[targets."aarch64-unknown-linux-gnux".container]\n')
    assert (err.line, err.key) == (3, "targets.aarch64-unknown-linux-gnux")
    assert "unknown target 'aarch64-unknown-linux-gnux'" in err.message
    assert err.hint == "did you mean aarch64-unknown-linux-gnu?"


@pytest.mark.parametrize(
    ("triple", "key"),
    [
        ("x86_64-unknown-linux-gnu; rm -rf /", 'targets."x86_64-unknown-linux-gnu; rm -rf /"'),
        ("$(reboot)", 'targets."$(reboot)"'),
        ("../../etc", 'targets."../../etc"'),
        ("X86_64-unknown-linux-gnu", "targets.X86_64-unknown-linux-gnu"),
        ("x86_64-unknown-linux-gnu\\n", 'targets."x86_64-unknown-linux-gnu\\n"'),
        ("", 'targets.""'),
    ],
)
def test_hostile_triples_are_refused_with_a_safe_key(project: Path, triple: str, key: str) -> None:
    err = toml_error(project, f'[targets."{triple}".container]\nimage = "debian"\n')
    assert (err.line, err.key) == (1, key)
    assert "\n" not in err.message.splitlines()[0]


def test_triple_in_an_inline_targets_table_is_checked(project: Path) -> None:
    err = toml_error(project, '[targets]\n"nope-nope" = { container = {} }\n')
    assert (err.line, err.key) == (2, "targets.nope-nope")


def test_dotted_arch_triple_is_accepted_and_quoted_in_keys(project: Path) -> None:
    config = load_toml(project, '[targets."thumbv8m.main-none-eabi".container]\nimage = "debian"\n')
    assert "thumbv8m.main-none-eabi" in config.targets


# --- Images


@pytest.mark.parametrize(
    "image",
    [
        "debian;rm -rf /",
        "$(curl evil.example)",
        "https://ghcr.io/owner/image",
        "ghcr.io/../etc/passwd",
        "Debian",
        "debian@",
        "debian:latest\\nmalicious",
        "",
    ],
)
def test_hostile_images_are_refused_at_their_line(project: Path, image: str) -> None:
    err = toml_error(project, f'[targets."{AARCH64}".container]\n\nimage = "{image}"\n')
    assert (err.line, err.key) == (3, f"targets.{AARCH64}.container.image")
    assert "invalid image reference" in err.message
    assert "debian:bookworm" in (err.hint or "")


def test_image_that_is_not_a_string(project: Path) -> None:
    err = toml_error(project, f'[targets."{AARCH64}".container]\nimage = {{ name = "debian" }}\n')
    assert "expected a string, got a table" in err.message


# --- Build arguments


@pytest.mark.parametrize("name", ["1X", "A-B", "A B", "A;B", "", "A=B", "É"])
def test_bad_build_arg_names_are_refused(project: Path, name: str) -> None:
    err = toml_error(
        project,
        f'[targets."{AARCH64}".container]\nbuild_args = {{ "{name}" = "1" }}\n',
    )
    assert err.line == 2
    assert err.key is not None and err.key.startswith(f"targets.{AARCH64}.container.build_args.")
    assert "is not a valid build argument name" in err.message


def test_float_build_arg_suggests_quoting(project: Path) -> None:
    err = toml_error(project, f'[targets."{AARCH64}".container]\nbuild_args = {{ RUST = 1.75 }}\n')
    assert err.key == f"targets.{AARCH64}.container.build_args.RUST"
    assert "expected a string, integer or boolean, got 1.75" in err.message
    assert '"1.75"' in (err.hint or "")


@pytest.mark.parametrize(("value", "shown"), [("{ A = 1 }", "a table"), ("[1, 2]", "an array")])
def test_nested_build_arg_values_are_refused(project: Path, value: str, shown: str) -> None:
    err = toml_error(project, f'[targets."{AARCH64}".container]\nbuild_args = {{ X = {value} }}\n')
    assert f"got {shown}" in err.message


def test_build_args_that_are_not_a_table(project: Path) -> None:
    err = toml_error(project, f'[targets."{AARCH64}".container]\nbuild_args = ["A=1"]\n')
    assert "expected a table, got an array" in err.message


def test_build_arg_with_nul_is_refused(project: Path) -> None:
    err = toml_error(
        project,
        f'[targets."{AARCH64}".container]\nbuild_args = {{ A = "x\\u0000" }}\n',
    )
    assert "NUL" in err.message


def test_build_args_in_a_sub_table(project: Path) -> None:
    config = load_toml(project, f'[targets."{AARCH64}".container.build_args]\nA = "1"\nB = 2\n')
    assert config.for_target(AARCH64).build_args == {"A": "1", "B": "2"}


# --- Dockerfile and context must stay in the project


@pytest.mark.parametrize("key", ["dockerfile", "context"])
@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "..", "~/Dockerfile", "/"])
def test_paths_leaving_the_project_are_refused(project: Path, key: str, path: str) -> None:
    err = toml_error(project, f'[targets."{AARCH64}".container]\n{key} = "{path}"\n')
    assert (err.line, err.key) == (2, f"targets.{AARCH64}.container.{key}")
    assert "outside the project directory" in err.message


def test_sibling_directory_with_the_same_prefix_is_outside(project: Path) -> None:
    sibling = project.parent / (project.name + "-evil")
    err = toml_error(
        project,
        f'[targets."{AARCH64}".container]\ndockerfile = "{sibling}/Dockerfile"\n',
    )
    assert "outside the project directory" in err.message


def test_symlink_escaping_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / "docker").symlink_to(outside)
    err = toml_error(
        project,
        f'[targets."{AARCH64}".container]\ndockerfile = "docker/Dockerfile"\n',
    )
    assert "outside the project directory" in err.message


def test_path_with_a_control_character_is_refused(project: Path) -> None:
    err = toml_error(project, f'[targets."{AARCH64}".container]\ndockerfile = "a\\nb"\n')
    assert "control character" in err.message


def test_path_of_an_unknown_user_is_refused(project: Path) -> None:
    err = toml_error(project, f'[targets."{AARCH64}".container]\ncontext = "~no-such-user-x/ctx"\n')
    assert "cannot be resolved" in err.message


def test_empty_path_is_refused(project: Path) -> None:
    err = toml_error(project, f'[targets."{AARCH64}".container]\ncontext = ""\n')
    assert "empty" in err.message


def test_non_string_path_is_refused(project: Path) -> None:
    err = toml_error(project, f'[targets."{AARCH64}".container]\ncontext = 1\n')
    assert "expected a path string, got 1" in err.message


# --- Cache directories must stay out of the sources


@pytest.mark.parametrize("key", ["registry_path", "git_path"])
@pytest.mark.parametrize("path", [".", "./", "target/registry", "src/../cache"])
def test_cache_inside_the_project_is_refused(project: Path, key: str, path: str) -> None:
    err = toml_error(project, f'[container.cache]\n{key} = "{path}"\n')
    assert (err.line, err.key) == (2, f"container.cache.{key}")
    assert "inside the project directory" in err.message


def test_absolute_cache_path_into_the_project_is_refused(project: Path) -> None:
    err = toml_error(project, f'[container.cache]\nregistry_path = "{project}/cache"\n')
    assert "inside the project directory" in err.message


def test_cache_symlink_into_the_project_is_refused(project: Path, tmp_path: Path) -> None:
    (tmp_path / "cache-link").symlink_to(project)
    err = toml_error(project, f'[container.cache]\ngit_path = "{tmp_path / "cache-link"}"\n')
    assert "inside the project directory" in err.message


@pytest.mark.parametrize("path", ["/", "/../..", "//"])
def test_cache_at_the_filesystem_root_is_refused(project: Path, path: str) -> None:
    err = toml_error(project, f'[container]\ncache.registry_path = "{path}"\n')
    assert (err.line, err.key) == (2, "container.cache.registry_path")
    assert "filesystem root" in err.message


def test_cache_in_the_home_directory_is_accepted(project: Path, home: Path) -> None:
    config = load_toml(project, '[container.cache]\nregistry_path = "~"\n')
    assert config.container.cache.registry_path == home.resolve()


# --- Unknown keys are warnings, not errors


def test_misspelt_key_is_a_warning_with_a_suggestion(project: Path) -> None:
    config = load_toml(project, "[container]\nruntime = 'docker'\ncache.enable = false\n")
    assert config.warnings == (
        ConfigNotice(
            "xcargo.toml",
            3,
            "container.cache.enable",
            "unknown key (did you mean 'enabled'?), ignored",
        ),
    )


def test_misspelt_key_does_not_change_the_setting(project: Path) -> None:
    config = load_toml(project, "[container.cache]\nenable = false\n")
    assert config.container.cache.enabled is True


def test_unknown_key_value_is_not_validated(project: Path) -> None:
    config = load_toml(project, '[container.podman_machine]\ncpu = "lots"\n')
    assert config.warnings[0].message == "unknown key (did you mean 'cpus'?), ignored"


def test_unknown_key_without_a_close_match_lists_the_known_keys(project: Path) -> None:
    config = load_toml(project, "[container.cache]\nzzz = 1\n")
    assert config.warnings[0].message == (
        "unknown key, ignored (known keys: enabled, compiler_cache, target_unused_days, "
        "registry_path, git_path)"
    )


def test_misspelt_target_container_key(project: Path) -> None:
    config = load_toml(project, f'[targets."{AARCH64}".container]\nimagee = "debian"\n')
    warning = config.warnings[0]
    assert (warning.line, warning.key) == (2, f"targets.{AARCH64}.container.imagee")
    assert "did you mean 'image'?" in warning.message


@pytest.mark.parametrize("table", ["build", "toolchains", "profile"])
def test_other_xcargo_tables_are_ignored_with_a_warning(project: Path, table: str) -> None:
    config = load_toml(project, f'[container]\nruntime = "docker"\n\n[{table}]\nanything = 1\n')
    assert [str(warning) for warning in config.warnings] == [
        f"xcargo.toml:4: {table}: not used by xcargo-web, ignored"
    ]


def test_array_of_tables_elsewhere_is_ignored_gracefully(project: Path) -> None:
    config = load_toml(project, '[[toolchains]]\nname = "a"\n[[toolchains]]\nname = "b"\n')
    assert [(w.line, w.key) for w in config.warnings] == [(1, "toolchains")]
    assert config.container == ContainerConfig()


def test_keys_after_an_array_of_tables_are_located_again_after_the_next_header(
    project: Path,
) -> None:
    err = toml_error(project, '[[toolchains]]\nruntime = "x"\n[container]\nruntime = "x"\n')
    assert (err.line, err.key) == (4, "container.runtime")


def test_misspelt_top_level_table_gets_a_suggestion(project: Path) -> None:
    config = load_toml(project, '[contaner]\nruntime = "docker"\n')
    assert config.warnings[0].message == "unknown key (did you mean 'container'?), ignored"
    assert config.container.runtime == "auto"


def test_other_keys_in_a_target_table_are_ignored_with_a_warning(project: Path) -> None:
    config = load_toml(
        project,
        f"""\
        [targets."{AARCH64}"]
        linker = "aarch64-linux-gnu-gcc"

        [targets."{AARCH64}".container]
        image = "debian"
        """,
    )
    assert [str(warning) for warning in config.warnings] == [
        f"xcargo.toml:2: targets.{AARCH64}.linker: not used by xcargo-web, ignored"
    ]
    assert config.for_target(AARCH64).image is not None


def test_warnings_come_in_file_order(project: Path) -> None:
    config = load_toml(
        project,
        "zzz = 1\n[container]\nruntim = 'docker'\n[container.cache]\nx = 1\n",
    )
    assert [warning.line for warning in config.warnings] == [1, 3, 5]


def test_unknown_key_with_hostile_name_is_quoted(project: Path) -> None:
    config = load_toml(project, '[container]\n"bad\\nkey" = 1\n')
    assert config.warnings[0].key == 'container."bad\\nkey"'


def test_unknown_keys_and_errors_together_raise_the_error(project: Path) -> None:
    err = toml_error(project, '[container]\nruntim = "docker"\nruntime = "nope"\n')
    assert (err.line, err.key) == (3, "container.runtime")


def test_notice_text_has_file_line_key_and_message() -> None:
    notice = ConfigNotice("xcargo.toml", 7, "container.use_when", "not yet")
    assert str(notice) == "xcargo.toml:7: container.use_when: not yet"


def test_notice_without_a_line() -> None:
    assert str(ConfigNotice("xcargo.toml", None, "a.b", "m")) == "xcargo.toml: a.b: m"


# --- Accepted but not supported yet


def test_no_unsupported_notices_when_only_supported_keys_are_set(project: Path) -> None:
    config = load_toml(
        project,
        f"""\
        [container]
        runtime = "podman"
        cache.enabled = false
        [targets."{AARCH64}".container]
        image = "debian"
        """,
    )
    assert config.unsupported == ()


def test_use_when_is_supported_so_has_no_notice(project: Path) -> None:
    assert load_toml(project, '[container]\nuse_when = "true"\n').unsupported == ()


def test_image_registry_is_supported_and_says_nothing(project: Path) -> None:
    assert load_toml(project, '[container]\nimage_registry = ["ghcr.io"]\n').unsupported == ()


def test_podman_machine_is_supported_so_has_no_notice(project: Path) -> None:
    assert load_toml(project, "[container]\n\npodman_machine.cpus = 8\n").unsupported == ()


def test_podman_machine_name(project: Path) -> None:
    config = load_toml(project, '[container.podman_machine]\nname = "xcargo"\n')
    assert config.container.podman_machine.name == "xcargo"


@pytest.mark.parametrize("name", ['"-x"', '"a b"', '"x;rm"', f'"{"a" * 31}"', "3", '""'])
def test_podman_machine_name_refused(project: Path, name: str) -> None:
    err = toml_error(project, f"[container.podman_machine]\nname = {name}\n")
    assert (err.line, err.key) == (2, "container.podman_machine.name")


def test_custom_dockerfile_keys_are_supported_so_have_no_notice(project: Path) -> None:
    (project / "Dockerfile").write_text("FROM scratch\n")
    config = load_toml(
        project,
        f"""\
        [targets."{AARCH64}".container]
        dockerfile = "Dockerfile"
        context = "."
        build_args = {{ A = "1" }}
        """,
    )
    assert config.unsupported == ()


def test_values_of_unsupported_keys_are_still_checked(project: Path) -> None:
    err = toml_error(project, "[container.podman_machine]\ncpus = 1000\n")
    assert err.key == "container.podman_machine.cpus"


# --- TOML syntax, encoding and size


def test_syntax_error_names_file_and_line(project: Path) -> None:
    err = toml_error(project, '[container]\nruntime = "docker"\ncache.enabled = yes\n')
    assert (err.file, err.line, err.key) == ("xcargo.toml", 3, None)
    assert err.message.startswith("xcargo.toml:3: invalid TOML: ")
    assert "(column" in err.message
    assert "at line" not in err.message


def test_duplicate_key_is_a_syntax_error_at_its_line(project: Path) -> None:
    assert toml_error(project, '[container]\nruntime = "a"\nruntime = "b"\n').line == 3


def test_unterminated_array_at_end_of_file(project: Path) -> None:
    err = toml_error(project, '[container]\nimage_registry = ["ghcr.io",\n')
    assert err.line is not None and err.line >= 2
    assert err.message.startswith("xcargo.toml:")


@pytest.mark.parametrize("value", ["[" * 5000 + "]" * 5000, "{a=" * 5000 + "1" + "}" * 5000])
def test_deeply_nested_values_are_refused(project: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_toml(project, f"x = {value}\n")


def test_custom_file_name_appears_in_errors(project: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text("[container\n", file="other.toml", base_dir=project)
    assert caught.value.file == "other.toml"


def test_non_utf8_file_is_refused_with_its_line(project: Path) -> None:
    (project / "xcargo.toml").write_bytes(b'[container]\nuse_when = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8") as caught:
        load_config(project)
    assert caught.value.line == 2


def test_file_over_one_mebibyte_is_refused(project: Path) -> None:
    (project / "xcargo.toml").write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than"):
        load_config(project)


def test_file_of_exactly_one_mebibyte_is_read(project: Path) -> None:
    (project / "xcargo.toml").write_bytes(b"#" * MAX_CONFIG_BYTES)
    assert load_config(project).container == ContainerConfig()


def test_text_over_one_mebibyte_is_refused(project: Path) -> None:
    with pytest.raises(ConfigError, match="larger than"):
        load_toml(project, "# " + "é" * MAX_CONFIG_BYTES)


def test_directory_named_xcargo_toml_is_refused(project: Path) -> None:
    (project / "xcargo.toml").mkdir()
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(project)


def test_xcargo_toml_symlinked_outside_the_project_is_refused(
    project: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.toml"
    secret.write_text("password = 'x'\n")
    (project / "xcargo.toml").symlink_to(secret)
    with pytest.raises(ConfigError, match="outside the project"):
        load_config(project)


def test_dangling_xcargo_toml_symlink_is_an_error_not_defaults(project: Path) -> None:
    (project / "xcargo.toml").symlink_to(project / "missing.toml")
    with pytest.raises(ConfigError):
        load_config(project)


# --- Building settings in code


def test_target_settings_accept_a_parsed_image() -> None:
    image = parse_image_reference("debian:bookworm")
    assert TargetContainerConfig(image=image).image is image


def test_target_settings_parse_an_image_string() -> None:
    assert TargetContainerConfig(image="debian").image == parse_image_reference("debian")  # type: ignore[arg-type]


def test_target_settings_refuse_a_hostile_image_string() -> None:
    with pytest.raises(ValueError, match="invalid image reference"):
        TargetContainerConfig(image="debian;id")  # type: ignore[arg-type]
