"""Command-staff dashboard benchmark (PostgreSQL, a real ``hub web`` server).

    .venv/bin/python tests/benchmarks/bench_command.py [--quick] [--sections abc]

Builds its own PostgreSQL database (dropped at the end), bulk-loads the synthetic roster of
bench_consult.py (10 macro-regions, requesters, patients, specialists on call), one command
officer per dashboard client with a personal token, and the consult history (COPY): 1,000,000
closed consults and 100,000 open ones spread over the regions. Then measures:

  (b) the dashboard aggregate per refresh: ``consult.queues.open_queue()`` for a region's
      command officer (counts, breaches and waiting-time quantiles per specialty and urgency,
      the first ROW_LIMIT rows), p50/p99 over repeated refreshes; national view for reference;
  (a) 1,000 Socket.IO dashboard clients (asyncio clients in two processes, spread over the
      regions' command rooms): from a consult submission to its "consult.updated" notice at the
      last client of the region, p50/p99;
  (c) POST /api/v1/consults throughput without, then with the 1,000 dashboards connected, in
      the same run against the same server.

The clients receive the notices and do not fetch the board again (the page's refetch is (b)'s
query). ``--quick`` uses 100,000 / 10,000 consults and 200 clients. See tests/benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench_consult import (  # noqa: E402
    QUICK,
    URGENCIES,
    Roster,
    _copy,
    consult_body,
    http_load,
    load_roster,
    loadavg,
    ms,
    pct,
    plain_dsn,
    say,
    server_problems,
    start_server,
    table,
    verdict,
)

OPEN_STATUSES = ("submitted", "offered", "escalated", "accepted")
CLOSED_STATUSES = ("closed", "signed", "cancelled", "expired", "declined")


@dataclass(frozen=True)
class Size:
    name: str
    historical: int
    open: int
    clients: int
    refreshes: int
    fanout_events: int


FULL = Size("full", 1_000_000, 100_000, 1_000, 60, 60)
SMALL = Size("quick", 100_000, 10_000, 200, 30, 30)


def load_consults(url: str, roster: Roster, size: Size, rng: random.Random) -> None:
    """COPY the history: closed consults over the last two years, open ones of the last days."""
    import psycopg

    now = datetime.now(UTC)
    specialties = list(roster.main_specialties.values())
    requesters = [(r.user_id, r.facility_id, r.patient_ids) for r in roster.requesters]
    region_of = {post: region for post, _u, region in roster.posts}
    columns = (
        "patient_id",
        "requester_id",
        "requester_facility_id",
        "region_id",
        "specialty_id",
        "urgency",
        "mode",
        "tech_level",
        "question",
        "vitals",
        "status",
        "registered_after",
        "escalation_stage",
        "routing_trace",
        "created_at",
        "submitted_at",
        "accept_due_at",
        "answer_due_at",
        "answer_alerted",
        "closed_at",
    )

    def rows() -> Any:
        for i in range(size.historical + size.open):
            is_open = i >= size.historical
            user, facility, patients = requesters[i % len(requesters)]
            if is_open:
                status = rng.choice(OPEN_STATUSES)
                start = now - timedelta(seconds=rng.uniform(30, 3 * 86400))
            else:
                status = rng.choice(CLOSED_STATUSES)
                start = now - timedelta(days=rng.uniform(3, 730))
            accept_due = start + timedelta(hours=rng.choice((1, 4, 24)))
            answer_due = accept_due + timedelta(hours=24) if status == "accepted" else None
            yield (
                patients[i % len(patients)],
                user,
                facility,
                region_of[facility],
                rng.choice(specialties),
                rng.choices(URGENCIES, [6, 3, 1])[0],
                "async",
                "basic",
                "Historical consult",
                "{}",
                status,
                False,
                0,
                "[]",
                start,
                start,
                accept_due,
                answer_due,
                False,
                None if is_open else start + timedelta(days=1),
            )

    with psycopg.connect(plain_dsn(url)) as conn, conn.cursor() as cur:
        _copy(cur, "consult", columns, rows())
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM (ANALYZE) consult")
        cur.execute("CHECKPOINT")


def add_officers(url: str, roster: Roster, n: int) -> list[tuple[int, str, int]]:
    """n command officers spread over the regions, each with a personal token."""
    import psycopg

    from hub.services.tokens import PERSONAL_PREFIX, digest

    regions = sorted({r for _p, _u, r in roster.posts})
    now = datetime.now(UTC)
    officers = []
    with psycopg.connect(plain_dsn(url)) as conn, conn.cursor() as cur:
        for i in range(n):
            region = regions[i % len(regions)]
            token = PERSONAL_PREFIX + secrets.token_urlsafe(32)
            row = cur.execute(
                "INSERT INTO user_account (username, full_name, is_active, region_id, "
                "failed_logins, created_at) VALUES (%s, %s, true, %s, 0, %s) RETURNING id",
                (f"cmd{i:05d}", f"Officer {i}", region, now),
            ).fetchone()
            assert row is not None
            uid = row[0]
            cur.execute("INSERT INTO user_role (user_id, role) VALUES (%s, 'command')", (uid,))
            cur.execute(
                "INSERT INTO personal_token (user_id, token_hash, name, created_at, expires_at) "
                "VALUES (%s, %s, 'bench', %s, %s)",
                (uid, digest(token), now, now + timedelta(days=1)),
            )
            officers.append((uid, token, region))
        conn.commit()
    return officers


# --- (b) the aggregate per refresh -----------------------------------------------------------


def bench_aggregate(
    url: str, tmp: Path, officers: list[tuple[int, str, int]], refreshes: int
) -> dict[str, list[float]]:
    from sqlalchemy import select

    from consult import queues
    from consult.access import consult_visibility
    from consult.queues import open_queue
    from hub import db
    from hub.auth.principal import SYSTEM, user_principal
    from hub.models import User, utcnow
    from referral.command.board import board
    from tests.support.apps import make_app

    app = make_app(url, tmp / "agg-data")
    out: dict[str, list[float]] = {
        "aggregates": [],
        "row list": [],
        "region": [],
        "national": [],
        "groups": [],
        "rows": [],
        "open": [],
        "board": [],
    }
    session = db.get_db(app).new_session()
    try:
        chosen = list({region: (uid, tok, region) for uid, tok, region in officers}.values())
        principals = [
            user_principal(session.scalars(select(User).where(User.id == uid)).one(), "token")
            for uid, _t, _r in chosen
        ]
        for i in range(refreshes + 3):
            principal = principals[i % len(principals)]
            t0 = time.perf_counter()
            queue = open_queue(session, principal)
            elapsed = time.perf_counter() - t0
            session.rollback()
            # The two queries alone (the rest is the permission check and the audit record).
            visible, now = consult_visibility(principal), utcnow()
            t1 = time.perf_counter()
            queues._aggregates(session, visible, now)
            t2 = time.perf_counter()
            queues._rows(session, visible, now, breached_only=False)
            t3 = time.perf_counter()
            session.rollback()
            # The command centre's whole board (/command refetches it): the queue above plus
            # staffing, the pressure grid, teleradiology, referral loops and transfers.
            t4 = time.perf_counter()
            board(session, principal)
            t5 = time.perf_counter()
            session.rollback()
            if i >= 3:  # warm-up
                out["aggregates"].append(t2 - t1)
                out["row list"].append(t3 - t2)
                out["region"].append(elapsed)
                out["board"].append(t5 - t4)
                out["groups"].append(len(queue.groups))
                out["rows"].append(len(queue.rows))
                out["open"].append(queue.total)
        for i in range(max(5, refreshes // 6)):
            t0 = time.perf_counter()
            open_queue(session, SYSTEM)
            if i:
                out["national"].append(time.perf_counter() - t0)
            session.rollback()
    finally:
        session.close()
    return out


# --- (a) fan-out -----------------------------------------------------------------------------


def _dashboards(base_url: str, officers: list[tuple[int, str, int]], pipe: Any) -> None:
    """A process of its own: one asyncio Socket.IO client per officer; arrival times with
    time.monotonic() (system-wide, comparable with the parent's), sent back on "dump"."""
    import socketio

    arrivals: list[tuple[int, int, float]] = []
    failures: list[str] = []

    async def main() -> None:
        clients = []
        gate = asyncio.Semaphore(25)

        async def connect(uid: int, token: str) -> None:
            sio = socketio.AsyncClient(reconnection=False, logger=False, engineio_logger=False)

            async def on_update(data: dict[str, Any]) -> None:
                arrivals.append((int(data.get("consult_id") or 0), uid, time.monotonic()))

            sio.on("consult.updated", on_update)
            async with gate:
                try:
                    await sio.connect(
                        base_url, auth={"token": token}, transports=["websocket"], wait_timeout=30
                    )
                except Exception as exc:
                    failures.append(f"officer {uid}: {type(exc).__name__}: {exc}")
                    return
            clients.append(sio)

        await asyncio.gather(*(connect(uid, token) for uid, token, _r in officers))
        loop = asyncio.get_running_loop()
        pipe.send(("ready", len(clients), failures[:5]))
        while True:
            cmd = await loop.run_in_executor(None, pipe.recv)
            if cmd != "dump":
                break
            out = list(arrivals)
            arrivals.clear()
            pipe.send((out, sum(1 for c in clients if c.connected)))
        for sio in clients:
            with contextlib.suppress(Exception):
                await sio.disconnect()
        pipe.send("stopped")

    asyncio.run(main())


class Dashboards:
    def __init__(self, base_url: str, officers: list[tuple[int, str, int]], processes: int = 2):
        ctx = multiprocessing.get_context("spawn")
        self.pipes, self.procs = [], []
        for k in range(processes):
            mine, child = ctx.Pipe()
            proc = ctx.Process(
                target=_dashboards, args=(base_url, officers[k::processes], child), daemon=True
            )
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)
        self.connected, self.failures = 0, []
        for pipe in self.pipes:
            if not pipe.poll(300):
                raise RuntimeError("the dashboards did not connect within 300 s")
            _tag, n, failures = pipe.recv()
            self.connected += n
            self.failures += failures

    def dump(self) -> list[tuple[int, int, float]]:
        out = []
        for pipe in self.pipes:
            pipe.send("dump")
        for pipe in self.pipes:
            got, _connected = pipe.recv()
            out += got
        return out

    def stop(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(Exception):
                pipe.send("stop")
                if pipe.poll(30):
                    pipe.recv()
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()


def bench_fanout(
    base_url: str,
    roster: Roster,
    officers: list[tuple[int, str, int]],
    dashboards: Dashboards,
    events: int,
    rng: random.Random,
) -> dict[str, Any]:
    """Paced submissions (4/s), each in some region: the time from the request's start (and
    from its response) to the notice at the region's last connected dashboard."""
    import requests

    region_of = {post: region for post, _u, region in roster.posts}
    room_size: dict[int, int] = defaultdict(int)
    for _uid, _token, region in officers:
        room_size[region] += 1
    s = requests.Session()
    sent: dict[int, tuple[float, float, int]] = {}
    dashboards.dump()
    failures = 0
    for _ in range(events):
        req = rng.choice(roster.requesters)
        body = consult_body(
            rng.choice(req.patient_ids),
            rng.choice(sorted(roster.main_specialties)),
            "urgent",
            "bench-cmd",
        )
        start = time.monotonic()
        try:
            resp = s.post(
                f"{base_url}/api/v1/consults",
                json=body,
                headers={
                    "Authorization": f"Bearer {req.token}",
                    "Idempotency-Key": uuid.uuid4().hex,
                },
                timeout=30,
            )
        except requests.RequestException:
            failures += 1
            continue
        end = time.monotonic()
        if resp.status_code != 201:
            failures += 1
        else:
            sent[resp.json()["id"]] = (start, end, region_of[req.facility_id])
        time.sleep(0.25)
    time.sleep(3)
    arrivals: dict[int, list[float]] = defaultdict(list)
    for consult_id, _uid, t in dashboards.dump():
        if consult_id in sent:
            arrivals[consult_id].append(t)
    from_start, from_response, complete = [], [], 0
    for consult_id, (start, end, region) in sent.items():
        got = arrivals.get(consult_id, [])
        # The first notice of a consult (its submission) reaches every client of the room;
        # later ones (offers) arrive too: the last client is the room-size-th arrival.
        got.sort()
        n = room_size[region]
        if len(got) >= n:
            complete += 1
            last = got[n - 1]
        else:
            last = float("inf")
        from_start.append(last - start)
        from_response.append(last - end)
    return {
        "sent": len(sent),
        "failed": failures,
        "complete": complete,
        "from_start": from_start,
        "from_response": from_response,
    }


# --- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 consults, 200 clients")
    parser.add_argument("--sections", default="abc")
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args(argv)
    size = SMALL if args.quick else FULL
    sections = set(args.sections.lower())
    rng = random.Random(args.seed)
    scale = replace(QUICK, http_seconds=8.0, http_warmup=1.0)
    warmup = replace(scale, http_seconds=4.0)

    from tests.support.databases import temporary_database

    say(f"== command dashboard benchmark ({size.name}) {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    say(f"machine: {os.cpu_count()} CPU cores, load average at start {loadavg()} (1/5/15 min)")
    summary: list[list[str]] = []
    server = dashboards = None
    with tempfile.TemporaryDirectory(prefix="bench-command-") as tmpdir:
        tmp = Path(tmpdir)
        with temporary_database("postgresql", tmp) as url:
            try:
                t = time.monotonic()
                roster = load_roster(url, scale, rng)
                officers = add_officers(url, roster, size.clients)
                say(
                    f"roster and {len(officers)} command officers loaded in "
                    f"{time.monotonic() - t:.1f} s"
                )
                t = time.monotonic()
                load_consults(url, roster, size, rng)
                say(
                    f"{size.historical:,} closed + {size.open:,} open consults loaded (COPY) "
                    f"and analysed in {time.monotonic() - t:.1f} s"
                )
                if "b" in sections:
                    agg = bench_aggregate(url, tmp, officers, size.refreshes)
                    table(
                        f"(b) open_queue() per refresh, {size.refreshes} refreshes",
                        ["view", "open consults", "groups", "rows", "p50", "p99"],
                        [
                            [
                                "a region's command officer",
                                f"{int(pct(agg['open'], 50)):,}",
                                int(pct(agg["groups"], 50)),
                                int(pct(agg["rows"], 50)),
                                ms(pct(agg["region"], 50)),
                                ms(pct(agg["region"], 99)),
                            ],
                            [
                                "a region's command centre board (/command)",
                                f"{int(pct(agg['open'], 50)):,}",
                                "",
                                "",
                                ms(pct(agg["board"], 50)),
                                ms(pct(agg["board"], 99)),
                            ],
                            [
                                "national (every region)",
                                f"{size.open:,}",
                                "",
                                "",
                                ms(pct(agg["national"], 50)),
                                ms(pct(agg["national"], 99)),
                            ],
                        ],
                    )
                    for part in ("aggregates", "row list"):
                        say(
                            f"  {part} query alone (region): p50 {ms(pct(agg[part], 50))}, "
                            f"p99 {ms(pct(agg[part], 99))}"
                        )
                    p99 = pct(agg["region"], 99)
                    summary.append(
                        ["(b) region refresh p99", ms(p99), "<= 200 ms", verdict(p99 <= 0.2)]
                    )
                    p99 = pct(agg["board"], 99)
                    summary.append(
                        ["(b) command board p99", ms(p99), "<= 200 ms", verdict(p99 <= 0.2)]
                    )
                if sections & set("ac"):
                    threads = size.clients + 64
                    server = start_server(url, tmp, threads, False, 1)
                    say(f"web server on {server.base_url} ({threads} threads, one process)")
                    without = with_ = None
                    if "c" in sections:
                        # A discarded warm-up first: a server's first seconds are slower.
                        http_load(server.port, "consult", warmup, roster, args.seed + 7)
                        without = http_load(server.port, "consult", scale, roster, args.seed)
                    t = time.monotonic()
                    dashboards = Dashboards(server.base_url, officers)
                    say(
                        f"{dashboards.connected} of {len(officers)} dashboards connected in "
                        f"{time.monotonic() - t:.1f} s"
                        + (f"; failures: {dashboards.failures}" if dashboards.failures else "")
                    )
                    if "a" in sections:
                        fan = bench_fanout(
                            server.base_url, roster, officers, dashboards, size.fanout_events, rng
                        )
                        table(
                            f"(a) fan-out to the last of the region's dashboards "
                            f"({dashboards.connected} connected, "
                            f"{fan['sent']} submissions answered, {fan['failed']} failed, "
                            f"{fan['complete']} reached every client)",
                            ["measured from", "p50", "p99"],
                            [
                                [
                                    "the submission's request start",
                                    ms(pct(fan["from_start"], 50)),
                                    ms(pct(fan["from_start"], 99)),
                                ],
                                [
                                    "its response",
                                    ms(pct(fan["from_response"], 50)),
                                    ms(pct(fan["from_response"], 99)),
                                ],
                            ],
                        )
                        p99 = pct(fan["from_start"], 99)
                        summary.append(
                            [
                                "(a) fan-out p99 (from request start)",
                                ms(p99),
                                "<= 250 ms",
                                verdict(p99 <= 0.25),
                            ]
                        )
                    if "c" in sections:
                        with_ = http_load(server.port, "consult", scale, roster, args.seed + 1)
                        dashboards.dump()
                        assert without is not None
                        table(
                            f"(c) POST /api/v1/consults, {without.concurrency} concurrent clients, "
                            f"{scale.http_seconds:.0f} s each",
                            ["dashboards connected", "submissions/s", "p50", "p99", "responses"],
                            [
                                [
                                    "none",
                                    f"{without.throughput:.1f}",
                                    ms(pct(without.lat, 50)),
                                    ms(pct(without.lat, 99)),
                                    without.statuses,
                                ],
                                [
                                    str(dashboards.connected),
                                    f"{with_.throughput:.1f}",
                                    ms(pct(with_.lat, 50)),
                                    ms(pct(with_.lat, 99)),
                                    with_.statuses,
                                ],
                            ],
                        )
                        dashboards.stop()
                        dashboards = None
                        after = http_load(server.port, "consult", scale, roster, args.seed + 2)
                        say(
                            f"  after the dashboards disconnected: {after.throughput:.1f}/s, "
                            f"p50 {ms(pct(after.lat, 50))}, p99 {ms(pct(after.lat, 99))}"
                        )
                        ratio = with_.throughput / without.throughput if without.throughput else 0.0
                        summary.append(
                            [
                                "(c) throughput with / without dashboards",
                                f"{ratio:.2f}",
                                "(info)",
                                "",
                            ]
                        )
            finally:
                if server is not None:
                    problems = server_problems(server)
                    if problems:
                        say(f"server log problems ({len(problems)}), the first ones:")
                        for line in problems[:10]:
                            say(f"  {line[:300]}")
                if dashboards is not None:
                    dashboards.stop()
                if server is not None:
                    server.cleanup()
    table("Summary", ["figure", "measured", "target", "verdict"], summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
