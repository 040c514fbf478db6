"""The environment variables admins set for a project's builds, checked with the rules the CLI
applies to xcargo.toml's `env` tables: no name xcargo sets itself, and secrets long enough to
be masked in logs.
"""

from __future__ import annotations

from builds.services.errors import checked
from runtimes.build_env import check_env_name, check_env_value, check_secret_value


def check_variable_name(name: str) -> str:
    return checked(check_env_name, name.strip(), "name")


def check_variable_value(value: str, *, secret: bool) -> str:
    return checked(check_secret_value if secret else check_env_value, value, "value")
