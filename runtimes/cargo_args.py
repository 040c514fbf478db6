"""Cargo's own arguments, passed through to `cargo build` in the container as a user types them
after `xcargo build --target T` (features, packages, binaries, profile, jobs…), except those
that would break the sandbox or the caches, which are refused with what to do instead.

Cargo's arguments are not parsed here beyond what must be refused: whatever cargo accepts
reaches it, and cargo says what it does not.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtimes.errors import UsageError

# What xcargo runs cargo for: `xcargo build`, `check`, `test`, `bench`, `run`.
BUILD, CHECK, TEST, BENCH, RUN = "build", "check", "test", "bench", "run"
COMMANDS = (BUILD, CHECK, TEST, BENCH, RUN)
# Those whose programs run under emulation after cargo built them: the tests and benchmarks.
RUNS_TESTS = (TEST, BENCH)
# Those whose artifacts are copied out and smoke-run.
MAKES_ARTIFACTS = (BUILD, RUN)
# What a build on the server can be: a build, or a test run whose results its page shows.
SERVER_COMMANDS = (BUILD, TEST)

# Implied already: builds run with the network off on a fetched, locked Cargo.lock. Given again
# (a script written for cross), they are dropped rather than given to cargo twice.
IMPLIED = frozenset({"--offline", "--locked", "--frozen"})

# Each refused option (with or without `=value`), and why, with what to do instead.
_REFUSED = {
    "--target": "the target is xcargo's own --target, given before cargo's arguments",
    "--target-dir": "the target directory is the build's cache volume; xcargo copies the "
    "artifacts to target/<triple>/<profile>/",
    "--artifact-dir": "artifacts are copied to target/<triple>/<profile>/ by xcargo",
    "--out-dir": "artifacts are copied to target/<triple>/<profile>/ by xcargo",
    "--manifest-path": "give it to xcargo (before the cargo arguments): it must stay inside "
    "the project",
    "--message-format": "xcargo reads cargo's JSON messages to find the artifacts",
    "-C": "the directory is the project's, mounted read-only in the container",
}
# `--config KEY=VALUE` keys that would move the caches or reach outside the container.
_REFUSED_CONFIG_KEYS = ("build.target-dir", "target-dir", "build.build-dir", "paths", "include")


def check_cargo_args(arguments: Sequence[str]) -> tuple[str, ...]:
    """The arguments cargo gets: as given, without the implied ones; raises UsageError naming
    the first one that is refused.
    """
    passed: list[str] = []
    following_config = False
    for argument in arguments:
        if following_config:
            _check_config(argument)
            following_config = False
        elif argument in IMPLIED:
            continue
        elif argument == "--config":
            following_config = True
        elif argument.startswith("--config="):
            _check_config(argument.removeprefix("--config="))
        else:
            _check_option(argument)
        passed.append(argument)
    if following_config:
        raise UsageError("--config needs a value", hint="--config KEY=VALUE")
    return tuple(passed)


def _check_option(argument: str) -> None:
    name = argument.split("=", 1)[0]
    if name.startswith("-C") and name != "-C" and not name.startswith("--"):
        name = "-C"  # -C<dir>, as cargo takes it
    if name in _REFUSED:
        raise UsageError(
            f"cargo's {name} is not passed through: {_REFUSED[name]}",
            hint="leave it out of xcargo's command line",
        )


def _check_config(value: str) -> None:
    """Only inline `KEY=VALUE` settings: a config file would be read from the host, which the
    container does not see; and none that moves the caches.
    """
    key = value.split("=", 1)[0].strip().strip("\"'")
    if "=" not in value:
        raise UsageError(
            f"--config {value}: a config file is not passed through (the container does not "
            "see the host's files)",
            hint="use --config KEY=VALUE, or put the settings in the project's .cargo/config.toml",
        )
    if any(key == refused or key.startswith(f"{refused}.") for refused in _REFUSED_CONFIG_KEYS):
        raise UsageError(
            f"--config {key}=… is not passed through: it would move the build's caches or read "
            "outside the container",
            hint="leave it out; xcargo sets the target directory itself",
        )
