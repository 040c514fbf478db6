"""`xcargo container doctor`: every check a build depends on, each with what to do about it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from docker.errors import DockerException

from runtimes import caches, host, naming
from runtimes.config import XcargoConfig, load_config
from runtimes.engine import Engine, RuntimeChoice, connect
from runtimes.errors import XcargoError
from runtimes.images.builder import find_image
from runtimes.images.catalogue import toolchain_images
from runtimes.sizes import human_size

Status = Literal["ok", "warn", "fail"]
MIN_API_VERSION = (1, 41)


@dataclass(frozen=True)
class Check:
    status: Status
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class Report:
    checks: list[Check]
    engine_found: bool

    @property
    def exit_code(self) -> int:
        """3 without an engine (as every xcargo command), 1 for any other failed check."""
        if not self.engine_found:
            return 3
        return 1 if any(check.status == "fail" for check in self.checks) else 0


def run_checks(project_dir: Path, environ: Mapping[str, str] | None = None) -> Report:
    """The engine check comes first; when it fails, the engine checks after it are skipped.
    `environ` holds the CROSS_* variables the configuration reads.
    """
    checks: list[Check] = []
    config = _config_check(project_dir, environ, checks)
    runtime: RuntimeChoice = config.container.runtime if config else "auto"
    try:
        engine = connect(runtime, machine=config.container.podman_machine if config else None)
    except XcargoError as error:
        return Report([Check("fail", f"engine: {error.message}", error.hint), *checks], False)
    checks[:0] = engine_checks(engine)
    if config is not None:
        enabled = config.container.cache.enabled
        checks.append(
            Check("ok", "volume caching enabled")
            if enabled
            else Check(
                "warn", "volume caching disabled (cache.enabled = false): every build is cold"
            )
        )
    return Report(checks, True)


def engine_checks(engine: Engine) -> list[Check]:
    """The checks of a connected engine and of this machine, for any project: what the
    server's engine page shows for each host.
    """
    checks = [Check("ok", f"engine: {engine.description}")]
    checks += [
        check(engine)
        for check in (_api_version, _rootless, _limits, _toolchains, _cache_size, _test_container)
    ]
    return [*checks, _debootstrap(), _ca_bundle()]


def _api_version(engine: Engine) -> Check:
    """Builds use the mounts, limits and security options of API 1.41 (Docker 20.10, Podman's
    compatible API)."""
    try:
        version = tuple(int(part) for part in engine.api_version.split("."))
    except ValueError:
        return Check("warn", f"API version {engine.api_version!r} unreadable")
    if version < MIN_API_VERSION:
        return Check(
            "fail",
            f"API version {engine.api_version}: below {'.'.join(map(str, MIN_API_VERSION))}",
            "upgrade the engine: Docker 20.10 or newer, Podman 3 or newer",
        )
    return Check("ok", f"API version {engine.api_version} ({engine.kind})")


def _rootless(engine: Engine) -> Check:
    if engine.rootless:
        return Check(
            "ok",
            f"rootless {engine.kind}: builds run as the engine's user; files it writes are that "
            "user's",
        )
    return Check("ok", f"rootful {engine.kind}")


def _test_container(engine: Engine) -> Check:
    """A tiny hardened container of xcargo's base image, as builds run theirs."""
    if find_image(engine, naming.BASE_IMAGE) is None:
        return Check(
            "warn",
            f"test container: no {naming.BASE_IMAGE} to run one with",
            "run `xcargo images bootstrap`",
        )
    started = time.monotonic()
    try:
        engine.client.containers.run(
            naming.BASE_IMAGE,
            ["true"],
            remove=True,
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            labels=naming.managed_labels(naming.KIND_BUILD, phase="doctor"),
        )
    except DockerException as error:
        return Check(
            "fail",
            f"test container: the engine could not run one: {str(error)[:200]}",
            "see the engine's own log (journalctl -u docker, or podman's); a rootless engine "
            "needs subuids and subgids for the user (/etc/subuid, /etc/subgid)",
        )
    return Check("ok", f"test container ran in {time.monotonic() - started:.2f} s")


def _config_check(
    project_dir: Path, environ: Mapping[str, str] | None, checks: list[Check]
) -> XcargoConfig | None:
    try:
        config = load_config(project_dir, environ)
    except XcargoError as error:
        checks.append(Check("fail", f"configuration: {error.message}", error.hint))
        return None
    where = str(config.path) if config.path else "no xcargo.toml here: defaults"
    checks.append(Check("ok" if not config.warnings else "warn", f"configuration: {where}"))
    checks += [Check("warn", str(notice)) for notice in (*config.warnings, *config.unsupported)]
    return config


def _limits(engine: Engine) -> Check:
    missing = [
        name
        for name, supported in (
            ("memory", engine.memory_limit_supported),
            ("pids", engine.pids_limit_supported),
        )
        if not supported
    ]
    where = f"cgroup v{engine.cgroup_version or '?'} ({engine.cgroup_driver})"
    if missing:
        return Check(
            "warn",
            f"limits: the engine cannot enforce {' and '.join(missing)} limits on {where}",
            "builds run without those limits; a rootless engine on cgroup v1 cannot set them",
        )
    return Check("ok", f"limits: memory and pids limits enforced on {where}")


def _toolchains(engine: Engine) -> Check:
    images = toolchain_images(engine)
    if not images:
        return Check("warn", "toolchain images: none yet", "run `xcargo images bootstrap`")
    targets = sorted({target for image in images for target in image.targets})
    return Check("ok", f"toolchain images: {len(images)} local, for {', '.join(targets)}")


def _cache_size(engine: Engine) -> Check:
    rows = caches.usage(engine)
    total = sum(row.size for row in rows)
    message = f"caches: {len(rows)} volumes, {human_size(total)}"
    warning = caches.size_warning(total)
    return Check("warn", f"{message}: {warning}") if warning else Check("ok", message)


def _debootstrap() -> Check:
    if shutil.which("debootstrap"):
        return Check("ok", "debootstrap available: toolchain images can be made without a registry")
    return Check(
        "warn",
        "debootstrap missing: `xcargo images bootstrap` cannot run",
        "apt-get install debootstrap",
    )


def _ca_bundle() -> Check:
    bundle = host.ca_bundle()
    if bundle is None:
        return Check("warn", "no CA bundle found for the fetch phase", "set XCARGO_CA_BUNDLE")
    return Check("ok", f"fetch phase trusts the host's CA bundle {bundle}")
