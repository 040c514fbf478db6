"""What starts the server at boot: the systemd units are valid units whose commands exist, once
the repository is where they expect it (systemd-analyze verify, with their paths pointed here).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
UNITS = REPOSITORY / "deploy" / "systemd"
INSTALLED_AT = "/opt/xcargo-web"


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    names = sorted(path.name for path in UNITS.iterdir())
    for name in names:
        text = (UNITS / name).read_text()
        assert INSTALLED_AT in text or name.endswith(".target")
        (tmp_path / name).write_text(text.replace(INSTALLED_AT, str(REPOSITORY)))

    verified = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert verified.returncode == 0, verified.stderr
    assert names == [
        "xcargo-web-beat.service",
        "xcargo-web-web.service",
        "xcargo-web-worker.service",
        "xcargo-web.target",
    ]


def test_each_unit_restarts_its_process_and_stops_all_of_it() -> None:
    for unit in UNITS.glob("*.service"):
        text = unit.read_text()
        assert "Restart=always" in text and "KillMode=control-group" in text, unit.name
        assert "WantedBy=xcargo-web.target" in text and "PartOf=xcargo-web.target" in text
