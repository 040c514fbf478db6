"""Artifacts: which files cargo's JSON messages name, where they go, and how they are copied."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtimes.artifacts import (
    artifact_paths,
    extract_single_file,
    fresh_paths,
    parse_message,
    relative_output_path,
)
from runtimes.errors import XcargoError

TARGET_DIR = "/xcargo/target"
OUT = f"{TARGET_DIR}/aarch64-unknown-linux-gnu/release"
LOCAL_ID = "path+file:///project#hello-cross@0.3.1"
LEGACY_LOCAL_ID = "hello 0.1.0 (path+file:///project)"
SERDE_ID = "registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0"
GIT_ID = "git+https://github.com/example/dep?branch=main#a1b2c3d4@0.2.0"


def compiler_artifact(
    package_id: str,
    kind: list[str],
    filenames: list[str],
    executable: str | None = None,
    name: str = "hello-cross",
) -> dict[str, object]:
    """A `compiler-artifact` message shaped like the ones cargo prints."""
    return {
        "reason": "compiler-artifact",
        "package_id": package_id,
        "manifest_path": "/project/Cargo.toml",
        "target": {
            "kind": kind,
            "crate_types": kind,
            "name": name,
            "src_path": "/project/src/main.rs",
            "edition": "2021",
            "doc": True,
            "doctest": False,
            "test": True,
        },
        "profile": {
            "opt_level": "3",
            "debuginfo": 0,
            "debug_assertions": False,
            "overflow_checks": False,
            "test": False,
        },
        "features": [],
        "filenames": filenames,
        "executable": executable,
        "fresh": False,
    }


def workspace_binary(package_id: str = LOCAL_ID) -> dict[str, object]:
    path = f"{OUT}/hello-cross"
    return compiler_artifact(package_id, ["bin"], [path], executable=path)


# --- parse_message


def test_parse_message_reads_a_cargo_json_line():
    line = json.dumps(workspace_binary())
    assert parse_message(line) == workspace_binary()


def test_parse_message_reads_build_finished():
    assert parse_message('{"reason":"build-finished","success":true}') == {
        "reason": "build-finished",
        "success": True,
    }


@pytest.mark.parametrize(
    "line",
    [
        "   Compiling hello-cross v0.3.1 (/project)",
        "warning: unused variable: `x`",
        "",
        '{"not":"a cargo message"}',
        "{ this only starts with a brace",
        '{"reason":"compiler-artifact", "package_id": ',
        '{"reason": broken}',
    ],
)
def test_parse_message_returns_none_for_anything_but_a_cargo_message(line):
    assert parse_message(line) is None


# --- artifact_paths


def test_artifact_paths_collect_the_workspace_binary_executable():
    assert artifact_paths([workspace_binary()]) == [f"{OUT}/hello-cross"]


def test_artifact_paths_understand_the_legacy_package_id_form():
    assert artifact_paths([workspace_binary(LEGACY_LOCAL_ID)]) == [f"{OUT}/hello-cross"]


def test_artifact_paths_collect_cdylib_and_staticlib_files_but_not_the_rlib():
    message = compiler_artifact(
        LOCAL_ID,
        ["lib", "cdylib", "staticlib"],
        [
            f"{OUT}/libhello_cross.rlib",
            f"{OUT}/libhello_cross.so",
            f"{OUT}/libhello_cross.a",
        ],
        name="hello_cross",
    )
    assert artifact_paths([message]) == [f"{OUT}/libhello_cross.so", f"{OUT}/libhello_cross.a"]


def test_artifact_paths_skip_a_plain_rlib():
    message = compiler_artifact(
        LOCAL_ID, ["lib"], [f"{OUT}/deps/libhello_cross-0f1e2d3c.rlib"], name="hello_cross"
    )
    assert artifact_paths([message]) == []


@pytest.mark.parametrize("package_id", [SERDE_ID, GIT_ID])
def test_artifact_paths_skip_dependency_artifacts(package_id):
    binary = compiler_artifact(package_id, ["bin"], [f"{OUT}/tool"], executable=f"{OUT}/tool")
    cdylib = compiler_artifact(package_id, ["cdylib"], [f"{OUT}/deps/libdep.so"])
    assert artifact_paths([binary, cdylib]) == []


def test_artifact_paths_skip_build_scripts():
    build_script = compiler_artifact(
        LOCAL_ID,
        ["custom-build"],
        [f"{TARGET_DIR}/release/build/hello-cross-0123abcd/build-script-build"],
        executable=None,
        name="build-script-build",
    )
    assert artifact_paths([build_script]) == []


def test_artifact_paths_skip_build_script_executed_and_build_finished():
    executed = {
        "reason": "build-script-executed",
        "package_id": LOCAL_ID,
        "linked_libs": [],
        "linked_paths": [],
        "cfgs": [],
        "env": [],
        "out_dir": f"{TARGET_DIR}/release/build/hello-cross-4567cdef/out",
    }
    finished = {"reason": "build-finished", "success": True}
    assert artifact_paths([executed, finished]) == []


def test_artifact_paths_skip_compiler_messages_of_the_workspace():
    message = {"reason": "compiler-message", "package_id": LOCAL_ID, "message": {}}
    assert artifact_paths([message]) == []


def test_artifact_paths_deduplicate_a_repeated_artifact():
    assert artifact_paths([workspace_binary(), workspace_binary()]) == [f"{OUT}/hello-cross"]


def test_artifact_paths_of_a_realistic_build_keep_only_the_projects_outputs_in_order():
    messages = [
        compiler_artifact(
            SERDE_ID,
            ["custom-build"],
            [f"{TARGET_DIR}/release/build/serde-1/build-script-build"],
            name="build-script-build",
        ),
        {"reason": "build-script-executed", "package_id": SERDE_ID, "out_dir": "/x"},
        compiler_artifact(SERDE_ID, ["lib"], [f"{OUT}/deps/libserde-2.rlib"], name="serde"),
        compiler_artifact(LOCAL_ID, ["cdylib"], [f"{OUT}/libhello_cross.so"], name="hello_cross"),
        workspace_binary(),
        {"reason": "build-finished", "success": True},
    ]
    assert artifact_paths(messages) == [f"{OUT}/libhello_cross.so", f"{OUT}/hello-cross"]


def test_fresh_paths_name_the_files_of_artifacts_cargo_did_not_make_again():
    made = compiler_artifact(LOCAL_ID, ["cdylib"], [f"{OUT}/libhello_cross.so"], name="h")
    fresh = {**workspace_binary(), "fresh": True}
    unknown = {**compiler_artifact(LOCAL_ID, ["staticlib"], [f"{OUT}/libh.a"]), "fresh": None}

    assert fresh_paths([made, fresh, unknown]) == {f"{OUT}/hello-cross"}


# --- relative_output_path


def test_relative_output_path_of_a_file_inside_the_target_dir():
    relative = relative_output_path(f"{OUT}/hello-cross", TARGET_DIR)
    assert relative.parts == ("aarch64-unknown-linux-gnu", "release", "hello-cross")


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "/xcargo/targetx/evil", "/xcargo", "relative/target/file"],
)
def test_relative_output_path_refuses_a_file_outside_the_target_dir(path):
    with pytest.raises(XcargoError):
        relative_output_path(path, TARGET_DIR)


@pytest.mark.parametrize(
    "path",
    [
        f"{TARGET_DIR}/../../etc/passwd",
        f"{TARGET_DIR}/release/../../../root/.ssh/id_rsa",
        f"{TARGET_DIR}/..",
    ],
)
def test_relative_output_path_refuses_dot_dot_tricks(path):
    with pytest.raises(XcargoError):
        relative_output_path(path, TARGET_DIR)


@pytest.mark.parametrize("path", [TARGET_DIR, f"{TARGET_DIR}/", f"{TARGET_DIR}/."])
def test_relative_output_path_refuses_the_target_dir_itself(path):
    with pytest.raises(XcargoError):
        relative_output_path(path, TARGET_DIR)


# --- extract_single_file


def tar_bytes(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def regular(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def chunks(data: bytes, size: int = 7) -> Iterator[bytes]:
    """The archive as the SDK hands it over: an iterator of chunks, here of an odd size."""
    return iter([data[offset : offset + size] for offset in range(0, len(data), size)])


def leftovers(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


PAYLOAD = b"\x7fELF" + bytes(range(256)) * 40 + b"tail"


def test_extract_single_file_writes_the_file(tmp_path):
    destination = tmp_path / "out" / "hello-cross"
    extract_single_file(chunks(tar_bytes(regular("hello-cross", PAYLOAD))), destination)
    assert destination.read_bytes() == PAYLOAD


def test_extract_single_file_returns_the_size_and_sha256(tmp_path):
    destination = tmp_path / "hello-cross"
    artifact = extract_single_file(chunks(tar_bytes(regular("hello-cross", PAYLOAD))), destination)
    assert artifact.name == "hello-cross"
    assert artifact.path == destination
    assert artifact.size == len(PAYLOAD)
    assert artifact.sha256 == hashlib.sha256(PAYLOAD).hexdigest()


@pytest.mark.parametrize("chunk_size", [1, 7, 511, 513, 100_000])
def test_extract_single_file_does_not_depend_on_chunk_boundaries(tmp_path, chunk_size):
    destination = tmp_path / "hello-cross"
    archive = chunks(tar_bytes(regular("hello-cross", PAYLOAD)), chunk_size)
    assert extract_single_file(archive, destination).sha256 == hashlib.sha256(PAYLOAD).hexdigest()


def test_extract_single_file_keeps_the_executable_bit(tmp_path):
    destination = tmp_path / "hello-cross"
    extract_single_file(chunks(tar_bytes(regular("hello-cross", PAYLOAD, 0o755))), destination)
    assert destination.stat().st_mode & stat.S_IXUSR


def test_extract_single_file_leaves_a_library_not_executable(tmp_path):
    destination = tmp_path / "libhello.a"
    extract_single_file(chunks(tar_bytes(regular("libhello.a", b"!<arch>\n", 0o644))), destination)
    assert not destination.stat().st_mode & 0o111


def test_extract_single_file_copes_with_an_empty_file(tmp_path):
    destination = tmp_path / "empty"
    artifact = extract_single_file(chunks(tar_bytes(regular("empty", b""))), destination)
    assert artifact.size == 0
    assert artifact.sha256 == hashlib.sha256(b"").hexdigest()


def test_extract_single_file_replaces_an_older_copy(tmp_path):
    destination = tmp_path / "hello-cross"
    destination.write_bytes(b"an older build")
    extract_single_file(chunks(tar_bytes(regular("hello-cross", PAYLOAD))), destination)
    assert destination.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["hello-cross"]


def test_extract_single_file_leaves_only_the_destination_behind(tmp_path):
    extract_single_file(chunks(tar_bytes(regular("a", PAYLOAD))), tmp_path / "a")
    assert leftovers(tmp_path) == ["a"]


def test_extract_single_file_refuses_a_symlink(tmp_path):
    link = tarfile.TarInfo("hello-cross")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(XcargoError, match="not a regular file"):
        extract_single_file(chunks(tar_bytes((link, None))), tmp_path / "hello-cross")
    assert leftovers(tmp_path) == []


def test_extract_single_file_refuses_a_directory(tmp_path):
    directory = tarfile.TarInfo("release")
    directory.type, directory.mode = tarfile.DIRTYPE, 0o755
    archive = tar_bytes((directory, None), regular("release/hello-cross", PAYLOAD))
    with pytest.raises(XcargoError, match="not a regular file"):
        extract_single_file(chunks(archive), tmp_path / "release")
    assert leftovers(tmp_path) == []


def test_extract_single_file_refuses_an_empty_archive(tmp_path):
    with pytest.raises(XcargoError, match="empty archive"):
        extract_single_file(chunks(tar_bytes()), tmp_path / "hello-cross")
    assert leftovers(tmp_path) == []


def test_extract_single_file_refuses_a_stream_with_no_bytes(tmp_path):
    with pytest.raises(XcargoError):
        extract_single_file(iter([]), tmp_path / "hello-cross")
    assert leftovers(tmp_path) == []


def test_extract_single_file_refuses_a_truncated_archive_and_cleans_up(tmp_path):
    archive = tar_bytes(regular("hello-cross", PAYLOAD))
    truncated = archive[: 512 + len(PAYLOAD) // 2]
    with pytest.raises(XcargoError):
        extract_single_file(chunks(truncated), tmp_path / "hello-cross")
    assert leftovers(tmp_path) == []
