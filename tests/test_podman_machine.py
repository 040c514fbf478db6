"""The Podman machine on macOS (FR4), against a fake `podman` that answers as Podman 4 and 5
do (tests/fake_podman): each test holds for both versions' output.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtimes.config.schema import PodmanMachineConfig
from runtimes.engine import connect
from runtimes.errors import EngineUnavailable
from runtimes.podman_machine import (
    DEFAULT_MACHINE_NAME,
    Machine,
    MachineError,
    ensure_machine,
    list_machines,
    machine_socket,
    parse_machine_list,
    parse_socket,
    podman_message,
    socket_answers,
)
from tests.fake_podman import FakePodman, make_fake_podman

MAC = "darwin"
ROOT = Path(__file__).resolve().parent.parent
FAST = {"start_timeout": 10, "socket_timeout": 5}


@pytest.fixture(params=["4", "5"], ids=["podman4", "podman5"])
def fake(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePodman]:
    fake = make_fake_podman(request.param)
    for name, value in fake.env.items():
        monkeypatch.setenv(name, value)
    yield fake
    fake.stop_servers()
    shutil.rmtree(fake.root, ignore_errors=True)


def steps() -> tuple[list[str], object]:
    said: list[str] = []
    return said, said.append


# --- Nothing to do off macOS.


def test_linux_has_no_machine(fake: FakePodman) -> None:
    assert ensure_machine(PodmanMachineConfig(), platform="linux") is None
    assert fake.state()["machines"] == {}


def test_no_podman_installed_is_no_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert ensure_machine(PodmanMachineConfig(), platform=MAC) is None


# --- Missing, stopped, starting, running.


def test_missing_machine_is_created_with_the_configuration_and_started(fake: FakePodman) -> None:
    said, say = steps()
    ready = ensure_machine(
        PodmanMachineConfig(cpus=6, memory=8192, disk_size=50), say, platform=MAC, **FAST
    )
    assert ready is not None
    assert ready.machine.name == DEFAULT_MACHINE_NAME
    assert ready.machine.state == "running"
    assert (ready.machine.cpus, ready.machine.memory_mib, ready.machine.disk_size_gib) == (
        6,
        8192,
        50,
    )
    assert socket_answers(ready.socket_path)
    assert any(step.startswith("no Podman machine exists") for step in said)
    assert any("creating Podman machine podman-machine-default (6 CPUs, 8192 MB" in s for s in said)
    assert any(step.startswith("starting Podman machine") for step in said)
    assert said[-1] == f"Podman machine {DEFAULT_MACHINE_NAME} is ready: unix://{ready.socket_path}"


def test_defaults_are_the_designs(fake: FakePodman) -> None:
    ready = ensure_machine(PodmanMachineConfig(), platform=MAC, **FAST)
    assert ready is not None
    assert (ready.machine.cpus, ready.machine.memory_mib, ready.machine.disk_size_gib) == (
        4,
        4096,
        20,
    )


def test_configured_name_is_created(fake: FakePodman) -> None:
    ready = ensure_machine(PodmanMachineConfig(name="xcargo"), platform=MAC, **FAST)
    assert ready is not None and ready.machine.name == "xcargo"


def test_stopped_machine_is_started(fake: FakePodman) -> None:
    fake.podman("machine", "init", "--cpus", "2")
    said, say = steps()
    ready = ensure_machine(PodmanMachineConfig(), say, platform=MAC, **FAST)
    assert ready is not None and ready.machine.running
    assert ready.machine.cpus == 2  # the existing machine, not a new one
    assert not any(step.startswith("creating") for step in said)
    assert any(step.startswith("starting Podman machine podman-machine-default") for step in said)


def test_starting_machine_is_waited_for(fake: FakePodman) -> None:
    fake.podman("machine", "init")
    starter = fake.start_in_background(DEFAULT_MACHINE_NAME, boot_seconds=1.5)
    try:
        _wait_for_state(fake, "starting")
        said, say = steps()
        ready = ensure_machine(PodmanMachineConfig(), say, platform=MAC, **FAST)
        assert ready is not None and ready.machine.state == "running"
        assert any("is starting; waiting for it" in step for step in said)
        assert not any(step.startswith("starting Podman machine") for step in said)
    finally:
        starter.wait(timeout=10)


def test_running_machine_is_used_as_it_is(fake: FakePodman) -> None:
    fake.podman("machine", "init")
    fake.podman("machine", "start")
    said, say = steps()
    ready = ensure_machine(PodmanMachineConfig(), say, platform=MAC, **FAST)
    assert ready is not None
    assert ready.socket_path == machine_socket(DEFAULT_MACHINE_NAME)
    assert not any(step.startswith(("creating", "starting")) for step in said)
    assert f"Podman machine {DEFAULT_MACHINE_NAME} is running" in said


def test_socket_comes_from_inspect_as_each_version_lays_it_out(fake: FakePodman) -> None:
    fake.podman("machine", "init", "xcargo")
    path = machine_socket("xcargo")
    if fake.version.startswith("5"):
        assert path == f"{fake.env['TMPDIR']}/podman/xcargo-api.sock"
    else:
        assert path == f"{fake.env['XDG_DATA_HOME']}/containers/podman/machine/qemu/podman.sock"


# --- Two machines.


def test_of_two_machines_the_default_is_used(fake: FakePodman) -> None:
    fake.podman("machine", "init", "first")
    fake.podman("machine", "init", "second")
    fake.podman("system", "connection", "default", "second")
    ready = ensure_machine(PodmanMachineConfig(), platform=MAC, **FAST)
    assert ready is not None and ready.machine.name == "second"
    assert [machine.name for machine in list_machines() if machine.running] == ["second"]


def test_of_two_machines_the_configured_one_is_used(fake: FakePodman) -> None:
    fake.podman("machine", "init", "first")
    fake.podman("machine", "init", "second")
    ready = ensure_machine(PodmanMachineConfig(name="second"), platform=MAC, **FAST)
    assert ready is not None and ready.machine.name == "second"


def test_another_running_machine_is_said_with_what_to_do(fake: FakePodman) -> None:
    fake.podman("machine", "init", "first")
    fake.podman("machine", "init", "second")
    fake.podman("machine", "start", "second")
    with pytest.raises(MachineError) as caught:
        ensure_machine(PodmanMachineConfig(name="first"), platform=MAC, **FAST)
    assert caught.value.message == (
        "Podman machine first is stopped and second runs: Podman runs one machine at a time"
    )
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("stop it (podman machine stop second)")


@pytest.mark.parametrize(
    ("version", "words"),
    [
        ("4", "cannot start VM first. VM second is currently running or starting: only one VM"),
        ("5", 'unable to start "first": machine second: VM already running or starting'),
    ],
)
def test_fake_refuses_a_second_machine_as_podman_does(version: str, words: str) -> None:
    fake = make_fake_podman(version)
    try:
        fake.podman("machine", "init", "first")
        fake.podman("machine", "init", "second")
        fake.podman("machine", "start", "second")
        refused = fake.podman("machine", "start", "first")
        assert refused.returncode == 125
        assert refused.stderr.startswith(f"Error: {words}")
    finally:
        fake.stop_servers()
        shutil.rmtree(fake.root, ignore_errors=True)


# --- Failures.


def test_init_failing_says_podmans_message(
    fake: FakePodman, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PODMAN_OFFLINE", "1")
    with pytest.raises(MachineError) as caught:
        ensure_machine(PodmanMachineConfig(), platform=MAC, **FAST)
    message = caught.value.message
    assert message.startswith("creating Podman machine podman-machine-default: ")
    assert "no such host" in message and "exited with status 125" in message
    assert caught.value.exit_code == 3


def test_start_timing_out_names_the_machine_and_what_to_run(
    fake: FakePodman, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.podman("machine", "init", "xcargo")
    monkeypatch.setenv("FAKE_PODMAN_START_HANGS", "1")
    config = PodmanMachineConfig(name="xcargo")
    with pytest.raises(MachineError) as caught:
        ensure_machine(config, platform=MAC, start_timeout=1, socket_timeout=1)
    assert "`podman machine start xcargo` did not finish within 1 s" in caught.value.message
    assert caught.value.hint is not None
    assert "podman machine start xcargo" in caught.value.hint
    assert "podman machine stop xcargo" in caught.value.hint


def test_socket_never_answering_is_a_clear_error(
    fake: FakePodman, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.podman("machine", "init")
    starter = fake.start_in_background(DEFAULT_MACHINE_NAME, boot_seconds=30)
    try:
        _wait_for_state(fake, "starting")
        with pytest.raises(MachineError) as caught:
            ensure_machine(PodmanMachineConfig(), platform=MAC, start_timeout=1, socket_timeout=1)
        assert "was still starting after 1 s" in caught.value.message
        name = DEFAULT_MACHINE_NAME
        assert caught.value.hint == f"podman machine stop {name} && podman machine start {name}"
    finally:
        fake.podman("machine", "stop")
        starter.kill()
        starter.wait()


# --- auto_create and auto_start off.


def test_auto_create_off_gives_the_command(fake: FakePodman) -> None:
    config = PodmanMachineConfig(auto_create=False, cpus=2, memory=2048, disk_size=30)
    with pytest.raises(MachineError) as caught:
        ensure_machine(config, platform=MAC)
    assert "auto_create = false" in caught.value.message
    assert caught.value.hint == (
        "create it: podman machine init --cpus 2 --memory 2048 --disk-size 30 "
        "&& podman machine start"
    )
    assert fake.state()["machines"] == {}


def test_auto_start_off_gives_the_command(fake: FakePodman) -> None:
    fake.podman("machine", "init", "xcargo")
    with pytest.raises(MachineError) as caught:
        ensure_machine(PodmanMachineConfig(name="xcargo", auto_start=False), platform=MAC)
    assert caught.value.message == (
        "Podman machine xcargo is stopped and auto_start = false in xcargo.toml"
    )
    assert caught.value.hint == "start it: podman machine start xcargo"
    assert fake.state()["machines"]["xcargo"]["status"] != "running"


# --- Reading podman's output.


def test_list_fields_of_each_version(fake: FakePodman) -> None:
    fake.podman("machine", "init", "--cpus", "3", "--memory", "2048", "--disk-size", "40")
    (machine,) = list_machines()
    assert machine.default and not machine.running and not machine.starting
    assert (machine.memory, machine.disk_size) == (2048 * 2**20, 40 * 2**30)
    assert machine.last_up_text == "never"
    assert machine.remote_username == "core" and machine.port > 0 and machine.user_mode_networking
    if fake.version.startswith("5"):
        assert (machine.vm_type, machine.swap) == ("applehv", 0)
    else:
        assert (machine.vm_type, machine.swap) == ("qemu", None)


def test_list_while_starting_differs_between_versions(fake: FakePodman) -> None:
    fake.podman("machine", "init")
    starter = fake.start_in_background(DEFAULT_MACHINE_NAME, boot_seconds=2)
    try:
        machine = _wait_for_state(fake, "starting")
        assert machine.starting
        assert machine.running == fake.version.startswith("5")
    finally:
        starter.wait(timeout=10)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nonsense",
        "{}",
        '[{"Default": true}]',
        '[{"Name": "a", "Memory": "4 GiB"}]',
        '[{"Name": "a", "Running": "yes"}]',
        '[{"Name": "a", "CPUs": -1}]',
    ],
)
def test_malformed_list_output_is_a_clear_error(text: str) -> None:
    with pytest.raises(MachineError):
        parse_machine_list(text)


def test_missing_machine_inspect_is_podmans_error(fake: FakePodman) -> None:
    with pytest.raises(MachineError) as caught:
        machine_socket("nope")
    assert "nope: VM does not exist" in caught.value.message


def _wait_for_state(fake: FakePodman, state: str) -> Machine:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        machines = list_machines()
        if machines and machines[0].state == state:
            return machines[0]
        time.sleep(0.05)
    raise AssertionError(f"the fake machine never became {state}: {fake.state()}")


# --- The engine on macOS.


def test_connect_on_macos_uses_the_machines_socket(fake: FakePodman) -> None:
    said, say = steps()
    config = PodmanMachineConfig(name="xcargo")
    engine = connect("podman", {}, machine=config, on_step=say, platform=MAC)
    assert engine.kind == "podman"
    assert engine.url == f"unix://{machine_socket('xcargo')}"
    assert any(step.startswith("creating Podman machine xcargo") for step in said)


def test_connect_with_a_url_set_leaves_the_machine_alone(fake: FakePodman) -> None:
    with pytest.raises(EngineUnavailable):
        connect("podman", {"XCARGO_ENGINE_URL": "unix:///nonexistent.sock"}, platform=MAC)
    assert fake.state()["machines"] == {}


def test_connect_on_linux_never_makes_a_machine(fake: FakePodman) -> None:
    with contextlib.suppress(EngineUnavailable):  # this host's own Podman may answer
        connect("podman", {"XDG_RUNTIME_DIR": "/nonexistent"}, platform="linux")
    assert fake.state()["machines"] == {}


# --- `xcargo container machine …`, run as a user runs it.


def xcargo_machine(fake: FakePodman, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    code = "import sys; from runtimes.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, "container", "machine", *args],
        cwd=cwd,
        env={**os.environ, **fake.env, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "demo"\nversion = "0.1.0"\n')
    (tmp_path / "Cargo.lock").write_text("version = 3\n")
    return tmp_path


def test_cli_status_without_a_machine_says_what_to_run(fake: FakePodman, project: Path) -> None:
    result = xcargo_machine(fake, "status", cwd=project)
    assert result.returncode == 3
    assert "no Podman machine exists" in result.stdout
    assert "create it: xcargo container machine create" in result.stdout


def test_cli_create_start_status_stop(fake: FakePodman, project: Path) -> None:
    (project / "xcargo.toml").write_text(
        '[container.podman_machine]\nname = "xcargo"\ncpus = 2\nmemory = 2048\ndisk_size = 30\n'
    )
    created = xcargo_machine(fake, "create", cwd=project)
    assert created.returncode == 0, created.stderr
    socket = machine_socket("xcargo")
    assert created.stdout.strip() == f"unix://{socket}"
    assert "creating Podman machine xcargo (2 CPUs, 2048 MB memory, 30 GB disk)" in created.stderr
    assert "Podman machine xcargo is ready" in created.stderr

    status = xcargo_machine(fake, "status", cwd=project)
    assert status.returncode == 0, status.stderr
    (row,) = [line.split() for line in status.stdout.splitlines() if line.split()[:1] == ["xcargo"]]
    assert row[:6] == ["xcargo", "(used", "by", "builds)", "running", "yes"]
    assert row[7:12] == ["2", "2048", "MB", "30", "GB"]
    assert f"socket: {socket}" in status.stdout

    stopped = xcargo_machine(fake, "stop", cwd=project)
    assert stopped.returncode == 0, stopped.stderr
    assert "Podman machine xcargo stopped" in stopped.stderr
    assert xcargo_machine(fake, "status", cwd=project).returncode == 3

    started = xcargo_machine(fake, "start", cwd=project)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == f"unix://{socket}"
    assert socket_answers(socket)


def test_cli_create_of_an_existing_machine_creates_nothing(fake: FakePodman, project: Path) -> None:
    fake.podman("machine", "init", "--cpus", "3")
    result = xcargo_machine(fake, "create", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "exists already (stopped): nothing created" in result.stderr
    assert list(fake.state()["machines"]) == [DEFAULT_MACHINE_NAME]


def test_cli_start_without_a_machine_fails_with_exit_3(fake: FakePodman, project: Path) -> None:
    result = xcargo_machine(fake, "start", cwd=project)
    assert result.returncode == 3
    assert "no Podman machine exists" in result.stderr
    assert "xcargo container machine create" in result.stderr


def test_cli_init_failure_is_podmans_message_and_exit_3(fake: FakePodman, project: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from runtimes.cli import main; sys.exit(main())",
            "container",
            "machine",
            "create",
        ],
        cwd=project,
        env={**os.environ, **fake.env, "PYTHONPATH": str(ROOT), "FAKE_PODMAN_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    assert "error: creating Podman machine podman-machine-default:" in result.stderr
    assert "no such host" in result.stderr


def test_connect_on_macos_without_podman_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EngineUnavailable) as caught:
        connect("podman", {}, platform=MAC)
    assert caught.value.hint is not None and "brew install podman" in caught.value.hint


def test_inspect_symlink_is_preferred_to_a_path_too_long_for_a_socket() -> None:
    text = (
        '[{"ConnectionInfo": {"PodmanSocket": {"Path": "/very/long/podman/x-api.sock", '
        '"symlink": "/Users/me/.podman/x-api.sock"}, "PodmanPipe": null}}]'
    )
    assert parse_socket(text, "x") == "/Users/me/.podman/x-api.sock"


@pytest.mark.parametrize("text", ["", "[]", '[{"ConnectionInfo": {"PodmanSocket": null}}]'])
def test_inspect_without_a_socket_is_a_clear_error(text: str) -> None:
    with pytest.raises(MachineError, match="x"):
        parse_socket(text, "x")


def test_podmans_error_lines_are_kept_and_its_warnings_dropped() -> None:
    stderr = 'time="…" level=warning msg="old config"\nError: x: VM does not exist\n'
    assert podman_message(stderr) == "x: VM does not exist"
