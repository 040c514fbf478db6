"""Which engine sockets xcargo tries, in what order, and how it reports that none answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtimes.engine import connect, socket_candidates
from runtimes.errors import EngineUnavailable, UsageError

# The system-wide sockets depend on the machine; these tests speak about the per-user ones,
# which live under XDG_RUNTIME_DIR and are made to exist (or not) in a temporary directory.
SYSTEM_SOCKETS = {"unix:///var/run/docker.sock", "unix:///run/podman/podman.sock"}


@pytest.fixture
def runtime_dir(tmp_path: Path) -> Path:
    return tmp_path / "run-user"


def make_socket(runtime_dir: Path, relative: str) -> str:
    """A file where a socket would be: `socket_candidates` only checks that the path exists."""
    path = runtime_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return f"unix://{path}"


def user_candidates(runtime: str, runtime_dir: Path, **environ: str) -> list[str]:
    found = socket_candidates(runtime, {"XDG_RUNTIME_DIR": str(runtime_dir), **environ})
    return [url for url in found if url not in SYSTEM_SOCKETS]


# --- explicit URLs


def test_xcargo_engine_url_is_the_only_candidate(runtime_dir):
    make_socket(runtime_dir, "docker.sock")
    environ = {"XCARGO_ENGINE_URL": "tcp://builder:2375", "XDG_RUNTIME_DIR": str(runtime_dir)}
    assert socket_candidates("auto", environ) == ["tcp://builder:2375"]


def test_xcargo_engine_url_wins_over_docker_host():
    environ = {"XCARGO_ENGINE_URL": "unix:///a.sock", "DOCKER_HOST": "unix:///b.sock"}
    assert socket_candidates("auto", environ) == ["unix:///a.sock"]


def test_docker_host_wins_over_sockets(runtime_dir):
    make_socket(runtime_dir, "docker.sock")
    make_socket(runtime_dir, "podman/podman.sock")
    environ = {"DOCKER_HOST": "ssh://me@builder", "XDG_RUNTIME_DIR": str(runtime_dir)}
    assert socket_candidates("auto", environ) == ["ssh://me@builder"]


def test_an_explicit_url_wins_whatever_runtime_is_asked_for():
    assert socket_candidates("podman", {"DOCKER_HOST": "unix:///d.sock"}) == ["unix:///d.sock"]


def test_an_empty_variable_does_not_count_as_set(runtime_dir):
    user_socket = make_socket(runtime_dir, "docker.sock")
    assert user_candidates("auto", runtime_dir, XCARGO_ENGINE_URL="", DOCKER_HOST="") == [
        user_socket
    ]


# --- usual sockets


def test_auto_lists_docker_before_podman(runtime_dir):
    podman = make_socket(runtime_dir, "podman/podman.sock")
    docker = make_socket(runtime_dir, "docker.sock")
    assert user_candidates("auto", runtime_dir) == [docker, podman]


def test_podman_lists_only_podman_sockets(runtime_dir):
    make_socket(runtime_dir, "docker.sock")
    podman = make_socket(runtime_dir, "podman/podman.sock")
    found = socket_candidates("podman", {"XDG_RUNTIME_DIR": str(runtime_dir)})
    assert podman in found
    assert all("podman" in url and "docker.sock" not in url for url in found)


def test_docker_lists_only_docker_sockets(runtime_dir):
    docker = make_socket(runtime_dir, "docker.sock")
    make_socket(runtime_dir, "podman/podman.sock")
    found = socket_candidates("docker", {"XDG_RUNTIME_DIR": str(runtime_dir)})
    assert docker in found
    assert all(url.endswith("/docker.sock") for url in found)


def test_sockets_that_do_not_exist_are_not_listed(runtime_dir):
    runtime_dir.mkdir()
    assert user_candidates("auto", runtime_dir) == []


def test_every_listed_socket_exists(runtime_dir):
    make_socket(runtime_dir, "podman/podman.sock")
    for url in socket_candidates("auto", {"XDG_RUNTIME_DIR": str(runtime_dir)}):
        assert Path(url.removeprefix("unix://")).exists()


def test_candidates_are_unix_urls(runtime_dir):
    make_socket(runtime_dir, "docker.sock")
    found = socket_candidates("auto", {"XDG_RUNTIME_DIR": str(runtime_dir)})
    assert found
    assert all(url.startswith("unix:///") for url in found)


# --- connect


def test_connect_refuses_runtime_none():
    with pytest.raises(UsageError, match="runtime = 'none'") as refused:
        connect(runtime="none", environ={})
    assert "auto" in (refused.value.hint or "")


def test_connect_to_a_missing_socket_names_the_url_and_says_how_to_start_an_engine():
    url = "unix:///nonexistent/xcargo.sock"
    with pytest.raises(EngineUnavailable) as unavailable:
        connect(environ={"XCARGO_ENGINE_URL": url})
    assert url in unavailable.value.message
    hint = unavailable.value.hint or ""
    assert "Docker" in hint
    assert "Podman" in hint
    assert "XCARGO_ENGINE_URL" in hint


def test_engine_unavailable_exits_with_its_own_status():
    with pytest.raises(EngineUnavailable) as unavailable:
        connect(environ={"XCARGO_ENGINE_URL": "unix:///nonexistent/xcargo.sock"})
    assert unavailable.value.exit_code == 3
