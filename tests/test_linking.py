"""The glibc floor a build links at: who chose it, and the architectures that cannot go as low
as the default (found by linking the fixture crate with zig).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtimes.config import XcargoConfig
from runtimes.config.loading import load_config_text
from runtimes.errors import UsageError
from runtimes.glibc import DEFAULT_FLOOR, GlibcVersion
from runtimes.linking import choose_floor

PPC64LE = "powerpc64le-unknown-linux-gnu"


def test_the_default_floor_applies_where_the_architecture_links_that_low():
    floor = choose_floor("aarch64-unknown-linux-gnu", XcargoConfig())

    assert floor.version == DEFAULT_FLOOR
    assert floor.where.startswith("the default")


def test_the_default_is_raised_to_the_lowest_glibc_powerpc64le_links_at_and_says_why():
    floor = choose_floor(PPC64LE, XcargoConfig())

    assert floor.version == GlibcVersion((2, 32))
    assert f"raised for {PPC64LE}: glibc 2.32 is the first with the IEEE 128-bit" in floor.where


def test_a_server_default_above_the_architectures_lowest_is_kept():
    floor = choose_floor(
        PPC64LE, XcargoConfig(), default=GlibcVersion((2, 36)), default_by="the server's floor"
    )

    assert floor.version == GlibcVersion((2, 36))
    assert floor.where == "the server's floor"


def test_a_named_floor_below_the_architectures_lowest_is_refused_with_the_reason():
    with pytest.raises(UsageError) as refused:
        choose_floor(PPC64LE, XcargoConfig(), named=GlibcVersion((2, 28)))

    assert refused.value.message.startswith(
        "glibc floor 2.28 (the target's suffix) is below 2.32, the lowest "
        f"{PPC64LE} can be linked at: glibc 2.32 is the first"
    )
    assert refused.value.hint == "ask for 2.32 or higher, or leave the floor to the default"


def test_a_floor_in_xcargo_toml_below_riscv64s_first_glibc_is_refused(tmp_path: Path):
    config = load_config_text(
        '[targets."riscv64gc-unknown-linux-gnu".container]\nglibc = "2.24"\n', base_dir=tmp_path
    )

    with pytest.raises(UsageError, match=r"glibc floor 2\.24 \(xcargo\.toml: .*\) is below 2\.27"):
        choose_floor("riscv64gc-unknown-linux-gnu", config)


def test_targets_that_link_no_glibc_have_no_floor():
    assert choose_floor("wasm32-wasip1", XcargoConfig()) is None
