"""Which toolchain a build uses, decided before any container starts: the build's own, then
xcargo.toml, then rust-toolchain.toml, then the server's default, else the newest available;
and a `rust-version` no available toolchain meets is refused with what to do.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runtimes.config import load_config
from runtimes.errors import UsageError
from runtimes.project import RustRequirement, locate_project, rust_requirements
from runtimes.rust_versions import RustVersion
from runtimes.toolchain_choice import choose_toolchain
from tests.support import AARCH64

ALL = ("1.85", "1.96", "1.98")


def crate(directory: Path, *, rust_version: str | None = None, files: dict[str, str] = {}):  # noqa: B006
    requirement = f'rust-version = "{rust_version}"\n' if rust_version else ""
    (directory / "Cargo.toml").write_text(
        f'[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n{requirement}'
    )
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(textwrap.dedent(text))
    return locate_project(directory)


def choose(directory: Path, available=ALL, **named):
    return choose_toolchain(
        locate_project(directory), load_config(directory), AARCH64, available=available, **named
    )


# --- the order


def test_nothing_named_gives_the_newest_available(tmp_path):
    crate(tmp_path)
    choice = choose(tmp_path)
    assert choice.channel == "1.98"
    assert "newest available" in choice.reason


def test_the_builds_own_toolchain_wins_over_everything(tmp_path):
    crate(tmp_path, files={"xcargo.toml": '[container]\ntoolchain = "1.98"\n'})
    choice = choose(tmp_path, named="1.85", named_by="--toolchain")
    assert (choice.channel, choice.reason) == ("1.85", "named by --toolchain")


def test_a_targets_toolchain_in_xcargo_toml_wins_over_the_projects(tmp_path):
    toml = f'[container]\ntoolchain = "1.98"\n[targets."{AARCH64}".container]\ntoolchain = "1.96"\n'
    crate(tmp_path, files={"xcargo.toml": toml})
    choice = choose(tmp_path)
    assert choice.channel == "1.96"
    assert f'[targets."{AARCH64}".container] toolchain' in choice.reason


def test_xcargo_toml_wins_over_rust_toolchain_toml(tmp_path):
    crate(
        tmp_path,
        files={
            "xcargo.toml": '[container]\ntoolchain = "1.85"\n',
            "rust-toolchain.toml": '[toolchain]\nchannel = "1.96"\n',
        },
    )
    assert choose(tmp_path).channel == "1.85"


def test_rust_toolchain_toml_picks_when_nothing_else_does(tmp_path):
    crate(tmp_path, files={"rust-toolchain.toml": '[toolchain]\nchannel = "1.85.1"\n'})
    choice = choose(tmp_path)
    assert choice.channel == "1.85"
    assert choice.reason == "rust-toolchain.toml: channel 1.85.1"


def test_the_old_one_line_rust_toolchain_file_picks_too(tmp_path):
    crate(tmp_path, files={"rust-toolchain": "1.96\n"})
    assert choose(tmp_path).channel == "1.96"


def test_stable_means_the_newest_available(tmp_path):
    crate(tmp_path, files={"rust-toolchain.toml": '[toolchain]\nchannel = "stable"\n'})
    choice = choose(tmp_path, available=("1.85", "1.96"))
    assert choice.channel == "1.96"
    assert "rust-toolchain.toml" in choice.reason


def test_the_servers_default_applies_only_when_the_project_names_none(tmp_path):
    crate(tmp_path)
    assert choose(tmp_path, default="1.96").channel == "1.96"
    crate(tmp_path, files={"rust-toolchain": "1.85\n"})
    assert choose(tmp_path, default="1.96").channel == "1.85"


# --- refusals, before cargo runs


def test_a_crate_whose_rust_version_no_available_toolchain_meets_is_refused_saying_what_to_do(
    tmp_path,
):
    crate(tmp_path, rust_version="1.96")
    with pytest.raises(UsageError) as refused:
        choose(tmp_path, available=("1.85",))
    message, hint = refused.value.message, refused.value.hint or ""
    assert "demo needs rustc 1.96 (its rust-version)" in message
    assert "1.85" in message
    assert "available here: 1.85" in hint
    assert f"xcargo images bootstrap --toolchain VERSION --target {AARCH64}" in hint


def test_a_named_toolchain_older_than_the_rust_version_is_refused_naming_one_that_meets_it(
    tmp_path,
):
    crate(tmp_path, rust_version="1.90", files={"xcargo.toml": '[container]\ntoolchain = "1.85"\n'})
    with pytest.raises(UsageError) as refused:
        choose(tmp_path)
    assert "toolchain 1.85 (xcargo.toml: [container] toolchain)" in refused.value.message
    assert "1.96, 1.98" in (refused.value.hint or "")


def test_a_toolchain_this_machine_does_not_offer_is_refused_with_how_to_add_it(tmp_path):
    crate(tmp_path)
    with pytest.raises(UsageError, match=r"toolchain 1\.96 .* is not available here") as refused:
        choose(tmp_path, available=("1.85", "1.98"), named="1.96")
    assert "--toolchain 1.96" in (refused.value.hint or "")


@pytest.mark.parametrize("channel", ["nightly", "beta", "nightly-2026-01-01", "1.96-x86_64"])
def test_a_channel_debian_does_not_ship_is_refused(tmp_path, channel):
    crate(tmp_path, files={"rust-toolchain.toml": f'[toolchain]\nchannel = "{channel}"\n'})
    with pytest.raises(UsageError, match="is not one xcargo can use") as refused:
        choose(tmp_path)
    assert "stable releases" in (refused.value.hint or "")


def test_a_rust_toolchain_toml_without_a_channel_is_refused(tmp_path):
    crate(tmp_path, files={"rust-toolchain.toml": '[toolchain]\ncomponents = ["rustfmt"]\n'})
    with pytest.raises(UsageError, match="names no channel"):
        choose(tmp_path)


def test_nothing_available_is_refused_with_how_to_make_one(tmp_path):
    crate(tmp_path)
    with pytest.raises(UsageError, match="no Rust toolchain is available"):
        choose(tmp_path, available=())


# --- the rust-version of the workspace


def test_rust_requirements_read_the_root_package_and_the_members_and_inheritance(tmp_path):
    (tmp_path / "Cargo.toml").write_text(
        '[workspace]\nmembers = ["crates/*"]\n[workspace.package]\nrust-version = "1.90"\n'
    )
    for name, line in (("a", "rust-version.workspace = true"), ("b", 'rust-version = "1.96.1"')):
        (tmp_path / "crates" / name).mkdir(parents=True)
        (tmp_path / "crates" / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\n{line}\n'
        )
    assert rust_requirements(locate_project(tmp_path)) == [
        RustRequirement("a", RustVersion(1, 90)),
        RustRequirement("b", RustVersion(1, 96, 1)),
    ]


@pytest.mark.parametrize("bad", ["1", "one.two", "1.96.0.1", "^1.80"])
def test_a_malformed_rust_version_is_refused_naming_the_manifest(tmp_path, bad):
    project = crate(tmp_path, rust_version=bad)
    with pytest.raises(UsageError, match=r"Cargo\.toml: rust-version"):
        rust_requirements(project)
