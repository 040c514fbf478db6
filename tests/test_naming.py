"""Names and labels of what xcargo creates on an engine: safe, deterministic and distinct."""

from __future__ import annotations

import re

import pytest

from runtimes import naming
from tests.support import AARCH64

# What Docker (and Podman) accept as a volume or container name.
ENGINE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
XCARGO_NAME = re.compile(r"^xcargo-[a-z0-9_.-]+$")

IMAGE_A = "sha256:" + "a1" * 32
IMAGE_B = "sha256:" + "b2" * 32
HOSTILE_NAMES = [
    "../../x",
    "a b;rm -rf /",
    "Ünïcödé-crate",
    "日本語",
    "$(touch /tmp/pwned)",
    "-.-",
    "",
    "x" * 500,
]


# --- slug


def test_slug_lower_cases():
    assert naming.slug("Hello-Cross") == "hello-cross"


def test_slug_keeps_characters_every_engine_accepts():
    assert naming.slug("serde_json-1.0.3") == "serde_json-1.0.3"


def test_slug_replaces_each_run_of_unsafe_characters_with_one_dash():
    assert naming.slug("a b;;c/d") == "a-b-c-d"


def test_slug_replaces_non_ascii_letters():
    assert re.fullmatch(r"[a-z0-9_.-]+", naming.slug("crème-brûlée"))


@pytest.mark.parametrize("text", ["", "---", "...", "/", "日本語", " ; "])
def test_slug_is_never_empty(text):
    assert naming.slug(text) == "x"


def test_slug_is_bounded_by_default():
    assert len(naming.slug("a" * 500)) == 40


def test_slug_honours_a_given_limit():
    assert naming.slug("abcdefghij", limit=4) == "abcd"


@pytest.mark.parametrize("text", ["-lead", ".lead", "trail-", "trail.", "--.both.--", "/x/"])
def test_slug_has_no_leading_or_trailing_dash_or_dot(text):
    result = naming.slug(text)
    assert result[0] not in "-."
    assert result[-1] not in "-."


def test_slug_does_not_end_in_a_dash_after_truncation():
    assert naming.slug("abc-def", limit=4) == "abc"


# --- project_key


def test_project_key_is_stable_for_the_same_path():
    assert naming.project_key("hello", "/src/hello") == naming.project_key("hello", "/src/hello")


def test_project_key_differs_for_the_same_name_at_two_paths():
    assert naming.project_key("hello", "/src/a/hello") != naming.project_key(
        "hello", "/src/b/hello"
    )


def test_project_key_starts_with_the_readable_name():
    assert naming.project_key("Hello-Cross", "/src/hello").startswith("hello-cross-")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_project_key_of_a_hostile_name_is_safe(name):
    key = naming.project_key(name, "/src/project")
    assert re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", key)
    assert "/" not in key
    assert ".." not in key.split("-")
    assert len(key) <= 30 + 1 + 8


# --- image_key and toolchain_key


def test_image_key_drops_the_digest_algorithm_and_keeps_twelve_hex_digits():
    assert naming.image_key("sha256:0123456789abcdef0123") == "0123456789ab"


def test_image_key_accepts_an_id_without_algorithm():
    assert naming.image_key("0123456789abcdef") == "0123456789ab"


def test_toolchain_key_uses_the_rustc_version_when_known():
    assert naming.toolchain_key("1.85.1", IMAGE_A) == "rustc-1.85.1"


def test_toolchain_key_with_a_known_rustc_is_shared_across_images():
    assert naming.toolchain_key("1.85.1", IMAGE_A) == naming.toolchain_key("1.85.1", IMAGE_B)


@pytest.mark.parametrize("unknown", [None, ""])
def test_toolchain_key_falls_back_to_the_image_when_rustc_is_unknown(unknown):
    assert naming.toolchain_key(unknown, IMAGE_A) == f"image-{naming.image_key(IMAGE_A)}"


def test_toolchain_key_slugs_an_odd_rustc_version():
    assert naming.toolchain_key("1.86.0-Nightly (abc 2025)", IMAGE_A) == (
        "rustc-1.86.0-nightly-abc-2025"
    )


# --- volumes


def test_cargo_home_volume_is_named_after_the_toolchain():
    assert naming.cargo_home_volume("rustc-1.85.1") == "xcargo-cargo-home-rustc-1.85.1"


def _target(project="hello-1234abcd", triple="aarch64-unknown-linux-gnu", image=IMAGE_A):
    return naming.target_volume(project, triple, image)


def test_target_volume_differs_per_project():
    assert _target(project="hello-1234abcd") != _target(project="hello-5678abcd")


def test_target_volume_differs_per_triple():
    assert _target(triple="aarch64-unknown-linux-gnu") != _target(triple="x86_64-unknown-linux-gnu")


def test_target_volume_differs_per_image_id():
    assert _target(image=IMAGE_A) != _target(image=IMAGE_B)


def test_target_volume_is_deterministic():
    assert _target() == _target()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("triple", ["aarch64-unknown-linux-gnu", "thumbv8m.main-none-eabihf"])
def test_target_volume_is_an_xcargo_name_of_safe_characters(name, triple):
    volume = naming.target_volume(naming.project_key(name, "/src/p"), triple, IMAGE_A)
    assert XCARGO_NAME.fullmatch(volume)
    assert len(volume) <= 255


def test_target_volume_of_an_absurdly_long_triple_stays_short():
    volume = naming.target_volume(naming.project_key("x" * 300, "/p"), "t" * 300, IMAGE_A)
    assert len(volume) <= 255


# --- build containers


def test_build_container_differs_per_phase():
    fetch = naming.build_container("hello-1234abcd", "aarch64-unknown-linux-gnu", "fetch")
    build = naming.build_container("hello-1234abcd", "aarch64-unknown-linux-gnu", "build")
    assert fetch != build
    assert fetch.endswith("-fetch")
    assert build.endswith("-build")


def test_build_container_differs_per_project_and_triple():
    names = {
        naming.build_container(project, triple, "build")
        for project in ("a-11111111", "b-22222222")
        for triple in ("aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu")
    }
    assert len(names) == 4


def test_build_container_is_an_xcargo_name():
    name = naming.build_container("hello-1234abcd", "Weird Triple/../x", "Build Phase")
    assert XCARGO_NAME.fullmatch(name)
    assert name.startswith("xcargo-build-")


# --- toolchain images


@pytest.mark.parametrize(
    "triple",
    ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "armv7-unknown-linux-gnueabihf"],
)
def test_toolchain_image_is_a_local_tag_per_triple_and_toolchain(triple):
    assert naming.toolchain_image(triple, "1.96") == f"localhost/xcargo/toolchain:{triple}-1.96"


def test_two_toolchains_of_one_target_are_two_images_on_one_rustc_layer_each():
    assert naming.toolchain_image(AARCH64, "1.85") != naming.toolchain_image(AARCH64, "1.98")
    assert naming.rustc_image("1.98") == "localhost/xcargo/rustc:1.98"


def test_toolchain_image_tag_fits_the_engine_limit_of_128_characters():
    tag = naming.toolchain_image("t" * 300, "1." + "9" * 300).split(":", 1)[1]
    assert len(tag) <= 128


# --- labels


def test_managed_labels_mark_the_object_as_xcargos_with_its_kind():
    assert naming.managed_labels(naming.KIND_TARGET) == {
        "io.xcargo.managed": "true",
        "io.xcargo.kind": "target",
    }


def test_managed_labels_put_extra_keys_under_the_prefix():
    labels = naming.managed_labels(naming.KIND_BUILD, target="aarch64-unknown-linux-gnu")
    assert labels["io.xcargo.target"] == "aarch64-unknown-linux-gnu"


def test_managed_labels_turn_underscores_in_extra_keys_into_dashes():
    labels = naming.managed_labels(naming.KIND_TARGET, project_key="hello-1234abcd")
    assert labels[naming.LABEL_PROJECT_KEY] == "hello-1234abcd"
    assert "io.xcargo.project_key" not in labels


# --- every name is one the engine accepts


def _every_name():
    project = naming.project_key("a b;rm -rf /", "/src/p")
    triple = "armv7-unknown-linux-gnueabihf"
    return [
        naming.cargo_home_volume(naming.toolchain_key("1.85.1", IMAGE_A)),
        naming.cargo_home_volume(naming.toolchain_key(None, IMAGE_A)),
        naming.target_volume(project, triple, IMAGE_A),
        naming.build_container(project, triple, "fetch"),
        naming.build_container(project, triple, "build"),
    ]


@pytest.mark.parametrize("name", _every_name())
def test_every_name_matches_the_engine_name_rule(name):
    assert ENGINE_NAME.fullmatch(name)
