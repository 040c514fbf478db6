"""Images made from a project's own Dockerfile (FR2): which Dockerfile a target uses, what its
build context sends, and the image itself, named by a hash of what it is made of so that it is
never built twice.

The context is listed once (with `.dockerignore` applied, as the engine would), measured
against a limit and packed from that same list: a context that is too large is refused before
anything is sent. The image's name hashes the reviewed text, the build arguments, the base
images' ids and the context files its COPY and ADD take, not every file sent: an edit of a
source file the image does not hold keeps the image, and with it the build's warm target cache.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from docker.models.images import Image
from docker.utils.build import create_archive, exclude_paths

from runtimes import naming
from runtimes.engine import Engine
from runtimes.errors import UsageError, XcargoError
from runtimes.images.builder import build_image, find_image, label_instruction
from runtimes.images.review import DockerfileReview, review_dockerfile
from runtimes.images.review.context_sources import WHOLE_CONTEXT
from runtimes.sizes import human_size
from runtimes.vocabulary import IMAGE

LineCallback = Callable[[str], None]

#: The Dockerfile a project root may hold for all its targets (the design's name).
PROJECT_DOCKERFILE = "xcargo.dockerfile"
DOCKERIGNORE = ".dockerignore"
#: A context above this is refused: it would be sent to the engine on every change.
MAX_CONTEXT_BYTES = 512 * 1024 * 1024
#: The name a Dockerfile outside its context is sent under.
_SENT_DOCKERFILE = ".xcargo.Dockerfile"


class CustomImageError(XcargoError):
    """A custom image could not be made: the engine's build failed."""

    kind = IMAGE


_BUILD_ARG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_build_arg_name(name: str) -> str:
    if not _BUILD_ARG_NAME.fullmatch(name):
        raise UsageError(
            f"{name[:60]!r} is not a valid build argument name",
            hint="use letters, digits and '_', not starting with a digit, e.g. RUST_VERSION",
        )
    return name


def check_build_arg_value(value: str) -> str:
    if "\x00" in value:
        raise UsageError("a build argument cannot contain a NUL character")
    return value


def _refuse_unusable(text: str, what: str) -> None:
    """An empty path, or one with control characters, is no path a person meant."""
    if not text or any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise UsageError(f"{what} {text[:60]!r} is not a usable path")


def check_relative_path(text: str, what: str) -> str:
    """A path that will be resolved inside a project later (the server's checkout): relative,
    with no `..`; symlinks that leave the project are refused when it is resolved.
    """
    _refuse_unusable(text, what)
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts:
        raise UsageError(
            f"{what} {text[:60]!r} must stay inside the project",
            hint="a path relative to the project root, without '..', e.g. docker/cross.Dockerfile",
        )
    return text


def path_inside(root: Path, text: str, what: str) -> Path:
    """`text` (relative to `root`, or absolute) resolved, symlinks followed, and refused
    unless it stays inside `root`: a Dockerfile or context is read from the project only.
    """
    _refuse_unusable(text, what)
    try:
        path = (root / Path(text).expanduser()).resolve()
    except (OSError, RuntimeError) as err:  # an unknown ~user, a symlink loop
        raise UsageError(f"{what} {text!r} cannot be resolved") from err
    if not path.is_relative_to(root.resolve()):
        raise UsageError(
            f"{what} {text!r} is outside the project ({root})",
            hint="use a path inside the project, e.g. docker/build.Dockerfile",
        )
    return path


@dataclass(frozen=True)
class CustomDockerfile:
    """The Dockerfile a target builds its image from, and where that choice came from."""

    dockerfile: Path
    context: Path
    build_args: Mapping[str, str]
    named_by: str
    # Its path relative to the project root, as messages show it.
    shown: str

    def text(self) -> str:
        try:
            return self.dockerfile.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(
                f"{self.named_by} names {self.dockerfile}, which does not exist"
            ) from None
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"{self.dockerfile} cannot be read as UTF-8 text: {err}") from None

    @property
    def name_in_context(self) -> str:
        """Where the engine finds the Dockerfile in the context it is sent."""
        if self.dockerfile.is_relative_to(self.context):
            return self.dockerfile.relative_to(self.context).as_posix()
        return _SENT_DOCKERFILE


def find_dockerfile(
    root: Path,
    triple: str,
    *,
    configured: Path | None,
    configured_by: str = "",
    context: Path | None,
    build_args: Mapping[str, str],
    named: str | None = None,
    named_by: str = "--dockerfile",
) -> CustomDockerfile | None:
    """The target's Dockerfile: one named with the build, else the one the configuration sets
    for the target (`configured_by` says where), else `xcargo.dockerfile` in the project root;
    None when there is none. The context is the project root unless the configuration sets one.
    """
    root = root.resolve()
    if named:
        path, by = path_inside(root, named, "the Dockerfile"), f"{named_by} {named}"
    elif configured is not None:
        path = configured
        by = configured_by or f'xcargo.toml: [targets."{triple}".container] dockerfile'
    elif (root / PROJECT_DOCKERFILE).is_file():
        path = path_inside(root, PROJECT_DOCKERFILE, "the Dockerfile")
        by = f"{PROJECT_DOCKERFILE} in the project root"
    else:
        return None
    if not path.is_file():
        raise UsageError(f"{by}: {path} is not a file")
    shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    return CustomDockerfile(path, context or root, dict(build_args), by, shown)


@dataclass(frozen=True)
class BuildContext:
    """What the engine is sent: the files of the context after `.dockerignore`."""

    root: Path
    files: tuple[str, ...]
    size: int

    def describe(self) -> str:
        return f"{len(self.files)} files, {human_size(self.size)}"


@dataclass(frozen=True)
class CustomImage:
    """A custom image as it will be made: the Dockerfile's text as read once (the very text
    that was reviewed is the one built), its review, its context, and its name.
    """

    dockerfile: CustomDockerfile
    text: str
    review: DockerfileReview
    context: BuildContext
    reference: str


ImageIds = Callable[[str], str | None]


def prepare_custom_image(
    custom: CustomDockerfile, *, image_ids: ImageIds, limit: int = MAX_CONTEXT_BYTES
) -> CustomImage:
    """Read, review and measure what the image is made of, and name it by a hash of exactly
    that: the text, the build arguments, the images it starts from as the engine has them
    (`image_ids`: an image's id, None when missing) and the files of the context that its
    COPY and ADD take. Editing a source file the image does not take keeps the image, and so
    the build's warm target cache; a re-made base image makes a new one.
    """
    text = custom.text()
    review = review_dockerfile(text, build_args=custom.build_args)
    context = read_context(custom, limit=limit)
    digest = hashlib.sha256()
    bases = {
        used.reference.canonical: image_ids(used.reference.canonical) for used in review.images
    }
    material = {"dockerfile": text, "args": dict(custom.build_args), "bases": bases}
    digest.update(json.dumps(material, sort_keys=True).encode())
    for name in context.files:
        if _taken(name, review.context_sources):
            digest.update(_entry(context.root / name, name))
    return CustomImage(custom, text, review, context, naming.custom_image(digest.hexdigest()))


def read_context(custom: CustomDockerfile, *, limit: int = MAX_CONTEXT_BYTES) -> BuildContext:
    """List and measure the context; refuse it past `limit`, naming the largest parts."""
    root = custom.context
    if not root.is_dir():
        raise UsageError(f"the build context {root} is not a directory")
    files = tuple(sorted(exclude_paths(str(root), _ignore_patterns(root), custom.name_in_context)))
    size = 0
    for name in files:
        info = os.lstat(root / name)
        if stat.S_ISREG(info.st_mode):
            size += info.st_size
            if size > limit:
                raise _too_large(root, files, limit)
    return BuildContext(root, files, size)


def _taken(name: str, sources: tuple[str, ...] | None) -> bool:
    """Whether COPY or ADD takes this context path: it, or a directory above it, matches a
    source (globs as Docker's, `*` crossing `/` too: when in doubt, a file counts).
    """
    if sources is None or WHOLE_CONTEXT in sources:
        return True
    parts = name.split("/")
    above = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatchcase(path, source) for source in sources for path in above)


def _entry(path: Path, name: str) -> bytes:
    """One context entry as the image sees it: its name, mode and content (a link's target,
    never what it points to).
    """
    info = os.lstat(path)
    if stat.S_ISREG(info.st_mode):
        content = _file_digest(path)
    elif stat.S_ISLNK(info.st_mode):
        content = "link:" + os.readlink(path)
    else:
        content = "dir" if stat.S_ISDIR(info.st_mode) else "other"
    return f"\0{name}\0{stat.S_IMODE(info.st_mode):o}\0{content}".encode()


def _ignore_patterns(root: Path) -> list[str]:
    path = root / DOCKERIGNORE
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _too_large(root: Path, files: tuple[str, ...], limit: int) -> UsageError:
    """Name the top-level entries that weigh most, so the user knows what to ignore."""
    weights: dict[str, int] = {}
    for name in files:
        path = root / name
        if path.is_file() and not path.is_symlink():
            top = name.split("/", 1)[0]
            weights[top] = weights.get(top, 0) + path.stat().st_size
    heaviest = sorted(weights.items(), key=lambda item: -item[1])[:3]
    listed = ", ".join(f"{name} ({human_size(size)})" for name, size in heaviest)
    return UsageError(
        f"the build context {root} sends more than {human_size(limit)} to the engine "
        f"(the largest: {listed})",
        hint=f"list what the image does not need in {root / DOCKERIGNORE}, e.g. target/ and .git/",
    )


def ensure_custom_image(
    engine: Engine, image: CustomImage, *, project: str, on_line: LineCallback
) -> Image:
    """The custom image, built only when no image has its name (the hash of its material)."""
    tag, shown = image.reference, image.dockerfile.shown
    existing = find_image(engine, tag)
    if existing is not None:
        on_line(f"xcargo: {shown} and what it takes are unchanged: image {tag} is not rebuilt")
        return existing
    on_line(f"xcargo: building {tag} from {shown} (context: {image.context.describe()})")
    labels = naming.managed_labels(naming.KIND_CUSTOM, project=project)
    text = image.text.rstrip("\n") + "\n" + label_instruction(labels)
    sent_as = image.dockerfile.name_in_context
    with tempfile.TemporaryFile() as archive:
        create_archive(
            root=str(image.context.root),
            files=list(image.context.files),
            fileobj=archive,
            extra_files=[(sent_as, text)],
        )
        image_id = build_image(
            engine,
            tag=tag,
            on_line=on_line,
            error=CustomImageError,
            fileobj=archive,
            custom_context=True,
            dockerfile=sent_as,
            buildargs=dict(image.dockerfile.build_args),
            pull=False,
        )
    on_line(f"xcargo: built {tag} ({naming.image_key(image_id)})")
    return engine.client.images.get(image_id)
