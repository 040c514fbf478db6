"""Finding the Cargo project a build is about, the way cargo itself does.

The directory mounted into the build is the workspace root, so that path dependencies inside
the workspace and the workspace's one `Cargo.lock` are visible to cargo in the container.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from runtimes import naming
from runtimes.errors import UsageError
from runtimes.rust_versions import RustVersion

MANIFEST = "Cargo.toml"
LOCKFILE = "Cargo.lock"


@dataclass(frozen=True)
class CargoProject:
    root: Path
    name: str

    @property
    def key(self) -> str:
        """Names this checkout's caches: two clones of one crate do not share a target dir."""
        return naming.project_key(self.name, str(self.root))

    @property
    def lockfile(self) -> Path:
        return self.root / LOCKFILE

    def require_lockfile(self) -> Path:
        """The lock file, which must exist: the source is read-only in the container."""
        if not self.lockfile.is_file():
            raise UsageError(
                f"{self.lockfile} is missing; cargo cannot create it because xcargo mounts "
                "the source read-only",
                hint=f"run `cargo generate-lockfile` in {self.root} (and commit Cargo.lock)",
            )
        return self.lockfile


def locate_project(start: Path, manifest_path: Path | None = None) -> CargoProject:
    """The project holding `start` (or `manifest_path`), promoted to its workspace root."""
    manifest = _manifest_from(manifest_path) if manifest_path else _nearest_manifest(start)
    root = manifest.parent
    # Like cargo: a manifest with [workspace] is its own root, else the nearest one above it.
    if "workspace" not in _read_manifest(manifest):
        for ancestor in manifest.parent.parents:
            candidate = ancestor / MANIFEST
            if candidate.is_file() and "workspace" in _read_manifest(candidate):
                root = ancestor
                break
    data = _read_manifest(root / MANIFEST)
    package = data.get("package")
    name = package.get("name") if isinstance(package, dict) else None
    return CargoProject(root=root, name=str(name or root.name))


def _manifest_from(path: Path) -> Path:
    path = path.expanduser().resolve()
    if path.name != MANIFEST or not path.is_file():
        raise UsageError(
            f"{path} is not a Cargo.toml file", hint="pass --manifest-path PATH/Cargo.toml"
        )
    return path


def _nearest_manifest(start: Path) -> Path:
    start = start.expanduser().resolve()
    for directory in (start, *start.parents):
        if (directory / MANIFEST).is_file():
            return directory / MANIFEST
    raise UsageError(
        f"no Cargo.toml in {start} or any parent directory",
        hint="run xcargo inside a Cargo project, or pass --manifest-path PATH/Cargo.toml",
    )


def _read_manifest(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} is not valid TOML: {error}") from error


@dataclass(frozen=True)
class RustRequirement:
    """A package of the workspace and the oldest rustc its `rust-version` accepts."""

    package: str
    version: RustVersion


def rust_requirements(project: CargoProject) -> list[RustRequirement]:
    """The `rust-version` of every package the build compiles from the workspace (the root
    package and the members), read before any container starts so that a toolchain too old
    for them is refused with a clear message instead of cargo's, minutes later.
    """
    root = _read_manifest(project.root / MANIFEST)
    workspace = root.get("workspace") if isinstance(root.get("workspace"), dict) else {}
    inherited = (workspace.get("package") or {}).get("rust-version")
    manifests = [project.root / MANIFEST]
    for pattern in workspace.get("members") or []:
        if isinstance(pattern, str) and ".." not in Path(pattern).parts:
            manifests += sorted(path / MANIFEST for path in project.root.glob(pattern))
    found = []
    for manifest in dict.fromkeys(manifests):
        data = root if manifest == project.root / MANIFEST else _member_manifest(manifest)
        package = data.get("package")
        if not isinstance(package, dict) or "rust-version" not in package:
            continue
        value = package["rust-version"]
        if isinstance(value, dict) and value.get("workspace") is True:
            value = inherited
        if isinstance(value, str):
            name = str(package.get("name") or manifest.parent.name)
            found.append(RustRequirement(name, _rust_version(value, manifest)))
    return found


def _member_manifest(path: Path) -> dict[str, object]:
    return _read_manifest(path) if path.is_file() else {}


def _rust_version(value: str, manifest: Path) -> RustVersion:
    try:
        return RustVersion.parse(value)
    except UsageError as error:
        raise UsageError(f"{manifest}: rust-version: {error.message}", hint=error.hint) from None
