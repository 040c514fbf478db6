"""Where a target builds: in a container or natively, by the design's `use_when` expression.

This is the first half of choosing a strategy; `runtimes.linking` then refines "in a
container" into Container or Zig by the glibc floor. Every strategy word is defined here, once:
the reasons, the results, the server's records and the CLI all take them from `STRATEGIES`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from runtimes.config import XcargoConfig
from runtimes.errors import UsageError
from runtimes.targets import Triple
from runtimes.use_when import UseWhen

CONTAINER = "container"
NATIVE = "native"
ZIG = "zig"  # in the container, linked by cargo-zigbuild: chosen by runtimes.linking, not here
STRATEGIES = (CONTAINER, ZIG, NATIVE)

NO_USE_WHEN = "no use_when: every target builds in a container"
# Reasons are recorded with the build (in at most 300 characters), so a long expression is cut.
_SHOWN_LENGTH = 60


@dataclass(frozen=True)
class StrategyChoice:
    """A strategy and, in words, why: what the build log, the page and the API show."""

    strategy: str
    reason: str

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; the strategies: {STRATEGIES}")


def choose_placement(
    triple: str, config: XcargoConfig, *, host: Triple, containers_only: bool
) -> StrategyChoice:
    """Container or native for `triple`, by its own use_when, else the project's, else always
    a container. Native is for the host's own target only; `containers_only` (the server)
    builds every target in a container whatever use_when says.

    Raises UsageError when use_when is false for a target other than the host's.
    """
    found = config.setting_for(triple, "use_when")
    if found is None:
        return StrategyChoice(CONTAINER, NO_USE_WHEN)
    expression, where = found
    said = f"{where} {_quoted(expression)}"
    if expression.evaluate(target=Triple.parse(triple), host=host):
        return StrategyChoice(CONTAINER, f"{said} is true for {triple}")
    if containers_only:
        return StrategyChoice(
            CONTAINER,
            f"{said} is false for {triple}, but the server builds every target in a container "
            "(native builds are the xcargo CLI's alone)",
        )
    if triple == str(host):
        return StrategyChoice(
            NATIVE, f"{said} is false for {triple}, this machine's own target: built natively"
        )
    raise UsageError(
        f"{said} is false for {triple}, but a native build is only for this machine's own "
        f"target, {host}",
        hint=f"change use_when so that it is true for {triple} (e.g. "
        f'"target.triple != host.triple"), or build for {host}',
    )


def _quoted(expression: UseWhen) -> str:
    """The expression as xcargo.toml spells it (a TOML basic string), cut when long."""
    text = expression.text
    cut = text if len(text) <= _SHOWN_LENGTH else text[:_SHOWN_LENGTH] + "..."
    return json.dumps(cut, ensure_ascii=False)
