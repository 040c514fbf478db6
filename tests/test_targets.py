"""Target triples: what `--target` and `[targets."<triple>"]` accept, and how refusals read."""

from __future__ import annotations

import pytest

from runtimes.errors import UsageError
from runtimes.targets import KNOWN_TARGETS, MAX_TRIPLE_LENGTH, Triple, validate_triple

# --- The known targets


@pytest.mark.parametrize(
    "triple",
    [
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "i686-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "aarch64-unknown-linux-musl",
        "armv7-unknown-linux-gnueabihf",
        "arm-unknown-linux-gnueabihf",
        "riscv64gc-unknown-linux-gnu",
        "powerpc64le-unknown-linux-gnu",
        "s390x-unknown-linux-gnu",
        "loongarch64-unknown-linux-gnu",
        "x86_64-pc-windows-gnu",
        "x86_64-pc-windows-msvc",
        "aarch64-apple-darwin",
        "x86_64-apple-darwin",
        "aarch64-linux-android",
        "wasm32-unknown-unknown",
        "wasm32-wasip1",
        "x86_64-unknown-freebsd",
        "x86_64-unknown-netbsd",
        "x86_64-unknown-illumos",
        "thumbv7em-none-eabihf",
        "thumbv8m.main-none-eabihf",
    ],
)
def test_common_targets_are_known(triple: str) -> None:
    assert triple in KNOWN_TARGETS


def test_known_targets_cover_tier_one_and_two() -> None:
    assert len(KNOWN_TARGETS) >= 80


def test_known_targets_is_immutable() -> None:
    assert isinstance(KNOWN_TARGETS, frozenset)


def test_tier_three_targets_are_not_known() -> None:
    assert "mipsisa64r6el-unknown-linux-gnuabi64" not in KNOWN_TARGETS


@pytest.mark.parametrize("triple", sorted(KNOWN_TARGETS))
def test_every_known_target_validates_and_round_trips(triple: str) -> None:
    assert str(validate_triple(triple)) == triple


# --- Splitting into parts


def test_four_part_triple_has_every_part() -> None:
    assert Triple.parse("armv7-unknown-linux-gnueabihf") == Triple(
        "armv7", "unknown", "linux", "gnueabihf"
    )


def test_three_part_triple_has_no_env() -> None:
    assert Triple.parse("aarch64-apple-darwin") == Triple("aarch64", "apple", "darwin", "")


def test_two_part_triple_has_arch_and_os_only() -> None:
    assert Triple.parse("wasm32-wasip1") == Triple("wasm32", "", "wasip1", "")


def test_android_names_have_no_vendor() -> None:
    assert Triple.parse("aarch64-linux-android") == Triple("aarch64", "", "linux", "android")


def test_bare_metal_names_have_no_vendor() -> None:
    assert Triple.parse("thumbv7em-none-eabihf") == Triple("thumbv7em", "", "none", "eabihf")


def test_wasi_threads_has_os_and_env() -> None:
    assert Triple.parse("wasm32-wasip1-threads") == Triple("wasm32", "", "wasip1", "threads")


def test_dotted_arch_is_one_part() -> None:
    assert Triple.parse("thumbv8m.main-none-eabi").arch == "thumbv8m.main"


@pytest.mark.parametrize(
    "triple", ["wasm32-wasip1", "aarch64-linux-android", "x86_64-unknown-linux-gnu"]
)
def test_str_gives_back_the_parsed_text(triple: str) -> None:
    assert str(Triple.parse(triple)) == triple


def test_triple_is_frozen() -> None:
    triple = Triple.parse("x86_64-unknown-linux-gnu")
    with pytest.raises(AttributeError):
        triple.arch = "aarch64"  # type: ignore[misc]


def test_parse_accepts_a_well_formed_custom_target() -> None:
    assert Triple.parse("x86_64-mycorp-linux-gnu").vendor == "mycorp"


def test_parse_still_refuses_malformed_text() -> None:
    with pytest.raises(UsageError):
        Triple.parse("x86_64;reboot")


# --- Malformed and hostile input


def test_empty_triple_is_refused() -> None:
    with pytest.raises(UsageError, match="empty target triple"):
        validate_triple("")


def test_too_long_triple_is_refused_without_echoing_it() -> None:
    text = "x86_64-unknown-linux-" + "g" * 100
    with pytest.raises(UsageError, match="too long") as caught:
        validate_triple(text)
    assert text not in caught.value.message


def test_triple_of_exactly_the_maximum_length_reaches_the_known_check() -> None:
    text = "a-" + "b" * (MAX_TRIPLE_LENGTH - 2)
    with pytest.raises(UsageError, match="unknown target"):
        validate_triple(text)


@pytest.mark.parametrize(
    "text",
    [
        "x86_64",
        "x86_64-unknown-linux-gnu-extra-part",
        "X86_64-unknown-linux-gnu",
        "x86_64-Unknown-linux-gnu",
        " x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-gnu ",
        "x86_64-unknown-linux-gnu\n",
        "x86_64-unknown-linux-gnu\x00",
        "x86_64-unknown linux-gnu",
        "x86_64--linux-gnu",
        "-x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-gnu-",
        "x86_64-unknown-linux-gnu;rm -rf /",
        "x86_64-unknown-linux-$(id)",
        "x86_64-unknown-linux-`id`",
        "x86_64-unknown-linux-gnu|sh",
        "x86_64-unknown-linux-gnu&&true",
        "x86_64-unknown-../etc",
        "x86_64-unknown-linux-..",
        "x86_64-unknown-linux.-gnu",
        "x86_64-unknown-linux/gnu",
        "../../x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-gnü",
        "x86_64-unknown-linux-gnu\t",
    ],
)
def test_malformed_triples_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="invalid target triple"):
        validate_triple(text)


def test_refusal_quotes_the_input_with_repr() -> None:
    with pytest.raises(UsageError) as caught:
        validate_triple("x86_64-unknown-linux-gnu\nrm")
    assert "'x86_64-unknown-linux-gnu\\nrm'" in caught.value.message
    assert "\n" not in caught.value.message


def test_refusal_hint_says_what_a_triple_looks_like() -> None:
    with pytest.raises(UsageError) as caught:
        validate_triple("not a triple")
    assert "x86_64-unknown-linux-gnu" in (caught.value.hint or "")


def test_refusal_is_a_usage_error_with_exit_code_two() -> None:
    with pytest.raises(UsageError) as caught:
        validate_triple("bad triple")
    assert caught.value.exit_code == 2


# --- Unknown but well-formed


def test_unknown_triple_names_the_input() -> None:
    with pytest.raises(UsageError, match="unknown target 'aarch64-unknown-linux-gnux'"):
        validate_triple("aarch64-unknown-linux-gnux")


def test_unknown_triple_suggests_the_closest_known_one() -> None:
    with pytest.raises(UsageError) as caught:
        validate_triple("aarch64-unknown-linux-gnux")
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("did you mean aarch64-unknown-linux-gnu")


def test_misspelt_vendor_gets_a_suggestion() -> None:
    with pytest.raises(UsageError) as caught:
        validate_triple("x86_64-unkown-linux-gnu")
    assert "x86_64-unknown-linux-gnu" in (caught.value.hint or "")


def test_triple_without_any_close_match_points_at_the_target_list() -> None:
    with pytest.raises(UsageError) as caught:
        validate_triple("zzz-qqq")
    assert "rustup target list" in (caught.value.hint or "")


def test_validate_returns_the_parsed_triple() -> None:
    assert validate_triple("x86_64-pc-windows-msvc") == Triple("x86_64", "pc", "windows", "msvc")
