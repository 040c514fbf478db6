"""Finding the Cargo project of a build the way cargo does, and what it needs to build."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runtimes.errors import UsageError
from runtimes.project import CargoProject, locate_project


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def package(directory: Path, name: str) -> Path:
    write(directory / "Cargo.toml", f'[package]\nname = "{name}"\nversion = "0.1.0"\n')
    write(directory / "src" / "main.rs", "fn main() {}\n")
    return directory


def virtual_workspace(directory: Path, *members: str) -> Path:
    listed = ", ".join(f'"{member}"' for member in members)
    write(directory / "Cargo.toml", f'[workspace]\nmembers = [{listed}]\nresolver = "2"\n')
    return directory


@pytest.fixture(autouse=True)
def _no_project_encloses_tmp_path(tmp_path):
    """These tests walk up from tmp_path as cargo does; a Cargo.toml above it would interfere."""
    if any((parent / "Cargo.toml").exists() for parent in tmp_path.resolve().parents):
        pytest.skip("a Cargo.toml exists above the temporary directory")


# --- the nearest Cargo.toml


def test_locate_project_from_a_nested_subdirectory_finds_the_nearest_cargo_toml(tmp_path):
    root = package(tmp_path / "hello", "hello-cross")
    nested = root / "src" / "bin" / "deep"
    nested.mkdir(parents=True)
    project = locate_project(nested)
    assert project.root == root.resolve()
    assert project.name == "hello-cross"


def test_locate_project_from_the_project_directory_itself(tmp_path):
    root = package(tmp_path / "hello", "hello-cross")
    assert locate_project(root).root == root.resolve()


def test_the_project_name_comes_from_the_package_not_the_directory(tmp_path):
    root = package(tmp_path / "checkout-2", "hello-cross")
    assert locate_project(root).name == "hello-cross"


# --- workspaces


def test_a_workspace_root_above_the_package_is_preferred(tmp_path):
    workspace = virtual_workspace(tmp_path / "monorepo", "crates/*")
    member = package(workspace / "crates" / "app", "app")
    project = locate_project(member / "src")
    assert project.root == workspace.resolve()


def test_a_virtual_workspace_is_named_after_its_directory(tmp_path):
    workspace = virtual_workspace(tmp_path / "monorepo", "crates/*")
    member = package(workspace / "crates" / "app", "app")
    assert locate_project(member).name == "monorepo"


def test_a_workspace_root_with_a_package_is_named_after_that_package(tmp_path):
    root = tmp_path / "tool"
    write(
        root / "Cargo.toml",
        """\
        [package]
        name = "tool-cli"
        version = "1.0.0"

        [workspace]
        members = ["crates/*"]
        """,
    )
    member = package(root / "crates" / "core", "tool-core")
    project = locate_project(member)
    assert project.root == root.resolve()
    assert project.name == "tool-cli"


def test_a_manifest_that_is_itself_a_workspace_root_is_not_promoted_further(tmp_path):
    outer = virtual_workspace(tmp_path / "outer", "other")
    inner = virtual_workspace(outer / "vendor" / "inner", "crates/*")
    package(inner / "crates" / "lib", "inner-lib")
    assert locate_project(inner).root == inner.resolve()


def test_the_nearest_of_two_enclosing_workspaces_is_the_root(tmp_path):
    outer = virtual_workspace(tmp_path / "outer", "other")
    inner = virtual_workspace(outer / "vendor" / "inner", "crates/*")
    member = package(inner / "crates" / "lib", "inner-lib")
    assert locate_project(member).root == inner.resolve()


def test_a_plain_package_above_is_not_a_workspace_root(tmp_path):
    outer = package(tmp_path / "outer", "outer")
    inner = package(outer / "examples" / "inner", "inner")
    assert locate_project(inner).root == inner.resolve()


# --- --manifest-path


def test_manifest_path_selects_the_project(tmp_path):
    root = package(tmp_path / "hello", "hello-cross")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert locate_project(elsewhere, root / "Cargo.toml").root == root.resolve()


def test_manifest_path_to_a_file_not_named_cargo_toml_is_refused(tmp_path):
    other = write(tmp_path / "hello" / "Other.toml", '[package]\nname = "x"\n')
    with pytest.raises(UsageError, match=r"not a Cargo\.toml file") as refused:
        locate_project(tmp_path, other)
    assert "--manifest-path" in (refused.value.hint or "")


def test_manifest_path_to_a_missing_file_is_refused(tmp_path):
    with pytest.raises(UsageError, match=r"not a Cargo\.toml file"):
        locate_project(tmp_path, tmp_path / "missing" / "Cargo.toml")


def test_manifest_path_to_a_directory_is_refused(tmp_path):
    (tmp_path / "Cargo.toml").mkdir()
    with pytest.raises(UsageError):
        locate_project(tmp_path, tmp_path / "Cargo.toml")


# --- refusals


def test_no_cargo_toml_anywhere_is_refused_with_a_hint(tmp_path):
    start = tmp_path / "not" / "a" / "project"
    start.mkdir(parents=True)
    with pytest.raises(UsageError, match=r"no Cargo\.toml") as refused:
        locate_project(start)
    assert refused.value.hint
    assert "--manifest-path" in refused.value.hint


def test_broken_toml_is_refused(tmp_path):
    write(tmp_path / "hello" / "Cargo.toml", '[package\nname = "hello"\n')
    with pytest.raises(UsageError, match="not valid TOML"):
        locate_project(tmp_path / "hello")


def test_broken_toml_in_an_enclosing_manifest_is_refused(tmp_path):
    write(tmp_path / "outer" / "Cargo.toml", "[workspace\n")
    member = package(tmp_path / "outer" / "app", "app")
    with pytest.raises(UsageError, match="not valid TOML"):
        locate_project(member)


# --- the project key


def test_two_copies_of_one_crate_have_different_keys(tmp_path):
    first = locate_project(package(tmp_path / "a" / "hello", "hello-cross"))
    second = locate_project(package(tmp_path / "b" / "hello", "hello-cross"))
    assert first.name == second.name
    assert first.key != second.key


def test_the_key_of_one_checkout_is_stable(tmp_path):
    root = package(tmp_path / "hello", "hello-cross")
    assert locate_project(root).key == locate_project(root / "src").key


def test_the_key_starts_with_the_project_name(tmp_path):
    root = package(tmp_path / "hello", "Hello_Cross")
    assert locate_project(root).key.startswith("hello_cross-")


# --- the lock file


def test_require_lockfile_returns_the_lock_file(tmp_path):
    root = package(tmp_path / "hello", "hello-cross")
    write(root / "Cargo.lock", "version = 4\n")
    assert locate_project(root).require_lockfile() == root.resolve() / "Cargo.lock"


def test_a_missing_lock_file_is_refused_with_a_hint_to_generate_it(tmp_path):
    project = CargoProject(root=tmp_path, name="hello-cross")
    with pytest.raises(UsageError, match=r"Cargo\.lock is missing") as refused:
        project.require_lockfile()
    assert "cargo generate-lockfile" in (refused.value.hint or "")
    assert str(tmp_path) in (refused.value.hint or "")


def test_the_workspace_lock_file_is_the_one_required(tmp_path):
    workspace = virtual_workspace(tmp_path / "monorepo", "crates/*")
    write(workspace / "Cargo.lock", "version = 4\n")
    member = package(workspace / "crates" / "app", "app")
    assert locate_project(member).require_lockfile() == workspace.resolve() / "Cargo.lock"
