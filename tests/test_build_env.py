"""The build's environment: xcargo.toml's `env` tables, names passed through from where xcargo
runs, and secrets masked in whatever the build prints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtimes.build_env import MASK, BuildEnvironment, check_env_name, resolve_environment
from runtimes.config import load_config_text
from runtimes.errors import ConfigError, UsageError

AARCH64 = "aarch64-unknown-linux-gnu"


def load(text: str):
    return load_config_text(text, base_dir=Path("."))


def test_a_targets_env_adds_to_the_projects_and_wins():
    config = load(
        f"""
[container.env]
passthrough = ["CI", "MODE=fast"]
values = {{ GREETING = "hello", LEVEL = 3, LOUD = true }}

[targets."{AARCH64}".container.env]
passthrough = ["TOKEN"]
values = {{ GREETING = "hi" }}
"""
    )

    env = config.env_for(AARCH64)

    assert env.passthrough == ("CI", "MODE=fast", "TOKEN")
    assert env.values == {"GREETING": "hi", "LEVEL": "3", "LOUD": "true"}
    assert config.env_for("riscv64gc-unknown-linux-gnu").values["GREETING"] == "hello"


def test_names_xcargo_sets_and_malformed_ones_are_refused_with_their_line():
    with pytest.raises(ConfigError) as refused:
        load(
            """
[container.env]
passthrough = ["CARGO_TARGET_DIR", 7]
values = { "1ABC" = "x", HOME = "/root", OK = [1] }
"""
        )

    message = str(refused.value)
    assert message.startswith("xcargo.toml:3: container.env.passthrough[0]: CARGO_TARGET_DIR is ")
    assert "xcargo.toml:3: container.env.passthrough[1]: expected a variable name, got 7" in message
    assert "'1ABC' is not a valid environment variable name" in message
    assert "container.env.values.HOME: HOME is set by xcargo" in message
    assert "container.env.values.OK: expected a string, integer or boolean, got an array" in message


@pytest.mark.parametrize("name", ["cargo_home", "CARGO_BUILD_TARGET_DIR", "A-B", "", "X\nY"])
def test_check_env_name_refuses(name):
    with pytest.raises(UsageError):
        check_env_name(name)


def test_passthrough_takes_values_from_where_xcargo_runs_and_fixed_values_win():
    environment = resolve_environment(
        ["FROM_HOST", "ABSENT", "MODE=fast", "GREETING"],
        {"GREETING": "fixed"},
        available={"FROM_HOST": "here", "GREETING": "from host", "OTHER": "never"},
    )

    assert environment.values == {"FROM_HOST": "here", "MODE": "fast", "GREETING": "fixed"}
    assert environment.missing == ("ABSENT",)
    assert environment.describe() == [
        "environment: FROM_HOST, GREETING, MODE",
        "environment: ABSENT is to be passed through but is not set: not set",
    ]


def test_secrets_win_and_are_masked_in_any_line_that_prints_them():
    environment = resolve_environment(
        [],
        {"TOKEN": "plain"},
        available={},
        secrets={"TOKEN": "s3cr3t-value", "KEY": "line-one-long\nline-two-long"},
    )
    mask = environment.masker()

    assert environment.values["TOKEN"] == "s3cr3t-value"
    assert mask("warning: TOKEN=s3cr3t-value; again s3cr3t-value") == (
        f"warning: TOKEN={MASK}; again {MASK}"
    )
    assert mask("key: line-two-long") == f"key: {MASK}"
    assert environment.describe() == ["environment: KEY (secret), TOKEN (secret)"]


def test_no_secrets_leave_lines_as_they_are():
    assert BuildEnvironment({"A": "1"}).masker()("A=1") == "A=1"
