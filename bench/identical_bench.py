"""Identical triggers at once, through the server: N builds of the example crate with the same
options posted together to `POST /api/builds` on a warm cache, then followed until every one
has ended. Printed: the seconds from the first trigger until the last build ended, how many
builds ran (the others joined one of them), and the artifact every one of them ended with.

It runs against its own server, started as bench/server_bench.py starts it (gunicorn, the
worker, Redis database 14, a scratch SQLite database), after one build that warms the caches.

    .venv/bin/python bench/identical_bench.py [--triggers N] [--target TRIPLE]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests
from server_bench import BASE, POLL_SECONDS, _seconds_between, _server_build, running_server

FINAL_STATES = ("finished", "failed", "cancelled")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triggers", type=int, default=20, help="identical triggers at once")
    parser.add_argument("--target", default="aarch64-unknown-linux-gnu")
    args = parser.parse_args()
    with running_server() as server:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {server.token}"
        print(f"warming the caches ({args.target}, a first build)", flush=True)
        _server_build(session, args.target)
        identical_triggers(session, args.triggers, args.target)


def _trigger(token: str, target: str) -> dict:
    """One `POST /api/builds`, on a connection of its own (the posts run in threads)."""
    created = requests.post(
        f"{BASE}/api/builds",
        json={"project": "hello-cross", "target": target},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    created.raise_for_status()
    return created.json()


def _until_all_ended(session: requests.Session, ids: set[int]) -> list[dict]:
    """Poll the build list (one request a round) until every build of `ids` has ended."""
    while True:
        listed = session.get(f"{BASE}/api/builds?limit=200", timeout=30).json()["items"]
        ours = [build for build in listed if build["id"] in ids]
        if len(ours) == len(ids) and all(build["state"] in FINAL_STATES for build in ours):
            return ours
        time.sleep(POLL_SECONDS)


def identical_triggers(session: requests.Session, count: int, target: str) -> None:
    token = session.headers["Authorization"].removeprefix("Bearer ")
    print(f"{count} identical triggers at once ({target}, debug, warm cache):", flush=True)
    started_at = datetime.now(UTC).isoformat()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        created = list(pool.map(lambda _: _trigger(token, target), range(count)))
    ended = _until_all_ended(session, {build["id"] for build in created})
    polled = time.perf_counter() - started
    last = max(_seconds_between(started_at, build["finished_at"]) for build in ended)
    ran = sorted(build["id"] for build in ended if build["joined_build"] is None)
    states = sorted({(build["state"], build["success"]) for build in ended})
    checksums = {artifact["sha256"] for build in ended for artifact in build["artifacts"]}
    print(f"  all {count} ended {last:.2f} s after the first trigger ({polled:.2f} s as polled)")
    print(
        f"  builds that ran: {len(ran)} ({', '.join(f'#{pk}' for pk in ran)}); the other "
        f"{count - len(ran)} joined one of them"
    )
    print(f"  final states: {states}; artifact sha256: {', '.join(sorted(checksums))}")


if __name__ == "__main__":
    main()
