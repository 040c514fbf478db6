"""Cargo's own arguments after `xcargo build --target T`: passed through as typed, except those
that would break the sandbox or the caches, refused with what to do instead.
"""

from __future__ import annotations

import pytest

from runtimes.cargo_args import check_cargo_args
from runtimes.errors import UsageError


@pytest.mark.parametrize(
    "arguments",
    [
        ["--features", "serde,cli", "--no-default-features"],
        ["--all-features", "-p", "member-a", "--bin", "tool"],
        ["--workspace", "--exclude", "member-b", "--lib", "--examples"],
        ["--example", "demo", "--profile", "fast", "-j", "2", "--jobs=2"],
        ["--features=a b", "-v", "--config", "profile.release.lto=true"],
        ["--config=env.GREETING='hi'", "--timings", "--keep-going"],
    ],
)
def test_cargos_own_arguments_pass_as_typed(arguments):
    assert check_cargo_args(arguments) == tuple(arguments)


def test_what_xcargo_implies_already_is_dropped_not_given_twice():
    assert check_cargo_args(["--locked", "--features", "x", "--offline", "--frozen"]) == (
        "--features",
        "x",
    )


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--target-dir", "/tmp/t"], "cargo's --target-dir is not passed through"),
        (["--target-dir=../t"], "cargo's --target-dir is not passed through"),
        (["--target", "x86_64-unknown-linux-gnu"], "the target is xcargo's own --target"),
        (["--artifact-dir", "out"], "cargo's --artifact-dir"),
        (["--out-dir=out"], "cargo's --out-dir"),
        (["--manifest-path", "../other/Cargo.toml"], "it must stay inside the project"),
        (["--message-format", "short"], "xcargo reads cargo's JSON messages"),
        (["-C", "/etc"], "mounted read-only"),
        (["-C/etc"], "mounted read-only"),
        (["--config", "build.target-dir='/tmp'"], "would move the build's caches"),
        (["--config=target-dir=x"], "would move the build's caches"),
        (["--config", "paths=['/home/me/crate']"], "would move the build's caches"),
        (["--config", "/home/me/.cargo/other.toml"], "a config file is not passed through"),
        (["--config"], "--config needs a value"),
    ],
)
def test_arguments_that_would_break_the_sandbox_or_the_caches_are_refused(arguments, said):
    with pytest.raises(UsageError) as refused:
        check_cargo_args(arguments)
    assert said in refused.value.message
    assert refused.value.hint
