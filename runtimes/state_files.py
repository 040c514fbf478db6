"""The small JSON records xcargo keeps under its state directory (copy stamps, smoke memos,
build records, compiler cache counts): each written whole or not at all, since builds of other
projects may read and write beside it, and a record that cannot be read is no record.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from runtimes import naming


def record_path(state_dir: Path, kind: str, identity: str) -> Path:
    """Where the record of `identity` (anything that names it exactly) lives: a file named by
    its hash, in the directory of its kind.
    """
    return state_dir / kind / f"{naming.short_hash(identity, 24)}.json"


def write_json(path: Path, data: object) -> None:
    """Write `data` to a temporary file beside `path` and rename it over `path`: a reader sees
    the old record or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(data, out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """The record at `path`; None when there is none or it is not JSON."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
