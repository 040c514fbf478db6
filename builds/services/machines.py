"""The Podman machine of a macOS engine host (FR4), set up by its worker: before it connects
to the engine, and on demand from the engines page. Each step is recorded on the host as it
happens, for the page to show; elsewhere (Linux) there is no machine, and the record says so.
"""

from __future__ import annotations

import sys

from django.utils import timezone

from builds.models import EngineHost
from runtimes import podman_machine
from runtimes.config import PodmanMachineConfig
from runtimes.errors import XcargoError


def record_step(host: EngineHost, text: str, status: str = EngineHost.MACHINE_STEP) -> None:
    """Add a step to the host's record, saved at once so that the page shows it as it comes."""
    host.machine_steps = [
        *host.machine_steps,
        {"at": timezone.now().isoformat(), "text": text, "status": status},
    ]
    EngineHost.objects.filter(pk=host.pk).update(machine_steps=host.machine_steps)


def set_up_machine(
    host: EngineHost,
    config: PodmanMachineConfig | None = None,
    *,
    platform: str = sys.platform,
    **timeouts: float,
) -> podman_machine.MachineReady | None:
    """Find, create and start the host's Podman machine as `config` allows, each step
    recorded; its failure is recorded with what to do, and raised.
    """
    host.machine_steps = []
    EngineHost.objects.filter(pk=host.pk).update(machine_steps=[])
    try:
        ready = podman_machine.ensure_machine(
            config or PodmanMachineConfig(),
            lambda text: record_step(host, text),
            platform=platform,
            **timeouts,  # type: ignore[arg-type]
        )
    except XcargoError as error:
        hint = f" ({error.hint})" if error.hint else ""
        record_step(host, f"{error.message}{hint}", EngineHost.MACHINE_FAILED)
        raise
    if ready is None:
        record_step(
            host,
            "no Podman machine here: machines are for macOS with Podman",
            EngineHost.MACHINE_READY,
        )
    else:
        record_step(host, f"ready: the engine answers at {ready.url}", EngineHost.MACHINE_READY)
    return ready
