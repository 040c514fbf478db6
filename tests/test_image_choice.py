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


def _config(tmp_path: Path, text: str = ""):
    (tmp_path / "xcargo.toml").write_text(text)
    return load_config(tmp_path)


def test_nothing_named_gives_the_image_of_the_chosen_toolchain_which_xcargo_may_make(tmp_path):
    choice = image_choice.choose_image(AARCH64, _config(tmp_path), toolchain=_chosen)

    assert choice.reference == naming.toolchain_image(AARCH64, "1.96")
    assert choice.source == image_choice.TOOLCHAIN and choice.makeable
    assert AARCH64 in choice.reason and "1.96" in choice.reason
    assert choice.toolchain == TOOLCHAIN


def test_xcargo_toml_names_the_image_of_a_target(tmp_path):
    config = _config(tmp_path, f'[targets."{AARCH64}".container]\nimage = "debian:bookworm"\n')

    choice = image_choice.choose_image(AARCH64, config, toolchain=_never_asked)

    assert choice.reference == "docker.io/library/debian:bookworm"
    assert choice.source == image_choice.CONFIG and not choice.makeable
    assert "xcargo.toml" in choice.reason


def test_an_image_named_with_the_build_wins_and_says_how_it_was_named(tmp_path):
    config = _config(tmp_path, f'[targets."{AARCH64}".container]\nimage = "debian:bookworm"\n')

    choice = image_choice.choose_image(
        AARCH64,
        config,
        toolchain=_never_asked,
        named="localhost/mine:1",
        named_by="--container-image",
    )

    assert (choice.reference, choice.source) == ("localhost/mine:1", image_choice.NAMED)
    assert choice.reason == "named by --container-image" and not choice.makeable


def test_a_custom_dockerfile_is_refused_until_it_is_supported(tmp_path):
    (tmp_path / "Dockerfile.cross").write_text("FROM scratch\n")
    config = _config(
        tmp_path, f'[targets."{AARCH64}".container]\ndockerfile = "Dockerfile.cross"\n'
    )

    with pytest.raises(UsageError, match="custom Dockerfiles are not supported yet"):
        image_choice.choose_image(AARCH64, config, toolchain=_chosen)
