"""Toolchain recipes: which targets xcargo can bootstrap, from which Dockerfile, and when again."""

from __future__ import annotations

import tomllib

import pytest

from runtimes.bootstrap import recipe_hash
from runtimes.errors import UsageError
from runtimes.toolchains import (
    BUILD_STD,
    GNU,
    NEWEST_CHANNEL,
    RECIPES,
    STD_CRATES,
    TOOLCHAINS,
    UNAVAILABLE,
    WASM,
    check_builds_for,
    dockerfile_text,
    newest_for,
    offered_toolchains,
    recipe_for,
    toolchain_for,
    toolchains_for,
)

X86_64 = "x86_64-unknown-linux-gnu"
AARCH64 = "aarch64-unknown-linux-gnu"
ARMV7 = "armv7-unknown-linux-gnueabihf"
WASI = "wasm32-wasip1"
WASM_UNKNOWN = "wasm32-unknown-unknown"

# --- recipe_for


def test_recipe_for_a_known_triple_names_debians_architecture_and_gnu_triple():
    recipe = recipe_for(AARCH64)
    assert recipe.rust_target == AARCH64
    assert recipe.debian_arch == "arm64"
    assert recipe.gnu_triple == "aarch64-linux-gnu"


@pytest.mark.parametrize(
    ("triple", "debian_arch"),
    [
        (X86_64, "amd64"),
        (AARCH64, "arm64"),
        (ARMV7, "armhf"),
        ("armv5te-unknown-linux-gnueabi", "armel"),
        ("riscv64gc-unknown-linux-gnu", "riscv64"),
        ("i686-unknown-linux-gnu", "i386"),
        ("powerpc64le-unknown-linux-gnu", "ppc64el"),
        ("s390x-unknown-linux-gnu", "s390x"),
    ],
)
def test_each_bootstrappable_linux_target_has_its_debian_architecture(triple, debian_arch):
    assert recipe_for(triple).debian_arch == debian_arch
    assert recipe_for(triple).family == GNU


@pytest.mark.parametrize("triple", [WASM_UNKNOWN, WASI])
def test_webassembly_targets_share_one_recipe_on_the_toolchains_with_a_wasm_std(triple):
    recipe = recipe_for(triple)
    assert (recipe.family, recipe.dockerfile_for("amd64")) == (WASM, "wasm.Dockerfile")
    assert recipe.build_args("amd64", TOOLCHAINS["1.98"]) == {
        "STD_PACKAGE": "libstd-rust-dev-wasm32",
        "SUITE": "trixie-backports",
    }
    assert toolchains_for(triple) == ("1.85", "1.98"), "rustc-web has no wasm32 std"
    with pytest.raises(UsageError, match=r"no rustc 1\.96 standard library"):
        check_builds_for(TOOLCHAINS["1.96"], triple)


def test_the_newest_toolchain_of_each_target_is_the_newest_debian_serves_its_std_for():
    assert newest_for(AARCH64) == newest_for(X86_64) == newest_for(WASI) == "1.98"
    assert newest_for(ARMV7) == newest_for("riscv64gc-unknown-linux-gnu") == "1.96"
    assert newest_for("armv5te-unknown-linux-gnueabi") == "1.85", "no 1.96 armel std served"


def test_recipe_for_an_unknown_triple_is_refused_listing_the_bootstrappable_targets():
    with pytest.raises(UsageError, match="sparc64-unknown-linux-gnu") as refused:
        recipe_for("sparc64-unknown-linux-gnu")
    hint = refused.value.hint or ""
    for triple in RECIPES:
        assert triple in hint
    assert "--container-image" in hint


def test_a_target_that_cannot_be_had_here_is_refused_with_its_reason():
    reason = "built for armv5te-unknown-linux-gnueabi"
    assert reason in UNAVAILABLE["arm-unknown-linux-gnueabi"]
    with pytest.raises(UsageError, match=reason):
        recipe_for("arm-unknown-linux-gnueabi")


# --- targets whose standard library each build compiles (-Zbuild-std)

MUSL = ("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl")
WINDOWS = "x86_64-pc-windows-gnu"


@pytest.mark.parametrize("triple", [*MUSL, WINDOWS])
def test_musl_and_windows_compile_std_from_source_on_the_toolchain_that_has_it(triple):
    recipe = recipe_for(triple)
    assert (recipe.family, recipe.dockerfile_for("amd64")) == (BUILD_STD, "build-std.Dockerfile")
    assert recipe.image_labels() == {"build_std": STD_CRATES}
    assert toolchains_for(triple) == ("1.98",), "only trixie-backports' rust-src matches its rustc"
    assert newest_for(triple) == "1.98"
    with pytest.raises(UsageError, match=r"no rustc 1\.85 standard library"):
        check_builds_for(TOOLCHAINS["1.85"], triple)


@pytest.mark.parametrize("triple", MUSL)
def test_a_musl_target_links_with_zigs_own_musl_not_rustcs_self_contained_copy(triple):
    assert recipe_for(triple).build_args("amd64", TOOLCHAINS["1.98"]) == {
        "CARGO_CONFIG": f'[target.{triple}]\nrustflags = ["-C", "link-self-contained=no"]',
        "PACKAGES": "",
        "RUST_TARGET": triple,
    }


def test_windows_links_with_mingw_w64_for_the_linker_and_for_c_dependencies():
    args = recipe_for(WINDOWS).build_args("amd64", TOOLCHAINS["1.98"])
    assert args["PACKAGES"] == "gcc-mingw-w64-x86-64-posix"
    config = tomllib.loads(args["CARGO_CONFIG"])
    assert config["target"][WINDOWS] == {"linker": "x86_64-w64-mingw32-gcc"}
    assert config["env"] == {"CC_x86_64_pc_windows_gnu": "x86_64-w64-mingw32-gcc"}


def test_targets_with_a_prebuilt_std_say_nothing_of_build_std():
    assert recipe_for(AARCH64).image_labels() == recipe_for(WASI).image_labels() == {}


# --- native or cross, per engine architecture


@pytest.mark.parametrize(
    ("engine_arch", "triple", "dockerfile"),
    [
        ("amd64", X86_64, "native.Dockerfile"),
        ("amd64", AARCH64, "cross.Dockerfile"),
        ("amd64", ARMV7, "cross.Dockerfile"),
        ("arm64", AARCH64, "native.Dockerfile"),
        ("arm64", X86_64, "cross.Dockerfile"),
        ("arm64", ARMV7, "cross.Dockerfile"),
    ],
)
def test_a_target_of_the_engines_architecture_is_native_every_other_is_cross(
    engine_arch, triple, dockerfile
):
    assert recipe_for(triple).dockerfile_for(engine_arch) == dockerfile


def test_a_native_target_needs_no_build_arguments():
    assert recipe_for(X86_64).build_args("amd64", TOOLCHAINS["1.98"]) == {}
    assert recipe_for(AARCH64).build_args("arm64", TOOLCHAINS["1.98"]) == {}


def test_a_cross_target_carries_its_architecture_linker_and_its_toolchains_std_and_suite():
    assert recipe_for(AARCH64).build_args("amd64", TOOLCHAINS["1.96"]) == {
        "DEB_ARCH": "arm64",
        "GCC_TRIPLE": "aarch64-linux-gnu",
        "RUST_TARGET": AARCH64,
        "STD_PACKAGE": "libstd-rust-web-dev",
        "SUITE": "trixie",
    }


def test_x86_64_is_cross_on_an_arm64_engine():
    assert recipe_for(X86_64).build_args("arm64", TOOLCHAINS["1.98"]) == {
        "DEB_ARCH": "amd64",
        "GCC_TRIPLE": "x86_64-linux-gnu",
        "RUST_TARGET": X86_64,
        "STD_PACKAGE": "libstd-rust-dev",
        "SUITE": "trixie-backports",
    }


# --- the toolchains Debian offers


def test_debian_offers_trixies_rustc_its_rustc_web_and_the_backports_rustc():
    assert {channel: toolchain.compiler_packages for channel, toolchain in TOOLCHAINS.items()} == {
        "1.85": ("rustc", "cargo"),
        "1.96": ("rustc-web", "cargo-web"),
        "1.98": ("rustc", "cargo"),
    }
    assert TOOLCHAINS["1.98"].suite == "trixie-backports"
    assert NEWEST_CHANNEL == "1.98"


@pytest.mark.parametrize("written", ["1.96", "1.96.0", "1.96.7"])
def test_a_toolchain_is_named_by_its_channel_with_or_without_a_patch(written):
    assert toolchain_for(written).channel == "1.96"


@pytest.mark.parametrize("written", ["1.70", "2.0", "nightly", "", "1.96; rm -rf /", "\uff11.96"])
def test_a_toolchain_debian_does_not_offer_is_refused_naming_the_ones_it_does(written):
    with pytest.raises(UsageError) as refused:
        toolchain_for(written)
    assert "1.85" in f"{refused.value.message} {refused.value.hint}"


def test_a_server_offers_every_toolchain_unless_xcargo_toolchains_lists_some():
    assert offered_toolchains(None) == ("1.85", "1.96", "1.98")
    assert offered_toolchains(" ") == ("1.85", "1.96", "1.98")
    assert offered_toolchains("1.98, 1.85.1,1.98") == ("1.98", "1.85")
    with pytest.raises(UsageError, match=r"1\.70"):
        offered_toolchains("1.98,1.70")


# --- the shipped Dockerfiles


@pytest.mark.parametrize(
    "name",
    [
        "base.Dockerfile",
        "rustc.Dockerfile",
        "native.Dockerfile",
        "cross.Dockerfile",
        "wasm.Dockerfile",
        "smoke.Dockerfile",
    ],
)
def test_each_shipped_dockerfile_opens_with_comments_and_builds_on_base_image(name):
    text = dockerfile_text(name)
    assert text.startswith("# ")
    assert "FROM ${BASE_IMAGE}" in text


@pytest.mark.parametrize(("triple", "dockerfile"), [(AARCH64, "cross"), (WASI, "wasm")])
def test_each_target_dockerfile_uses_every_build_argument_of_its_recipe(triple, dockerfile):
    text = dockerfile_text(f"{dockerfile}.Dockerfile")
    for argument in recipe_for(triple).build_args("amd64", TOOLCHAINS["1.85"]):
        lines = [line.split()[1:] for line in text.splitlines() if line.startswith("ARG ")]
        declared = {name for names in lines for name in names}
        assert argument in declared


def test_dockerfile_text_of_a_file_not_shipped_fails():
    with pytest.raises(FileNotFoundError):
        dockerfile_text("missing.Dockerfile")


# --- recipe_hash


DOCKERFILE = dockerfile_text("cross.Dockerfile")
ARGS = {"BASE_IMAGE": "localhost/xcargo/toolchain-base:trixie", "DEB_ARCH": "arm64"}
PARENTS = {"localhost/xcargo/toolchain-base:trixie": "sha256:" + "1" * 64}


def test_recipe_hash_is_stable():
    assert recipe_hash(DOCKERFILE, ARGS, PARENTS) == recipe_hash(DOCKERFILE, ARGS, PARENTS)


def test_recipe_hash_does_not_depend_on_argument_order():
    reordered = dict(reversed(list(ARGS.items())))
    assert recipe_hash(DOCKERFILE, reordered, PARENTS) == recipe_hash(DOCKERFILE, ARGS, PARENTS)


def test_recipe_hash_is_a_sha256_hex_digest():
    assert len(recipe_hash(DOCKERFILE, ARGS, PARENTS)) == 64


def test_recipe_hash_changes_when_the_dockerfile_changes():
    edited = DOCKERFILE + "RUN true\n"
    assert recipe_hash(edited, ARGS, PARENTS) != recipe_hash(DOCKERFILE, ARGS, PARENTS)


def test_recipe_hash_changes_when_an_argument_changes():
    changed = {**ARGS, "DEB_ARCH": "armhf"}
    assert recipe_hash(DOCKERFILE, changed, PARENTS) != recipe_hash(DOCKERFILE, ARGS, PARENTS)


def test_recipe_hash_changes_when_an_argument_is_added():
    added = {**ARGS, "RUST_TARGET": AARCH64}
    assert recipe_hash(DOCKERFILE, added, PARENTS) != recipe_hash(DOCKERFILE, ARGS, PARENTS)


def test_recipe_hash_changes_when_the_parent_image_id_changes():
    rebuilt_parent = {"localhost/xcargo/toolchain-base:trixie": "sha256:" + "2" * 64}
    assert recipe_hash(DOCKERFILE, ARGS, rebuilt_parent) != recipe_hash(DOCKERFILE, ARGS, PARENTS)


def test_pkg_config_looks_in_the_target_architectures_directory_only_when_cross_compiling():
    aarch64 = RECIPES["aarch64-unknown-linux-gnu"].pkg_config_environment("amd64")
    i686 = RECIPES["i686-unknown-linux-gnu"].pkg_config_environment("amd64")

    assert aarch64 == {
        "PKG_CONFIG_ALLOW_CROSS_aarch64_unknown_linux_gnu": "1",
        "PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu": (
            "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig"
        ),
    }
    assert i686["PKG_CONFIG_LIBDIR_i686_unknown_linux_gnu"].startswith("/usr/lib/i386-linux-gnu/")
    assert RECIPES["x86_64-unknown-linux-gnu"].pkg_config_environment("amd64") == {}
    assert RECIPES["wasm32-wasip1"].pkg_config_environment("amd64") == {}
