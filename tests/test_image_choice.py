"""Which image a build uses, decided once: what was chosen, where it came from and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtimes import naming
from runtimes.config import load_config
from runtimes.errors import UsageError
from runtimes.images import choice as image_choice
from runtimes.toolchain_choice import ToolchainChoice

AARCH64 = "aarch64-unknown-linux-gnu"
TOOLCHAIN = ToolchainChoice("1.96", "rust-toolchain.toml: channel 1.96")


def _chosen() -> ToolchainChoice:
    return TOOLCHAIN


def _never_asked() -> ToolchainChoice:
    raise AssertionError("a named image has its own rustc: no toolchain is chosen for it")


def _no_images(_reference: str) -> None:
    return None


def _config(tmp_path: Path, text: str = ""):
    (tmp_path / "xcargo.toml").write_text(text)
    return load_config(tmp_path)


def test_nothing_named_gives_the_image_of_the_chosen_toolchain_which_xcargo_may_make(tmp_path):
    choice = image_choice.choose_image(
        AARCH64, _config(tmp_path), toolchain=_chosen, project_root=tmp_path, image_ids=_no_images
    )

    assert choice.reference == naming.toolchain_image(AARCH64, "1.96")
    assert choice.source == image_choice.TOOLCHAIN and choice.makeable
    assert AARCH64 in choice.reason and "1.96" in choice.reason
    assert choice.toolchain == TOOLCHAIN


def test_xcargo_toml_names_the_image_of_a_target(tmp_path):
    config = _config(tmp_path, f'[targets."{AARCH64}".container]\nimage = "debian:bookworm"\n')

    choice = image_choice.choose_image(
        AARCH64, config, toolchain=_never_asked, project_root=tmp_path, image_ids=_no_images
    )

    assert choice.reference == "docker.io/library/debian:bookworm"
    assert choice.source == image_choice.CONFIG and not choice.makeable
    assert "xcargo.toml" in choice.reason


def test_an_image_named_with_the_build_wins_and_says_how_it_was_named(tmp_path):
    config = _config(tmp_path, f'[targets."{AARCH64}".container]\nimage = "debian:bookworm"\n')

    choice = image_choice.choose_image(
        AARCH64,
        config,
        toolchain=_never_asked,
        project_root=tmp_path,
        image_ids=_no_images,
        named="localhost/mine:1",
        named_by="--container-image",
    )

    assert (choice.reference, choice.source) == ("localhost/mine:1", image_choice.NAMED)
    assert choice.reason == "named by --container-image" and not choice.makeable


def test_a_dockerfile_in_xcargo_toml_makes_a_custom_image_named_by_its_content(tmp_path):
    (tmp_path / "Dockerfile.cross").write_text("FROM scratch\n")
    config = _config(
        tmp_path, f'[targets."{AARCH64}".container]\ndockerfile = "Dockerfile.cross"\n'
    )

    choice = image_choice.choose_image(
        AARCH64, config, toolchain=_never_asked, project_root=tmp_path, image_ids=_no_images
    )

    assert choice.source == image_choice.DOCKERFILE and not choice.makeable
    assert choice.reference.startswith(naming.CUSTOM_REPOSITORY + ":")
    assert choice.reason == f'made from xcargo.toml: [targets."{AARCH64}".container] dockerfile'
    assert choice.custom.dockerfile.dockerfile == tmp_path / "Dockerfile.cross"


def test_xcargo_dockerfile_in_the_project_root_serves_every_target(tmp_path):
    (tmp_path / "xcargo.dockerfile").write_text("FROM scratch\n")

    choice = image_choice.choose_image(
        AARCH64,
        _config(tmp_path),
        toolchain=_never_asked,
        project_root=tmp_path,
        image_ids=_no_images,
    )

    assert choice.source == image_choice.DOCKERFILE
    assert choice.reason == "made from xcargo.dockerfile in the project root"


def test_the_image_in_xcargo_toml_wins_over_xcargo_dockerfile(tmp_path):
    (tmp_path / "xcargo.dockerfile").write_text("FROM scratch\n")
    config = _config(tmp_path, f'[targets."{AARCH64}".container]\nimage = "debian:bookworm"\n')

    choice = image_choice.choose_image(
        AARCH64, config, toolchain=_never_asked, project_root=tmp_path, image_ids=_no_images
    )

    assert choice.source == image_choice.CONFIG


def test_a_dockerfile_named_with_the_build_wins_over_the_configured_image(tmp_path):
    (tmp_path / "ci.Dockerfile").write_text("FROM scratch\n")
    config = _config(tmp_path, f'[targets."{AARCH64}".container]\nimage = "debian:bookworm"\n')

    choice = image_choice.choose_image(
        AARCH64,
        config,
        toolchain=_never_asked,
        project_root=tmp_path,
        image_ids=_no_images,
        dockerfile="ci.Dockerfile",
    )

    assert choice.source == image_choice.DOCKERFILE
    assert choice.reason == "made from --dockerfile ci.Dockerfile"


def _custom_reference(project: Path, **extra) -> str:
    """The name of the custom image the project's xcargo.dockerfile makes for aarch64."""
    return image_choice.choose_image(
        AARCH64,
        _config(project),
        toolchain=_never_asked,
        project_root=project,
        image_ids=_no_images,
        **extra,
    ).reference


def test_the_same_dockerfile_and_context_give_the_same_image_and_any_change_another(tmp_path):
    (tmp_path / "xcargo.dockerfile").write_text("FROM scratch\nCOPY tool /tool\n")
    (tmp_path / "tool").write_text("v1")

    first = _custom_reference(tmp_path)
    assert _custom_reference(tmp_path) == first
    assert _custom_reference(tmp_path, build_args={"A": "1"}) != first
    (tmp_path / "tool").write_text("v2")
    assert _custom_reference(tmp_path) != first


def test_files_dockerignore_leaves_out_do_not_change_the_image(tmp_path):
    (tmp_path / "xcargo.dockerfile").write_text("FROM scratch\n")
    (tmp_path / ".dockerignore").write_text("target/\n")
    (tmp_path / "target").mkdir()

    first = _custom_reference(tmp_path)
    (tmp_path / "target" / "big.bin").write_bytes(b"x" * 1000)
    assert _custom_reference(tmp_path) == first


@pytest.mark.parametrize("named", ["../outside.Dockerfile", "/etc/passwd", "link.Dockerfile"])
def test_a_dockerfile_outside_the_project_is_refused(tmp_path, named):
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "outside.Dockerfile").write_text("FROM scratch\n")
    (project / "link.Dockerfile").symlink_to(tmp_path / "outside.Dockerfile")

    with pytest.raises(UsageError, match="is outside the project"):
        image_choice.choose_image(
            AARCH64,
            _config(project),
            toolchain=_never_asked,
            project_root=project,
            image_ids=_no_images,
            dockerfile=named,
        )


def test_a_missing_dockerfile_is_named(tmp_path):
    with pytest.raises(UsageError, match=r"nope\.Dockerfile is not a file"):
        image_choice.choose_image(
            AARCH64,
            _config(tmp_path),
            toolchain=_never_asked,
            project_root=tmp_path,
            image_ids=_no_images,
            dockerfile="nope.Dockerfile",
        )
