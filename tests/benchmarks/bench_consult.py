"""Consult benchmark on a synthetic national roster (PostgreSQL, a real ``hub web`` server).

    .venv/bin/python tests/benchmarks/bench_consult.py [--quick] [--sections abcd] [--strict]
        [--web-workers N]

Builds its own PostgreSQL database (dropped at the end), bulk-loads 10 macro-regions,
60 universities, 20,000 level-1 health posts (+ level-2/3 hospitals), 5,000 specialists on call
now, requesters with personal tokens and patients with consult consent, then measures:

  (a) the routing decision: ``consult.rosters.candidates_for()`` (the DB load) + ``route()``;
  (b) POST /api/v1/consults throughput and latency over HTTP, against the same server's bare
      /healthz at the same concurrency, as a ratio;
  (c) submit -> specialist's Socket.IO "consult.updated" latency at a paced 100 submissions/s;
  (d) 10,000 submissions from 200 clients with random retries (same Idempotency-Key) while 50
      specialists claim from their worklists; lost, duplicated and double-claimed consults are
      counted in the database afterwards.

``--quick`` scales the roster and (d) down for a smoke run. The exit status is 1 when the
benchmark itself failed or (d) found lost / duplicated / double-claimed consults; performance
targets that are not met only fail the run with ``--strict``. See tests/benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import random
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Heavy imports (the hub, SQLAlchemy, Socket.IO) happen inside functions, so the load-generator
# processes started with "spawn" stay light.

D_SPECIALTY = "dermatology"  # reserved for (c) and (d): only the claiming specialists cover it
URGENCIES = ("routine", "urgent", "emergency")
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@dataclass(frozen=True)
class Scale:
    name: str
    regions: int
    universities: int
    health_posts: int
    specialists: int
    requesters: int
    patients_per_requester: int
    decisions: int  # (a)
    http_warmup: float  # (b), seconds per endpoint
    http_seconds: float
    http_processes: int
    http_threads: int  # per process
    rt_rate: float  # (c), submissions per second
    rt_seconds: float
    d_submissions: int  # (d)
    d_clients: int
    d_claimers: int


FULL = Scale(
    "full",
    regions=10,
    universities=60,
    health_posts=20_000,
    specialists=5_000,
    requesters=1_000,
    patients_per_requester=4,
    decisions=2_000,
    http_warmup=2.0,
    http_seconds=15.0,
    http_processes=2,
    http_threads=8,
    rt_rate=100.0,
    rt_seconds=20.0,
    d_submissions=10_000,
    d_clients=200,
    d_claimers=50,
)
QUICK = Scale(
    "quick",
    regions=10,
    universities=20,
    health_posts=2_000,
    specialists=500,
    requesters=100,
    patients_per_requester=3,
    decisions=300,
    http_warmup=1.0,
    http_seconds=4.0,
    http_processes=2,
    http_threads=4,
    rt_rate=100.0,
    rt_seconds=5.0,
    d_submissions=600,
    d_clients=20,
    d_claimers=20,
)


# --- small helpers ---------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values, +inf propagates (missing counts as worst)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    if math.isinf(seconds):
        return "inf"
    return f"{seconds * 1000:.2f} ms"


def say(text: str = "") -> None:
    print(text, flush=True)


def table(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    body = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)
    ]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    say()
    say(title)
    say(line)
    say("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    say(line)
    for r in body:
        say("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    say(line)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


# --- the synthetic roster --------------------------------------------------------------------


@dataclass
class Requester:
    user_id: int
    token: str
    facility_id: int
    patient_ids: list[int]


@dataclass
class Roster:
    posts: list[tuple[int, int, int]] = field(default_factory=list)  # (facility, uni, region)
    main_specialties: dict[str, int] = field(default_factory=dict)  # code -> id
    d_specialty_id: int = 0
    claimers: list[tuple[int, str, int]] = field(default_factory=list)  # (user, token, region)
    requesters: list[Requester] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _copy(cur: Any, table_name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    n = 0
    with cur.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def load_roster(url: str, scale: Scale, rng: random.Random) -> Roster:
    """Bulk-load the organisation tree, specialists, shifts, requesters, tokens and patients.

    Ids are assigned here (the database is new) and the sequences moved past them afterwards.
    """
    import psycopg
    from psycopg import sql

    from hub.services.tokens import PERSONAL_PREFIX, digest

    roster = Roster()
    now = datetime.now(UTC)
    with psycopg.connect(plain_dsn(url)) as conn, conn.cursor() as cur:
        specialties = dict(cur.execute("SELECT code, id FROM specialty").fetchall())
        roster.d_specialty_id = specialties[D_SPECIALTY]
        roster.main_specialties = {c: i for c, i in specialties.items() if c != D_SPECIALTY}
        main_ids = list(roster.main_specialties.values())

        cur.execute("INSERT INTO country (id, code, name) VALUES (1, 'IR', 'Iran')")
        regions = list(range(1, scale.regions + 1))
        _copy(
            cur,
            "macro_region",
            ("id", "code", "number", "name", "country_id"),
            ((r, f"MR{r:02d}", r, f"Macro-region {r}", 1) for r in regions),
        )
        unis = [(u, regions[(u - 1) % len(regions)]) for u in range(1, scale.universities + 1)]
        _copy(
            cur,
            "university",
            ("id", "code", "name", "region_id"),
            ((u, f"UNI{u:03d}", f"University {u}", r) for u, r in unis),
        )

        facilities: list[tuple[int, str, str, str, int, int | None, int, str]] = []
        hospitals: list[tuple[int, int, float]] = []  # (facility, region, weight)
        fid = 0
        for u, r in unis:  # four level-2 hospitals and one level-3 hospital per university
            for level in (2, 2, 2, 2, 3):
                fid += 1
                facilities.append(
                    (fid, f"H{fid:05d}", f"Hospital {fid}", "hospital", level, u, r, "Asia/Tehran")
                )
                hospitals.append((fid, r, 3.0 if level == 3 else 1.0))
        for r in regions:  # an independent virtual clinic per region (no university)
            fid += 1
            facilities.append(
                (
                    fid,
                    f"VC{fid:05d}",
                    f"Virtual clinic {fid}",
                    "virtual_clinic",
                    2,
                    None,
                    r,
                    "Asia/Tehran",
                )
            )
            hospitals.append((fid, r, 2.0))
        for i in range(scale.health_posts):
            u, r = unis[i % len(unis)]
            fid += 1
            facilities.append(
                (fid, f"HP{fid:06d}", f"Health post {fid}", "health_post", 1, u, r, "Asia/Tehran")
            )
            roster.posts.append((fid, u, r))
        _copy(
            cur,
            "facility",
            ("id", "code", "name", "kind", "level", "university_id", "region_id", "timezone"),
            facilities,
        )
        region_of_facility = {f[0]: f[6] for f in facilities}

        # Specialists at level-2/3 facilities, one or two specialties, on call now.
        users: list[tuple[Any, ...]] = []
        roles: list[tuple[int, int, str]] = []
        user_specialties: list[tuple[int, int]] = []
        shifts: list[tuple[Any, ...]] = []
        statuses: list[tuple[Any, ...]] = []
        tokens: list[tuple[Any, ...]] = []
        weights = [w for _f, _r, w in hospitals]
        uid = 0
        specialist_facility: dict[int, int] = {}
        for _ in range(scale.specialists):
            uid += 1
            facility = rng.choices(hospitals, weights)[0][0]
            specialist_facility[uid] = facility
            users.append((uid, f"spec{uid:05d}", f"Specialist {uid}", True, facility, 0, now))
            roles.append((len(roles) + 1, uid, "specialist"))
            codes = rng.sample(main_ids, 2 if rng.random() < 0.25 else 1)
            for spec in codes:
                user_specialties.append((uid, spec))
                start = now - timedelta(hours=rng.uniform(0.5, 10))
                end = now + timedelta(hours=rng.uniform(2, 14))
                shifts.append((len(shifts) + 1, uid, spec, facility, start, end))
                if rng.random() < 0.05:  # an overlapping second shift: counted once
                    shifts.append(
                        (len(shifts) + 1, uid, spec, facility, start, end + timedelta(hours=4))
                    )
                for day in (1, 2, 3):  # the week around today: past and future shifts
                    past = now - timedelta(days=day, hours=8)
                    shifts.append(
                        (len(shifts) + 1, uid, spec, facility, past, past + timedelta(hours=12))
                    )
                    future = now + timedelta(days=day)
                    shifts.append(
                        (len(shifts) + 1, uid, spec, facility, future, future + timedelta(hours=12))
                    )
            if rng.random() < 0.85:  # the rest have never set a status (outer join -> None)
                state = rng.choices(["available", "busy", "on_break", "off_shift"], [85, 7, 5, 3])[
                    0
                ]
                paused = now + timedelta(minutes=30) if rng.random() < 0.03 else None
                last = now - timedelta(minutes=rng.uniform(1, 600)) if rng.random() < 0.7 else None
                statuses.append((uid, state, paused, rng.randint(3, 8), last, now))

        # The claimers of (d) (and listeners of (c)): d_claimers // regions per region, the
        # only specialists on call for D_SPECIALTY, always available with no case limit.
        per_region = max(1, scale.d_claimers // len(regions))
        by_region: dict[int, list[int]] = defaultdict(list)
        for user, facility in specialist_facility.items():
            by_region[region_of_facility[facility]].append(user)
        claimer_ids: list[tuple[int, int]] = []
        for r in regions:
            for user in rng.sample(by_region[r], min(per_region, len(by_region[r]))):
                claimer_ids.append((user, r))
        statuses = [s for s in statuses if s[0] not in {c for c, _ in claimer_ids}]
        for user, r in claimer_ids:
            facility = specialist_facility[user]
            user_specialties.append((user, roster.d_specialty_id))
            shifts.append(
                (
                    len(shifts) + 1,
                    user,
                    roster.d_specialty_id,
                    facility,
                    now - timedelta(hours=1),
                    now + timedelta(days=2),
                )
            )
            statuses.append((user, "available", None, 1_000_000, None, now))
            token = PERSONAL_PREFIX + secrets.token_urlsafe(32)
            tokens.append(
                (len(tokens) + 1, user, digest(token), "bench", now, now + timedelta(days=1))
            )
            roster.claimers.append((user, token, r))

        # Requesters at distinct health posts, each with patients who consented.
        patients: list[tuple[Any, ...]] = []
        consents: list[tuple[Any, ...]] = []
        for post_id, _u, _r in rng.sample(roster.posts, scale.requesters):
            uid += 1
            users.append((uid, f"req{uid:05d}", f"Requester {uid}", True, post_id, 0, now))
            roles.append((len(roles) + 1, uid, rng.choice(["gp", "nurse", "chw"])))
            token = PERSONAL_PREFIX + secrets.token_urlsafe(32)
            tokens.append(
                (len(tokens) + 1, uid, digest(token), "bench", now, now + timedelta(days=1))
            )
            ids = []
            for _ in range(scale.patients_per_requester):
                pid = len(patients) + 1
                ids.append(pid)
                patients.append(
                    (
                        pid,
                        "IR",
                        f"{9_000_000_000 + pid}",
                        "Given",
                        f"Family{pid}",
                        date(1950, 1, 1) + timedelta(days=rng.randint(0, 25_000)),
                        rng.choice(["female", "male"]),
                        post_id,
                        uid,
                        now,
                        now,
                    )
                )
                scopes = ["consult", "video"] if pid % 2 else ["consult"]
                for scope in scopes:
                    consents.append(
                        (
                            len(consents) + 1,
                            pid,
                            scope,
                            "verbal",
                            f"Family{pid}",
                            "self",
                            now - timedelta(days=1),
                            uid,
                            now,
                        )
                    )
            roster.requesters.append(Requester(uid, token, post_id, ids))

        _copy(
            cur,
            "user_account",
            (
                "id",
                "username",
                "full_name",
                "is_active",
                "facility_id",
                "failed_logins",
                "created_at",
            ),
            users,
        )
        _copy(cur, "user_role", ("id", "user_id", "role"), roles)
        _copy(cur, "user_specialty", ("user_id", "specialty_id"), user_specialties)
        _copy(
            cur,
            "roster_shift",
            ("id", "specialist_id", "specialty_id", "facility_id", "starts_at", "ends_at"),
            shifts,
        )
        _copy(
            cur,
            "specialist_status",
            (
                "user_id",
                "state",
                "paused_until",
                "max_concurrent",
                "last_assigned_at",
                "updated_at",
            ),
            statuses,
        )
        _copy(
            cur,
            "personal_token",
            ("id", "user_id", "token_hash", "name", "created_at", "expires_at"),
            tokens,
        )
        _copy(
            cur,
            "patient",
            (
                "id",
                "id_country",
                "national_id",
                "given_name",
                "family_name",
                "date_of_birth",
                "sex",
                "home_facility_id",
                "created_by_id",
                "created_at",
                "updated_at",
            ),
            patients,
        )
        _copy(
            cur,
            "consent",
            (
                "id",
                "patient_id",
                "scope",
                "method",
                "given_by_name",
                "relationship_to_patient",
                "given_at",
                "recorded_by_id",
                "recorded_at",
            ),
            consents,
        )
        for name in (
            "country",
            "macro_region",
            "university",
            "facility",
            "user_account",
            "user_role",
            "roster_shift",
            "personal_token",
            "patient",
            "consent",
        ):
            cur.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({}, 'id'), (SELECT max(id) FROM {}))"
                ).format(sql.Literal(name), sql.Identifier(name))
            )
        conn.commit()
        conn.autocommit = True
        # Vacuumed as well as analysed: a roster in service was vacuumed long ago, while a
        # freshly bulk-loaded one would be vacuumed by autovacuum in the middle of (a).
        cur.execute("VACUUM (ANALYZE)")
        cur.execute("CHECKPOINT")  # and its writes done before anything is measured
        roster.counts = {
            "macro-regions": len(regions),
            "universities": len(unis),
            "health posts (level 1)": scale.health_posts,
            "hospitals + virtual clinics (level 2/3)": len(hospitals),
            "specialists": scale.specialists,
            "on-call shifts (week)": len(shifts),
            "shifts covering now": sum(1 for s in shifts if s[4] <= now < s[5]),
            "specialist status rows": len(statuses),
            "requesters": scale.requesters,
            "patients (with consult consent)": len(patients),
            "consents": len(consents),
            "claiming specialists": len(roster.claimers),
        }
    return roster


# --- (a) routing -----------------------------------------------------------------------------


@dataclass
class RoutingResult:
    label: str
    n: int
    route_only: list[float]
    cands: list[float]
    total: list[float]
    sql: list[float]
    candidates_avg: float
    explain_ms: float | None
    accepted_consults: int


def bench_routing(
    url: str, roster: Roster, decisions: int, rng: random.Random, label: str
) -> RoutingResult:
    from sqlalchemy import event, func, select
    from sqlalchemy.orm import sessionmaker

    from consult.models import Consult, ConsultStatus
    from consult.rosters import candidates_for
    from consult.routing import Request, route
    from hub.db import make_engine

    engine = make_engine(url)
    sql_time = [0.0]
    executed: list[tuple[str, Any]] = []
    started: list[float] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _before(_conn: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: Any) -> None:
        started.append(time.perf_counter())
        if len(executed) < 100:
            executed.append((statement, params))

    @event.listens_for(engine, "after_cursor_execute")
    def _after(*_args: Any) -> None:
        sql_time[0] += time.perf_counter() - started.pop()

    factory = sessionmaker(engine)
    route_only, cands, total, sql, sizes = [], [], [], [], []
    specs = list(roster.main_specialties.values())
    try:
        with factory() as session:
            accepted = (
                session.scalar(
                    select(func.count())
                    .select_from(Consult)
                    .where(Consult.status == ConsultStatus.ACCEPTED)
                )
                or 0
            )
            session.rollback()
            for i in range(decisions + 50):  # the first 50 warm caches and are not counted
                _post, uni, region = rng.choice(roster.posts)
                urgency = rng.choices(URGENCIES, [6, 3, 1])[0]
                spec = rng.choice(specs)
                now = datetime.now(UTC)
                # Inside a request the connection is already checked out (with its pre-ping)
                # and the transaction begun (the token's lookup came first); do that outside
                # the timed part. The driver begins the transaction with the first statement.
                session.execute(select(1))
                sql_time[0] = 0.0
                t0 = time.perf_counter()
                req = Request(urgency=urgency, university_id=uni, region_id=region, now=now)
                found = candidates_for(session, spec, req)
                t1 = time.perf_counter()
                decision = route(req, found)
                t2 = time.perf_counter()
                session.rollback()  # end the read transaction as a request would
                assert decision.trace
                if i >= 50:
                    cands.append(t1 - t0)
                    route_only.append(t2 - t1)
                    total.append(t2 - t0)
                    sql.append(sql_time[0])
                    sizes.append(len(found))
            # The candidates queries' own execution time inside PostgreSQL, once.
            _post, uni, region = roster.posts[0]
            now = datetime.now(UTC)
            executed.clear()
            candidates_for(
                session,
                specs[0],
                Request(urgency="routine", university_id=uni, region_id=region, now=now),
            )
            explain_ms = 0.0
            statements = list(executed)  # the EXPLAINs below go through the same listener
            with engine.connect() as conn:
                for statement, params in statements:
                    plan = conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params
                    ).scalar()
                    if isinstance(plan, str):
                        plan = json.loads(plan)
                    explain_ms += float(plan[0]["Execution Time"])
    finally:
        engine.dispose()
    return RoutingResult(
        label,
        len(total),
        route_only,
        cands,
        total,
        sql,
        sum(sizes) / max(1, len(sizes)),
        explain_ms,
        accepted,
    )


def report_routing(results: list[RoutingResult]) -> None:
    rows = []
    for r in results:
        rows += [
            [r.label, "route() only (pure)", ms(pct(r.route_only, 50)), ms(pct(r.route_only, 99))],
            [r.label, "candidates_for() (DB load)", ms(pct(r.cands, 50)), ms(pct(r.cands, 99))],
            [r.label, "  of which SQL round trips", ms(pct(r.sql, 50)), ms(pct(r.sql, 99))],
            [r.label, "candidates_for() + route()", ms(pct(r.total, 50)), ms(pct(r.total, 99))],
        ]
    table("(a) Routing decision", ["roster state", "step", "median", "p99"], rows)
    for r in results:
        explain = f"{r.explain_ms:.2f} ms" if r.explain_ms is not None else "n/a"
        say(
            f"  [{r.label}] {r.n} decisions, {r.candidates_avg:.0f} on-call candidates per "
            f"specialty on average, {r.accepted_consults} accepted consults in the table; "
            f"candidates queries execution inside PostgreSQL (EXPLAIN ANALYZE, summed): {explain}"
        )


# --- the web server --------------------------------------------------------------------------


def redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception:
        return False
    return True


def start_server(url: str, tmp: Path, threads: int, use_redis: bool, workers: int) -> Any:
    from tests.support.processes import free_port, hub_env, start_hub

    port = free_port()
    values = {
        "HUB_DATABASE_URL": url,
        "HUB_BROKER_URL": "memory://",
        "HUB_RESULT_BACKEND": "cache+memory://",
        "HUB_HTTP_PORT": str(port),
        "HUB_SECRET_KEY": secrets.token_urlsafe(48),
        "HUB_DATA_DIR": str(tmp / "data"),
        "HUB_WEB_THREADS": str(threads),
        "HUB_WEB_WORKERS": str(workers),
    }
    if use_redis:
        values["HUB_REDIS_URL"] = REDIS_URL
        values["HUB_SOCKETIO_CHANNEL"] = f"hub-bench-{uuid.uuid4().hex[:8]}"
    proc = start_hub("web", env=hub_env(**values), log_dir=tmp / "logs", port=port)
    try:
        proc.wait_http("/healthz", timeout=90)
    except BaseException:
        proc.cleanup()
        raise
    return proc


def server_problems(proc: Any) -> list[str]:
    lines = proc.output().splitlines()
    return [
        ln
        for ln in lines
        if "unhandled" in ln or "Traceback" in ln or " ERROR" in ln or "[CRITICAL]" in ln
    ]


class ActivitySampler:
    """Samples pg_stat_activity of the benchmark database twice a second while a phase runs:
    what the web server's database connections are doing (a coarse lock/CPU profile)."""

    QUERY = (
        "SELECT pid, state, wait_event_type, query, pg_blocking_pids(pid) "
        "FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    )

    def __init__(self, url: str, period: float = 0.5) -> None:
        self.url, self.period = url, period
        self.samples = 0
        self.counts: Counter[str] = Counter()
        self.holders: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(plain_dsn(self.url), autocommit=True) as conn:
            while not self._stop.wait(self.period):
                rows = conn.execute(self.QUERY).fetchall()
                states = {pid: state for pid, state, _w, _q, _b in rows}
                holders: set[int] = set()
                for _pid, state, wait, query, blockers in rows:
                    if wait == "Lock" and "audit_head" in (query or ""):
                        what = "waiting for the audit_head row lock"
                        holders.update(blockers or ())
                    elif wait == "Lock":
                        what = "waiting for another lock"
                    elif state == "active":
                        what = "running a statement in PostgreSQL"
                    elif state == "idle in transaction":
                        what = "idle in transaction (the web process is working)"
                    else:
                        what = f"{state or 'unknown'} (between requests)"
                    self.counts[what] += 1
                for pid in holders:
                    self.holders[states.get(pid) or "gone"] += 1
                self.samples += 1

    def report(self, title: str) -> None:
        if not self.samples:
            return
        table(
            title,
            ["server DB connections", "on average"],
            [[k, f"{v / self.samples:.2f}"] for k, v in self.counts.most_common()],
        )
        if self.holders:
            held = sum(self.holders.values())
            say(
                "  the audit_head lock holder was: "
                + ", ".join(
                    f"{state} {100 * n / held:.0f} %" for state, n in self.holders.most_common()
                )
                + " of the samples where someone waited for it"
            )


def consult_body(patient_id: int, specialty: str, urgency: str, marker: str) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "specialty": specialty,
        "urgency": urgency,
        "question": f"[{marker}] Fever and cough for three days; advice on management?",
        "history": "No known allergies.",
        "vitals": {"temperature_c": 38.4, "heart_rate": 96, "spo2": 95},
    }


# --- (b) HTTP throughput ---------------------------------------------------------------------


def _http_worker(task: dict[str, Any]) -> dict[str, Any]:
    """One load-generator process: ``threads`` keep-alive connections for a timed window."""
    import http.client

    port, kind, n_threads = task["port"], task["kind"], task["threads"]
    start_at = task["start_at"]
    measure_from = start_at + task["warmup"]
    end = measure_from + task["duration"]
    jobs, specialties = task["jobs"], task["specialties"]
    results: list[tuple[float, float, int]] = []
    lock = threading.Lock()

    def run(tid: int) -> None:
        rng = random.Random(task["seed"] * 1000 + tid)
        conn: http.client.HTTPConnection | None = None
        local = []
        while time.time() < end:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            if kind == "healthz":
                method, path, body, headers = "GET", "/healthz", None, {}
            elif kind == "me":
                token, _patient_id = rng.choice(jobs)
                method, path, body = "GET", "/api/v1/me", None
                headers = {"Authorization": f"Bearer {token}"}
            else:
                token, patient_id = rng.choice(jobs)
                method, path = "POST", "/api/v1/consults"
                body = json.dumps(
                    consult_body(
                        patient_id,
                        rng.choice(specialties),
                        rng.choices(URGENCIES, [6, 3, 1])[0],
                        "bench-b",
                    )
                )
                headers = {
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"bb-{uuid.uuid4().hex}",
                }
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if (resp.getheader("Connection") or "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                status = -1
                conn.close()
                conn = None
            local.append((time.time(), time.perf_counter() - t0, status))
        if conn is not None:
            conn.close()
        with lock:
            results.extend(local)

    time.sleep(max(0.0, start_at - time.time()))
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    window = [r for r in results if measure_from <= r[0] <= end]
    return {
        "lat": [lat for _t, lat, s in window if 200 <= s < 300],
        "statuses": dict(Counter(s for _t, _lat, s in window)),
    }


@dataclass
class HttpResult:
    kind: str
    throughput: float
    lat: list[float]
    statuses: dict[int, int]
    concurrency: int


def http_load(port: int, kind: str, scale: Scale, roster: Roster, seed: int) -> HttpResult:
    jobs = [(r.token, p) for r in roster.requesters for p in r.patient_ids]
    start_at = time.time() + 3.0  # after the processes are up
    tasks = [
        {
            "port": port,
            "kind": kind,
            "threads": scale.http_threads,
            "start_at": start_at,
            "warmup": scale.http_warmup,
            "duration": scale.http_seconds,
            "jobs": jobs,
            "specialties": sorted(roster.main_specialties),
            "seed": seed * 10 + i,
        }
        for i in range(scale.http_processes)
    ]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(scale.http_processes) as pool:
        parts = pool.map(_http_worker, tasks)
    lat = [x for p in parts for x in p["lat"]]
    statuses: Counter[int] = Counter()
    for p in parts:
        statuses.update({int(k): v for k, v in p["statuses"].items()})
    return HttpResult(
        kind,
        len(lat) / scale.http_seconds,
        lat,
        dict(statuses),
        scale.http_processes * scale.http_threads,
    )


# --- (c) realtime latency --------------------------------------------------------------------


def _socket_listener(base_url: str, specialists: list[tuple[int, str]], pipe: Any) -> None:
    """A process of its own: one Socket.IO client per specialist, arrival times recorded with
    time.monotonic() (system-wide, comparable with the parent's), sent back on "dump"."""
    import socketio

    arrivals: list[tuple[int, int, str, float]] = []
    lock = threading.Lock()
    clients = []
    failures = []

    def make(uid: int) -> Any:
        sio = socketio.Client(reconnection=False, logger=False, engineio_logger=False)

        def on_update(data: dict[str, Any]) -> None:
            t = time.monotonic()
            with lock:
                arrivals.append((int(data.get("consult_id") or 0), uid, str(data.get("status")), t))

        sio.on("consult.updated", on_update)
        return sio

    for uid, token in specialists:
        sio = make(uid)
        try:
            sio.connect(base_url, auth={"token": token}, transports=["websocket"], wait_timeout=20)
        except Exception as exc:
            failures.append(f"specialist {uid}: {type(exc).__name__}: {exc}")
        else:
            clients.append(sio)
    pipe.send(("ready", len(clients), failures))
    while True:
        cmd = pipe.recv()
        if cmd == "dump":
            with lock:
                out = list(arrivals)
                arrivals.clear()
            connected = sum(1 for c in clients if c.connected)
            pipe.send((out, connected))
        else:
            break
    for sio in clients:
        with contextlib.suppress(Exception):
            sio.disconnect()
    pipe.send("stopped")


class Listeners:
    def __init__(self, base_url: str, specialists: list[tuple[int, str]]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_socket_listener, args=(base_url, specialists, child), daemon=True
        )
        self.proc.start()
        if not self.pipe.poll(120):
            raise RuntimeError("the Socket.IO listeners did not connect within 120 s")
        _tag, self.connected, self.failures = self.pipe.recv()

    def dump(self) -> tuple[list[tuple[int, int, str, float]], int]:
        self.pipe.send("dump")
        return self.pipe.recv()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.pipe.send("stop")
            if self.pipe.poll(30):
                self.pipe.recv()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


@dataclass
class RealtimeResult:
    rate_target: float
    seconds: float
    rate_achieved: float
    submitted: int
    failed: int
    expected: int
    delivered: int
    from_start: list[float]
    from_schedule: list[float]
    http_lat: list[float]
    late_starts: int
    connected: int


def bench_realtime(
    base_url: str,
    roster: Roster,
    listeners: Listeners,
    rate: float,
    seconds: float,
    rng: random.Random,
) -> RealtimeResult:
    import requests

    n = int(rate * seconds)
    local = threading.local()
    sent: dict[int, tuple[float, float, float, int, list[int]]] = {}  # i -> sched, start, end..
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    plan = []
    for _ in range(n):
        req = rng.choice(roster.requesters)
        plan.append((req.token, rng.choice(req.patient_ids), rng.choices(URGENCIES, [5, 3, 2])[0]))

    def send(i: int, scheduled: float) -> None:
        if not hasattr(local, "s"):
            local.s = requests.Session()
        token, patient_id, urgency = plan[i]
        start = time.monotonic()
        try:
            resp = local.s.post(
                f"{base_url}/api/v1/consults",
                json=consult_body(patient_id, D_SPECIALTY, urgency, "bench-c"),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": f"bc-{uuid.uuid4().hex}",
                },
                timeout=120,
            )
        except requests.RequestException as exc:
            with lock:
                failures[type(exc).__name__] += 1
            return
        end = time.monotonic()
        if resp.status_code != 201:
            with lock:
                failures[f"HTTP {resp.status_code}"] += 1
            return
        data = resp.json()
        offered = [o["specialist_id"] for o in data["offers"] if o["state"] == "open"]
        with lock:
            sent[i] = (scheduled, start, end, data["id"], offered)

    listeners.dump()  # forget anything earlier
    t0 = time.monotonic() + 0.5
    late = 0
    with ThreadPoolExecutor(max_workers=200) as pool:
        for i in range(n):
            scheduled = t0 + i / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.01:
                late += 1
            pool.submit(send, i, scheduled)
    starts = sorted(v[1] for v in sent.values())
    achieved = (len(starts) - 1) / (starts[-1] - starts[0]) if len(starts) > 1 else 0.0
    expected = {(v[3], uid): v for v in sent.values() for uid in v[4]}
    arrivals: dict[tuple[int, int], float] = {}
    deadline = time.monotonic() + 10
    connected = listeners.connected
    while True:
        got, connected = listeners.dump()
        for consult_id, uid, _status, t in got:
            arrivals.setdefault((consult_id, uid), t)
        if all(k in arrivals for k in expected) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    from_start, from_schedule = [], []
    for key, (scheduled, start, _end, _cid, _offered) in expected.items():
        t = arrivals.get(key)
        from_start.append(math.inf if t is None else t - start)
        from_schedule.append(math.inf if t is None else t - scheduled)
    return RealtimeResult(
        rate,
        seconds,
        achieved,
        len(sent),
        sum(failures.values()),
        len(expected),
        sum(1 for k in expected if k in arrivals),
        from_start,
        from_schedule,
        [v[2] - v[1] for v in sent.values()],
        late,
        connected,
    )


def report_realtime(rt: RealtimeResult, note: str) -> None:
    table(
        f"(c) submit -> specialist's Socket.IO event, paced at {rt.rate_target:.0f} "
        f"submissions/s for {rt.seconds:.0f} s{note}",
        ["measure", "p50", "p99", "max"],
        [
            [
                "HTTP start -> event on the socket",
                ms(pct(rt.from_start, 50)),
                ms(pct(rt.from_start, 99)),
                ms(max(rt.from_start, default=math.nan)),
            ],
            [
                "scheduled send -> event (incl. client lateness)",
                ms(pct(rt.from_schedule, 50)),
                ms(pct(rt.from_schedule, 99)),
                ms(max(rt.from_schedule, default=math.nan)),
            ],
            [
                "HTTP request (submit) alone",
                ms(pct(rt.http_lat, 50)),
                ms(pct(rt.http_lat, 99)),
                ms(max(rt.http_lat, default=math.nan)),
            ],
        ],
    )
    say(
        f"  {rt.submitted} submitted ({rt.failed} failed), achieved rate "
        f"{rt.rate_achieved:.1f}/s, {rt.late_starts} sends started >10 ms late; "
        f"{rt.delivered}/{rt.expected} offered-specialist events delivered (missing ones count "
        f"as infinite); {rt.connected} sockets still connected"
    )


# --- (d) integrity under retries and concurrent claims ---------------------------------------

P_SHORT_TIMEOUT = 0.10  # an attempt gives up after 5-150 ms and is retried with the same key
P_PARALLEL_DUP = 0.03  # the first attempt is sent twice at the same time
P_RESEND_AFTER_ACK = 0.05  # the client resends once more after its 201
MAX_ATTEMPTS = 12
CLAIMS_PER_POLL = 10  # a claimer claims at most this many offers before refreshing its worklist


@dataclass
class IntegrityResult:
    run_id: str
    submitted: int = 0
    posts: int = 0
    acked: dict[str, set[int]] = field(default_factory=dict)
    key_owner: dict[str, int] = field(default_factory=dict)
    unacked: list[str] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    winners: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    submit_seconds: float = 0.0
    total_seconds: float = 0.0
    submit_lat: list[float] = field(default_factory=list)
    claim_lat: list[float] = field(default_factory=list)
    db: dict[str, int] = field(default_factory=dict)


def bench_integrity(
    base_url: str, url: str, roster: Roster, scale: Scale, rng: random.Random
) -> IntegrityResult:
    import requests

    res = IntegrityResult(run_id=uuid.uuid4().hex[:8])
    lock = threading.Lock()
    clients = roster.requesters[: scale.d_clients]
    per_client = [scale.d_submissions // len(clients)] * len(clients)
    for i in range(scale.d_submissions - sum(per_client)):
        per_client[i] += 1
    submit_done = threading.Event()
    api = f"{base_url}/api/v1"

    def post_once(
        sess: Any, key: str, token: str, body: dict[str, Any], timeout: Any
    ) -> tuple[str, int | None]:
        """One POST; returns (outcome, consult id) and records the acknowledgement."""
        t0 = time.perf_counter()
        try:
            resp = sess.post(
                f"{api}/consults",
                json=body,
                timeout=timeout,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
            )
        except requests.Timeout:
            with lock:
                res.posts += 1
                res.counters["client timeouts (retried)"] += 1
            return "retry", None
        except requests.ConnectionError:
            with lock:
                res.posts += 1
                res.counters["connection errors (retried)"] += 1
            return "retry", None
        elapsed = time.perf_counter() - t0
        with lock:
            res.posts += 1
            if resp.status_code == 201:
                cid = int(resp.json()["id"])
                res.acked.setdefault(key, set()).add(cid)
                res.submit_lat.append(elapsed)
                if resp.headers.get("Idempotent-Replayed") == "true":
                    res.counters["replayed (Idempotent-Replayed)"] += 1
                return "ok", cid
            res.counters[f"HTTP {resp.status_code} on submit"] += 1
            if resp.status_code >= 500 or resp.status_code == 429:
                return "retry", None
            res.counters["submit refused: " + resp.text[:120]] += 1
            return "fail", None

    def submitter(client_index: int) -> None:
        me = clients[client_index]
        crng = random.Random(f"{res.run_id}-{client_index}")
        sess = requests.Session()
        for j in range(per_client[client_index]):
            key = f"bd-{res.run_id}-{client_index:03d}-{j:05d}"
            body = consult_body(
                crng.choice(me.patient_ids),
                D_SPECIALTY,
                crng.choices(URGENCIES, [3, 3, 4])[0],
                f"bench-d {key}",
            )
            with lock:
                res.submitted += 1
                res.key_owner[key] = me.user_id
            twin = None
            if crng.random() < P_PARALLEL_DUP:
                with lock:
                    res.counters["sent twice in parallel"] += 1

                def dup(key: str = key, body: dict[str, Any] = body) -> None:
                    with requests.Session() as s2:
                        post_once(s2, key, me.token, body, (5, 120))

                twin = threading.Thread(target=dup)
                twin.start()
            acked = False
            for attempt in range(MAX_ATTEMPTS):
                short = crng.random() < P_SHORT_TIMEOUT
                timeout = (5, crng.uniform(0.005, 0.15)) if short else (5, 120)
                if short:
                    with lock:
                        res.counters["attempts with a short client timeout"] += 1
                outcome, _cid = post_once(sess, key, me.token, body, timeout)
                if outcome == "ok":
                    acked = True
                    break
                if outcome == "fail":
                    break
                time.sleep(min(2.0, 0.05 * 2**attempt) * crng.uniform(0.5, 1.5))
            if acked and crng.random() < P_RESEND_AFTER_ACK:
                with lock:
                    res.counters["resent after 201"] += 1
                post_once(sess, key, me.token, body, (5, 120))
            if twin is not None:
                twin.join()
            with lock:
                if key not in res.acked:
                    res.unacked.append(key)

    def claimer(user_id: int, token: str) -> None:
        crng = random.Random(f"{res.run_id}-claimer-{user_id}")
        sess = requests.Session()
        sess.headers["Authorization"] = f"Bearer {token}"
        idle_after_done = 0
        hard_stop = None
        while True:
            if submit_done.is_set() and hard_stop is None:
                hard_stop = time.monotonic() + 600
            if hard_stop is not None and time.monotonic() > hard_stop:
                with lock:
                    res.counters["claimers stopped by the time limit"] += 1
                return
            try:
                resp = sess.get(f"{api}/worklist", timeout=120)
            except requests.RequestException:
                with lock:
                    res.counters["worklist request errors"] += 1
                time.sleep(1)
                continue
            if resp.status_code != 200:
                with lock:
                    res.counters[f"HTTP {resp.status_code} on worklist"] += 1
                time.sleep(1)
                continue
            open_ids = [it["id"] for it in resp.json()["items"] if it["my_offer"] == "open"]
            with lock:
                res.counters["worklist polls"] += 1
            if not open_ids:
                if submit_done.is_set():
                    idle_after_done += 1
                    if idle_after_done >= 2:
                        return
                time.sleep(crng.uniform(0.7, 1.3))
                continue
            idle_after_done = 0
            # Like a person at the worklist: claim a few, then refresh it (a long stale list
            # would mostly earn 409s for consults others took meanwhile).
            crng.shuffle(open_ids)
            for cid in open_ids[:CLAIMS_PER_POLL]:
                t0 = time.perf_counter()
                try:
                    r = sess.post(f"{api}/consults/{cid}/claim", timeout=120)
                except requests.RequestException:
                    with lock:
                        res.counters["claim request errors"] += 1
                    continue
                with lock:
                    res.claim_lat.append(time.perf_counter() - t0)
                    if r.status_code == 200:
                        res.winners[cid].append(user_id)
                        res.counters["claims won (200)"] += 1
                    elif r.status_code == 409:
                        res.counters["claims lost the race (409)"] += 1
                    else:
                        res.counters[f"HTTP {r.status_code} on claim"] += 1

    t0 = time.monotonic()
    claim_threads = [
        threading.Thread(target=claimer, args=(uid, tok)) for uid, tok, _r in roster.claimers
    ]
    sub_threads = [threading.Thread(target=submitter, args=(i,)) for i in range(len(clients))]
    for t in claim_threads + sub_threads:
        t.start()
    for t in sub_threads:
        t.join()
    res.submit_seconds = time.monotonic() - t0
    submit_done.set()
    for t in claim_threads:
        t.join()
    res.total_seconds = time.monotonic() - t0
    res.db = count_integrity(url, res, roster)
    return res


def count_integrity(url: str, res: IntegrityResult, roster: Roster) -> dict[str, int]:
    """Count in the database, independently of what the clients saw."""
    import psycopg

    with psycopg.connect(plain_dsn(url)) as conn:
        rows = conn.execute(
            "SELECT id, requester_id, idempotency_key, question, status, assigned_to_id "
            "FROM consult WHERE idempotency_key LIKE %s",
            (f"bd-{res.run_id}-%",),
        ).fetchall()
        # Every consult of the database is checked for double claims: the claimers also claim
        # offers of their main specialties (from (b)).
        everything = conn.execute(
            "SELECT id, specialty_id, status, assigned_to_id FROM consult"
        ).fetchall()
        offers = conn.execute(
            "SELECT consult_id, specialist_id, state FROM consult_offer WHERE state = 'claimed'"
        ).fetchall()
        claimed_events = conn.execute(
            "SELECT consult_id, actor_id FROM consult_event WHERE kind = 'claimed'"
        ).fetchall()
    d_consults = [cid for cid, spec, _s, _a in everything if spec == roster.d_specialty_id]
    status_of = {cid: status for cid, _spec, status, _a in everything}
    assigned = {cid: who for cid, _spec, _s, who in everything}
    by_key: dict[tuple[int, str], list[int]] = defaultdict(list)
    by_marker: dict[str, list[int]] = defaultdict(list)
    for cid, requester, key, question, _status, _assigned in rows:
        by_key[(requester, key)].append(cid)
        marker = question.split("]", 1)[0].removeprefix("[bench-d ")
        by_marker[marker].append(cid)
    lost = 0
    duplicated_keys: set[str] = set()
    for key, ids in res.acked.items():
        stored = by_key.get((res.key_owner[key], key), [])
        if not stored:
            lost += 1
        if len(ids) > 1 or (stored and not ids <= set(stored)):
            duplicated_keys.add(key)  # the same key answered with different consults
    for (_requester, key), ids in by_key.items():
        if len(ids) > 1:
            duplicated_keys.add(key)
    for marker, ids in by_marker.items():
        if len(ids) > 1:
            duplicated_keys.add(marker)
    claimed_offers: Counter[int] = Counter()
    claimed_offer_by: dict[int, set[int]] = defaultdict(set)
    for cid, specialist, state in offers:
        if state == "claimed":
            claimed_offers[cid] += 1
            claimed_offer_by[cid].add(specialist)
    events: Counter[int] = Counter(cid for cid, _actor in claimed_events)
    double = set()
    for cid, who in assigned.items():
        winners = res.winners.get(cid, [])
        if claimed_offers[cid] > 1 or events[cid] > 1 or len(winners) > 1:
            double.add(cid)
        if who is not None and claimed_offer_by[cid] != {who}:
            double.add(cid)  # assigned to someone without (only) their claimed offer
        if winners and who != winners[0]:
            double.add(cid)  # the client was told it won, the database says otherwise
    open_left = sum(
        1 for cid in d_consults if status_of.get(cid) in ("offered", "escalated", "declined")
    )
    return {
        "keys submitted": len(res.key_owner),
        "keys acknowledged (201)": len(res.acked),
        "keys never acknowledged": len(res.unacked),
        "consults stored for the run": len(rows),
        "lost": lost,
        "duplicated": len(duplicated_keys),
        "double-claimed (checked over every consult)": len(double),
        "consults of the claimers' specialty (from (c) and (d))": len(d_consults),
        "  of which accepted": sum(1 for c in d_consults if status_of[c] == "accepted"),
        "  of which left unclaimed": open_left,
        "consults claimed in all (incl. (b) offers to the claimers)": sum(
            1 for who in assigned.values() if who is not None
        ),
    }


def verify_audit(url: str) -> tuple[bool, int, str | None]:
    from sqlalchemy.orm import Session

    from hub.audit import verify
    from hub.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            result = verify(session)
    finally:
        engine.dispose()
    return result.ok, result.checked, result.reason


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Summary:
    rows: list[list[str]] = field(default_factory=list)
    perf_ok: bool = True
    integrity_ok: bool = True

    def add(
        self, figure: str, measured: str, target: str, ok: bool | None, integrity: bool = False
    ) -> None:
        self.rows.append([figure, measured, target, verdict(ok)])
        if ok is False:
            if integrity:
                self.integrity_ok = False
            else:
                self.perf_ok = False


def pg_settings(url: str) -> str:
    import psycopg

    with psycopg.connect(plain_dsn(url)) as conn:
        values = [
            conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in (
                "server_version",
                "shared_buffers",
                "synchronous_commit",
                "max_connections",
            )
        ]
    return "PostgreSQL {} (shared_buffers {}, synchronous_commit {}, max_connections {})".format(
        *values
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small roster and (d) smoke run")
    parser.add_argument("--sections", default="abcd", help="which of a, b, c, d to run")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument(
        "--web-workers",
        type=int,
        default=min(os.cpu_count() or 1, 2),
        help="HUB_WEB_WORKERS of the server (default: 2, or 1 on one core; 1 without Redis)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a performance target is not met"
    )
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    sections = set(args.sections.lower())
    rng = random.Random(args.seed)

    from tests.support.databases import temporary_database

    say(f"== consult benchmark ({scale.name}) {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    say(
        f"machine: {os.cpu_count()} CPU cores, load average at start {loadavg()} "
        "(1/5/15 min). The web server, PostgreSQL, Redis and the load generators share these "
        "cores, and other work may be running: figures are of this machine at this moment."
    )
    summary = Summary()
    use_redis = redis_available()
    server = listeners = None
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-consult-") as tmpdir:
        tmp = Path(tmpdir)
        t = time.monotonic()
        with temporary_database("postgresql", tmp) as url:
            try:
                say(
                    f"database: {url.rsplit('/', 1)[1]} (created and migrated in "
                    f"{time.monotonic() - t:.1f} s); {pg_settings(url)}"
                )
                t = time.monotonic()
                roster = load_roster(url, scale, rng)
                say(f"roster bulk-loaded (COPY) and analysed in {time.monotonic() - t:.1f} s")
                table(
                    "Synthetic national roster",
                    ["what", "rows"],
                    [[k, f"{v:,}"] for k, v in roster.counts.items()],
                )

                routing: list[RoutingResult] = []
                consults_per_s = 0.0
                if "a" in sections:
                    routing.append(
                        bench_routing(url, roster, scale.decisions, rng, "empty consult table")
                    )
                    report_routing(routing)
                    r = routing[0]
                    summary.add(
                        "(a) routing p99, candidates_for() + route()",
                        ms(pct(r.total, 99)),
                        "<= 5 ms",
                        pct(r.total, 99) <= 0.005,
                    )
                    summary.add(
                        "(a) routing p99, route() alone", ms(pct(r.route_only, 99)), "(info)", None
                    )

                if sections & set("bcd"):
                    threads = 64 + (len(roster.claimers) if sections & set("cd") else 0)
                    t = time.monotonic()
                    # Several processes share events through Redis only (HUB_WEB_WORKERS).
                    workers = args.web_workers if use_redis else 1
                    server = start_server(url, tmp, threads, use_redis, workers)
                    say(
                        f"\nweb server: `python -m hub web` (gunicorn gthread, {workers} "
                        f"worker process(es) x {threads} threads) on {server.base_url}, up in "
                        f"{time.monotonic() - t:.1f} s; Socket.IO events via "
                        + ("Redis (HUB_REDIS_URL)" if use_redis else "in-process (no Redis)")
                    )

                if "b" in sections:
                    assert server is not None
                    health = http_load(server.port, "healthz", scale, roster, args.seed)
                    # The cheapest authenticated API request (no patient data, nothing
                    # written): what any API call costs before its own work.
                    me = http_load(server.port, "me", scale, roster, args.seed + 2)
                    with ActivitySampler(url) as activity_b:
                        consults = http_load(server.port, "consult", scale, roster, args.seed + 1)
                    ratio = consults.throughput / health.throughput if health.throughput else 0
                    consults_per_s = consults.throughput
                    table(
                        f"(b) HTTP, {health.concurrency} concurrent keep-alive connections "
                        f"({scale.http_processes} processes x {scale.http_threads} threads), "
                        f"{scale.http_seconds:.0f} s measured after {scale.http_warmup:.0f} s "
                        "warm-up",
                        ["endpoint", "requests/s", "p50", "p99", "responses"],
                        [
                            [
                                "GET /healthz",
                                f"{health.throughput:.1f}",
                                ms(pct(health.lat, 50)),
                                ms(pct(health.lat, 99)),
                                health.statuses,
                            ],
                            [
                                "GET /api/v1/me (authenticated)",
                                f"{me.throughput:.1f}",
                                ms(pct(me.lat, 50)),
                                ms(pct(me.lat, 99)),
                                me.statuses,
                            ],
                            [
                                "POST /api/v1/consults",
                                f"{consults.throughput:.1f}",
                                ms(pct(consults.lat, 50)),
                                ms(pct(consults.lat, 99)),
                                consults.statuses,
                            ],
                        ],
                    )
                    say(f"  ratio consult/healthz throughput: {ratio:.3f}")
                    me_ratio = me.throughput / health.throughput if health.throughput else 0
                    say(
                        f"  ratio me/healthz throughput: {me_ratio:.3f} (what token "
                        "authentication and the API layer alone leave of /healthz)"
                    )
                    activity_b.report(
                        "(b) what the server's database connections did during "
                        "the consult submissions (pg_stat_activity samples)"
                    )
                    summary.add(
                        "(b) consult submissions/s over HTTP",
                        f"{consults.throughput:.1f}/s",
                        "(info)",
                        None,
                    )
                    summary.add(
                        "(b) consult submission p99", ms(pct(consults.lat, 99)), "(info)", None
                    )
                    summary.add(
                        "(b) bare /healthz requests/s", f"{health.throughput:.1f}/s", "(info)", None
                    )
                    summary.add(
                        "(b) ratio consults/healthz", f"{ratio:.3f}", ">= 0.5", ratio >= 0.5
                    )
                    summary.add(
                        "(b) ratio GET /api/v1/me / healthz", f"{me_ratio:.3f}", "(info)", None
                    )
                    bad = sum(v for k, v in consults.statuses.items() if k != 201)
                    if bad:
                        say(f"  {bad} consult submissions did not answer 201")

                if sections & set("cd"):
                    assert server is not None
                    t = time.monotonic()
                    listeners = Listeners(
                        server.base_url, [(u, tok) for u, tok, _r in roster.claimers]
                    )
                    say(
                        f"\nSocket.IO: {listeners.connected}/{len(roster.claimers)} specialists "
                        f"connected (websocket) in {time.monotonic() - t:.1f} s"
                    )
                    for failure in listeners.failures[:5]:
                        say(f"  connection failed: {failure}")

                if "c" in sections:
                    assert server is not None and listeners is not None
                    rt = bench_realtime(
                        server.base_url, roster, listeners, scale.rt_rate, scale.rt_seconds, rng
                    )
                    report_realtime(rt, "")
                    p99 = pct(rt.from_start, 99)
                    sustained = rt.rate_achieved >= 0.95 * rt.rate_target and rt.failed == 0
                    note = "" if sustained else f" (only {rt.rate_achieved:.0f}/s sustained)"
                    summary.add(
                        f"(c) submit->event p99 at {rt.rate_target:.0f}/s",
                        ms(p99) + note,
                        "<= 100 ms",
                        p99 <= 0.1 and sustained,
                    )
                    if not sustained:
                        # The same path at a rate the server keeps up with: separates the
                        # realtime delivery from the submission capacity.
                        gentle = max(
                            2.0, min(scale.rt_rate / 2, 0.5 * (consults_per_s or rt.rate_achieved))
                        )
                        rt2 = bench_realtime(
                            server.base_url, roster, listeners, gentle, scale.rt_seconds / 2, rng
                        )
                        report_realtime(rt2, " (diagnostic: a rate this server sustains)")
                        summary.add(
                            f"(c') submit->event p99 at {gentle:.0f}/s",
                            ms(pct(rt2.from_start, 99)),
                            "(info)",
                            None,
                        )

                if "d" in sections:
                    assert server is not None
                    with ActivitySampler(url) as activity_d:
                        d = bench_integrity(server.base_url, url, roster, scale, rng)
                    table(
                        f"(d) {scale.d_submissions:,} submissions from {scale.d_clients} "
                        f"clients with random retries, {len(roster.claimers)} specialists "
                        "claiming concurrently",
                        ["figure", "value"],
                        [
                            *[[k, f"{v:,}"] for k, v in d.db.items()],
                            ["HTTP POSTs sent (incl. retries, twins, resends)", f"{d.posts:,}"],
                            *[[k, f"{v:,}"] for k, v in sorted(d.counters.items())],
                            [
                                "submission phase",
                                f"{d.submit_seconds:.1f} s "
                                f"({len(d.acked) / max(d.submit_seconds, 1e-9):.1f} acked/s)",
                            ],
                            [
                                "until the claimers' worklists were empty",
                                f"{d.total_seconds:.1f} s",
                            ],
                            [
                                "submit p50 / p99 (201s)",
                                f"{ms(pct(d.submit_lat, 50))} / {ms(pct(d.submit_lat, 99))}",
                            ],
                            [
                                "claim p50 / p99",
                                f"{ms(pct(d.claim_lat, 50))} / {ms(pct(d.claim_lat, 99))}",
                            ],
                        ],
                    )
                    activity_d.report(
                        "(d) what the server's database connections did (pg_stat_activity samples)"
                    )
                    for figure, key in (
                        ("lost", "lost"),
                        ("duplicated", "duplicated"),
                        ("double-claimed", "double-claimed (checked over every consult)"),
                    ):
                        summary.add(
                            f"(d) {figure} consults",
                            str(d.db[key]),
                            "0",
                            d.db[key] == 0,
                            integrity=True,
                        )
                    ok, checked, reason = verify_audit(url)
                    summary.add(
                        "(d) audit hash chain after the run",
                        f"{'intact' if ok else 'BROKEN: ' + str(reason)} ({checked:,} events)",
                        "intact",
                        ok,
                        integrity=True,
                    )

                if "a" in sections and "d" in sections:
                    routing.append(
                        bench_routing(url, roster, scale.decisions, rng, "after (b)-(d)")
                    )
                    report_routing(routing[1:])
                    r = routing[1]
                    summary.add(
                        "(a') routing p99 after the load (more consults)",
                        ms(pct(r.total, 99)),
                        "<= 5 ms",
                        pct(r.total, 99) <= 0.005,
                    )

                if server is not None:
                    problems = server_problems(server)
                    if problems:
                        counts = Counter(p.split(" (request")[0][-160:] for p in problems)
                        say(f"\nserver log: {len(problems)} error lines; most common:")
                        for line, n in counts.most_common(8):
                            say(f"  {n:6d} x {line}")
                    else:
                        say("\nserver log: no errors")
            finally:
                if listeners is not None:
                    listeners.stop()
                if server is not None:
                    server.cleanup()
    table(
        f"Summary ({scale.name}; load average now {loadavg()}; "
        f"{time.monotonic() - started:.0f} s in all)",
        ["figure", "measured", "target", "verdict"],
        summary.rows,
    )
    say("database dropped, server stopped.")
    if not summary.integrity_ok:
        return 1
    if args.strict and not summary.perf_ok:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
