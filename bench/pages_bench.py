"""Pages of a server with a long history: the build list, a build page and its log polls, the
API's list and the dashboard, timed over HTTP against 50 ms.

The bench fills a scratch database with 100 000 builds of a year (25 projects of 2 to 5
targets, busy and quiet ones; finished, unsuccessful, failed, cancelled, a few queued; an
artifact per successful build) and one running build whose log has 1 000 000 lines, stored as
the worker's log writer stores it. It starts gunicorn as `make run` does and signs in; asks
for every page three times unmeasured, then times each page: the median and 90th percentile of
sequential requests. The dashboard is also timed before any build is made: what its projects
and targets cost alone.

The database is a scratch SQLite file by default; with --database-url, a scratch database
made on that PostgreSQL server (its name is the bench's own, whatever the URL names) and
dropped at the end.

    .venv/bin/python bench/pages_bench.py [--builds N] [--log-lines N] [--requests N]
                                          [--database-url postgres://USER:PASSWORD@HOST:PORT]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import psycopg
import serving
from build_logs import add_log_lines, compile_line
from serving import ROOT

if TYPE_CHECKING:
    import requests
    from django.contrib.auth.models import User

    from builds.models import Build, EngineHost, Target

PORT = 8766
BASE = f"http://127.0.0.1:{PORT}"
THRESHOLD_MS = 50.0
WARM_ROUNDS = 3
PASSWORD = "bench-password"
PROJECTS = 25
TRIPLES = (
    "aarch64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "armv7-unknown-linux-gnueabihf",
    "x86_64-pc-windows-gnu",
    "riscv64gc-unknown-linux-gnu",
    "wasm32-unknown-unknown",
    "aarch64-unknown-linux-musl",
)
USERS = ("admin", "ana", "bo", "chen", "dara", "eli", "fatou", "ci")
FAILURES = ("image", "timeout", "engine", "source", "worker lost", "disk")
BATCH = 5000
# A page timed: its label in the table, its path, and the headers it is asked with.
Page = tuple[str, str, dict[str, str] | None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", type=int, default=100_000, help="builds in the database")
    parser.add_argument("--log-lines", type=int, default=1_000_000, help="lines of the long log")
    parser.add_argument("--requests", type=int, default=20, help="requests per page measured")
    parser.add_argument("--database-url", default="", help="a PostgreSQL server to use")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    with (
        tempfile.TemporaryDirectory(prefix="xcargo-pages-bench-") as var,
        _scratch_database(args.database_url) as database_url,
    ):
        _use_scratch(Path(var), database_url)
        run(args, Path(var))


@contextmanager
def _scratch_database(server_url: str) -> Iterator[str]:
    """A new PostgreSQL database on the server of `server_url`, dropped afterwards; its name is
    made here, so that no existing database is ever written or dropped. No URL: no database
    here (SQLite, in the scratch directory).
    """
    if not server_url:
        yield ""
        return
    name = f"xcargo_pages_bench_{secrets.token_hex(4)}"
    maintenance = _with_database(server_url, "postgres")
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server_url, name)
    finally:
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def _use_scratch(var: Path, database_url: str) -> None:
    """Point Django, here and in gunicorn, at the scratch directory and database."""
    os.environ.update(XCARGO_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="xcargo_web.settings")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)


def run(args: argparse.Namespace, var: Path) -> None:
    """Make the team's projects, serve them, time the dashboard; then fill the history in and
    time every page.
    """
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    rng = random.Random(15)
    team = Team(_users(), _engine_hosts(), _targets(rng))
    processes = serving.start({"web": serving.gunicorn_command(PORT)}, dict(os.environ), var)
    try:
        serving.wait_until(lambda: serving.answers(BASE), f"the server did not start; see {var}")
        session = serving.sign_in(BASE, "admin", PASSWORD)
        no_builds = _timed(session, [("`/` (dashboard)", "/", None)], args.requests)[0]
        started = time.monotonic()
        history = fill(rng, team, args.builds, args.log_lines)
        print(
            f"{args.builds} builds and a running one with a {args.log_lines}-line log, on "
            f"{_database_name()} (filled in {time.monotonic() - started:.0f} s); "
            f"{args.requests} requests per page",
            flush=True,
        )
        measure(session, history, args.requests, no_builds)
    finally:
        serving.stop(processes)


def _database_name() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"PostgreSQL {connection.pg_version // 10000}.{connection.pg_version % 10000}"
    return f"SQLite {connection.Database.sqlite_version}"


@dataclass(frozen=True)
class Team:
    people: list[User]
    hosts: list[EngineHost]
    # The busiest project's first.
    targets: list[Target]


@dataclass(frozen=True)
class History:
    builds: int
    long_build: int
    log_lines: int
    project: str


def fill(rng: random.Random, team: Team, builds: int, log_lines: int) -> History:
    """The team's history, in bulk inserts: `builds` builds, then the running one."""
    from django.db import connection

    targets, hosts, people = team.targets, team.hosts, team.people
    # The first projects are the busy ones: project n gets 1/n of the first one's builds.
    rank = {project: n for n, project in enumerate(sorted({t.project_id for t in targets}), 1)}
    weights = [1 / rank[target.project_id] for target in targets]
    now = _now()
    for first in range(0, builds, BATCH):
        numbers = range(first, min(first + BATCH, builds))
        chosen = rng.choices(targets, weights, k=len(numbers))
        made = [
            _build(rng, number, builds, now, target, rng.choice(hosts), rng.choice(people))
            for number, target in zip(numbers, chosen, strict=True)
        ]
        _insert(made)
    long_build = _long_build(targets[0], hosts[0], people[0], log_lines)
    if connection.vendor == "postgresql":
        # What autovacuum does to a table after a bulk load, at once: the planner's statistics,
        # and the visibility map that lets a count or an offset read an index alone.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE builds_build, builds_artifact, builds_logchunk")
    return History(builds + 1, long_build, log_lines, targets[0].project.slug)


def _now() -> datetime:
    from django.utils import timezone

    return timezone.now()


def _users() -> list[User]:
    from django.contrib.auth.models import User

    User.objects.create_superuser("admin", password=PASSWORD)
    User.objects.bulk_create(User(username=name) for name in USERS[1:])
    return list(User.objects.order_by("pk"))


def _engine_hosts() -> list[EngineHost]:
    from builds.models import EngineHost

    return EngineHost.objects.bulk_create(
        EngineHost(name=name, queue=f"xcargo.builds.{name}", kind="docker")
        for name in ("builder-1", "builder-2")
    )


def _targets(rng: random.Random) -> list[Target]:
    """Every project's targets, the busiest project's first."""
    from builds.models import Project, Target

    projects = Project.objects.bulk_create(
        Project(
            name=f"service-{number:02d}",
            slug=f"service-{number:02d}",
            git_url=f"https://git.example.com/team/service-{number:02d}.git",
            default_ref="main",
        )
        for number in range(PROJECTS)
    )
    Target.objects.bulk_create(
        Target(project=project, triple=triple)
        for project in projects
        for triple in rng.sample(TRIPLES, rng.randint(2, 5))
    )
    return list(Target.objects.select_related("project").order_by("project_id", "id"))


def _build(
    rng: random.Random,
    number: int,
    builds: int,
    now: datetime,
    target: Target,
    host: EngineHost,
    person: User,
) -> Build:
    """Build `number` of `builds`, oldest first, over the year before `now`."""
    from builds.models import Build

    created = now - timedelta(days=365) * (builds - number) / builds
    state, success, error = _outcome(rng, queued=builds - number <= 5)
    started = None if state in ("queued", "cancelled") else created + timedelta(seconds=2)
    took = timedelta(seconds=rng.randint(10, 600))
    ended = None if state == "queued" else (started or created) + took
    return Build(
        project=target.project,
        target=target,
        engine_host=host,
        triggered_by=person,
        ref=rng.choice(("main", "main", "main", f"feature/ticket-{number % 900}")),
        commit=f"{rng.getrandbits(160):040x}",
        state=state,
        success=success,
        error_kind=error,
        error_message=f"{error}: see the log" if error else "",
        exit_code=None if success is None else (0 if success else 101),
        created_at=created,
        started_at=started,
        finished_at=ended,
        phases={"prepare": 0.4, "fetch": 1.2, "build": 42.0, "collect": 0.1} if started else {},
        crates_downloaded=rng.randint(0, 60),
        image=f"localhost/xcargo/toolchain:{target.triple}-1.98",
        image_source="toolchain",
        rustc_version="rustc 1.98.0" if started else "",
        toolchain="1.98",
        strategy="container",
        log_lines=rng.randint(40, 3000) if started else 0,
    )


def _outcome(rng: random.Random, *, queued: bool) -> tuple[str, bool | None, str]:
    """State, success and error kind, in the proportions of a team's server."""
    draw = rng.random()
    if queued:
        return "queued", None, ""
    if draw < 0.78:
        return "finished", True, ""
    if draw < 0.88:
        return "finished", False, "compile"
    if draw < 0.95:
        return "failed", False, rng.choice(FAILURES)
    return "cancelled", None, "cancelled"


def _insert(made: list[Build]) -> None:
    """The builds with the creation times given (bulk_create would stamp them all with now),
    then an artifact for each successful one.
    """
    from builds.models import Artifact, Build

    with mock.patch.object(Build._meta.get_field("created_at"), "auto_now_add", False):
        Build.objects.bulk_create(made, batch_size=500)
    Artifact.objects.bulk_create(
        (
            Artifact(
                build=build,
                name=build.project.slug,
                path=f"{build.target.triple}/debug/{build.project.slug}",
                size=4_000_000 + build.pk,
                sha256=f"{build.pk:064x}",
                file=f"builds/{build.pk}/{build.project.slug}",
            )
            for build in made
            if build.success
        ),
        batch_size=1000,
    )


def _long_build(target: Target, host: EngineHost, person: User, log_lines: int) -> int:
    """The newest build, running, with a log of `log_lines` lines."""
    from builds.models import Build

    build = Build.objects.create(
        project=target.project,
        target=target,
        engine_host=host,
        triggered_by=person,
        ref="main",
        state=Build.State.BUILDING,
        started_at=_now(),
        heartbeat_at=_now(),
    )
    add_log_lines(build.pk, 0, log_lines)
    return build.pk


def measure(
    session: requests.Session, history: History, requests: int, no_builds: serving.Timing
) -> None:
    """Print the table, then the pages over the threshold, if any."""
    long_build, last = history.long_build, history.log_lines
    _expect(session, f"/builds/{long_build}/log/lines/?after={last - 20}", compile_line(last - 1))
    _expect(session, "/builds/", f"{history.builds} builds")
    pages = _pages(history)
    timings = _timed(session, pages, requests)
    rows = [
        (label, timing) for (label, _path, _headers), timing in zip(pages, timings, strict=True)
    ]
    rows.append(("`/` (dashboard), the same projects before any build", no_builds))
    print(f"\n| page, {history.builds} builds | median | p90 | median / {THRESHOLD_MS:.0f} ms | |")
    print("|---|---|---|---|---|")
    for label, timing in rows:
        print(
            f"| {label} | {timing.median_ms:.1f} ms | {timing.p90_ms:.1f} ms "
            f"| {timing.median_ms / THRESHOLD_MS:.2f} | {_verdict(timing)} |"
        )
    load = ", ".join(f"{average:.1f}" for average in os.getloadavg())
    print(f"\nload average at the end (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")
    over = [label for label, timing in rows if _verdict(timing) == "FAIL"]
    print(f"over {THRESHOLD_MS:.0f} ms: {', '.join(over)}" if over else "every page PASS")


def _timed(session: requests.Session, pages: list[Page], requests: int) -> list[serving.Timing]:
    """Each page's timing. Unmeasured rounds first: each of gunicorn's threads opens its
    database connection (a PostgreSQL one is then kept) and fills its caches before any
    request is timed.
    """
    for _ in range(WARM_ROUNDS):
        for _label, path, headers in pages:
            session.get(f"{BASE}{path}", headers=headers, timeout=60).raise_for_status()
    return [
        serving.time_get(session, f"{BASE}{path}", requests, headers)
        for _label, path, headers in pages
    ]


def _verdict(timing: serving.Timing) -> str:
    return "PASS" if timing.median_ms < THRESHOLD_MS else "FAIL"


def _pages(history: History) -> list[Page]:
    """Label, path and headers of each page timed; the log polls as htmx sends them."""
    long_build, lines, near_end = history.long_build, history.log_lines, history.log_lines - 20
    htmx = {"HX-Request": "true"}
    return [
        ("`/builds/` (first page)", "/builds/", None),
        ("`/builds/?page=1000` (deep page)", "/builds/?page=1000", None),
        ("`/builds/?state=failed`", "/builds/?state=failed", None),
        (f"`/builds/?project={history.project}`", f"/builds/?project={history.project}", None),
        (
            f"`/builds/?project={history.project}&state=finished`",
            f"/builds/?project={history.project}&state=finished",
            None,
        ),
        (f"`/builds/?target={TRIPLES[0]}`", f"/builds/?target={TRIPLES[0]}", None),
        (f"`/builds/?user={USERS[2]}`", f"/builds/?user={USERS[2]}", None),
        (f"`/builds/{long_build}/` ({lines}-line log)", f"/builds/{long_build}/", None),
        ("its live part (htmx poll)", f"/builds/{long_build}/", htmx),
        (
            f"log poll `?after={near_end}` (near the end)",
            f"/builds/{long_build}/log/lines/?after={near_end}",
            htmx,
        ),
        ("log poll `?after=0` (from the start)", f"/builds/{long_build}/log/lines/?after=0", htmx),
        (
            f"`/api/builds/{long_build}/log?offset={near_end}`",
            f"/api/builds/{long_build}/log?offset={near_end}",
            None,
        ),
        ("`/api/builds?limit=50`", "/api/builds?limit=50", None),
        ("`/` (dashboard)", "/", None),
    ]


def _expect(session: requests.Session, path: str, text: str) -> None:
    """The page holds `text`: what is timed is the page with the data, not an empty one."""
    response = session.get(f"{BASE}{path}", timeout=60)
    response.raise_for_status()
    if text not in response.text:
        raise SystemExit(f"{path} does not show {text!r}")


if __name__ == "__main__":
    main()
