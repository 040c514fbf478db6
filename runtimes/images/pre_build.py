"""pre-build: commands run on top of a build's image into a derived one, as cross's `pre-build`
does (`apt-get install libssl-dev:$CROSS_DEB_ARCH` for a -sys crate, say).

The commands become a Dockerfile that starts from the chosen image, and from there they are a
custom image like any other: reviewed before it is built (a person approves what the review
finds), named by a hash of its text, its base image and the script it copies, and built once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from runtimes.errors import UsageError
from runtimes.images.custom import CustomDockerfile
from runtimes.toolchains import RECIPES

_BASE_ARG = "XCARGO_BASE"
# Where a pre-build script of the project is copied to in the image, and run from.
_SCRIPT = "/usr/local/bin/xcargo-pre-build"


def pre_build_dockerfile(
    pre_build: tuple[str, ...] | Path,
    *,
    base: str,
    triple: str,
    project_root: Path,
    state_dir: Path,
    named_by: str,
) -> CustomDockerfile:
    """The Dockerfile of the derived image, written under `state_dir` (outside the context):
    cross's CROSS_TARGET and CROSS_DEB_ARCH set for the commands, then each command as its
    own RUN, or the project's script copied in and run with the triple as its argument.
    """
    root = project_root.resolve()
    lines = [f"ARG {_BASE_ARG}", f"FROM ${{{_BASE_ARG}}}", f"ENV CROSS_TARGET={triple}"]
    recipe = RECIPES.get(triple)
    if recipe is not None:
        lines.append(f"ENV CROSS_DEB_ARCH={recipe.debian_arch}")
    if isinstance(pre_build, Path):
        if not pre_build.is_file():
            raise UsageError(f"{named_by}: the pre-build script {pre_build} is not a file")
        script = pre_build.relative_to(root).as_posix()
        lines += [f"COPY {script} {_SCRIPT}", f"RUN chmod 755 {_SCRIPT} && {_SCRIPT} {triple}"]
    else:
        lines += [f"RUN {command}" for command in pre_build]
    text = "\n".join(lines) + "\n"
    name = hashlib.sha256(text.encode()).hexdigest()[:16]
    directory = state_dir / "pre-build"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.Dockerfile"
    path.write_text(text, encoding="utf-8")
    return CustomDockerfile(path, root, {_BASE_ARG: base}, named_by, f"pre-build ({named_by})")
