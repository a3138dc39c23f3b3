"""Insurer export benchmark: 1,000,000 claims on PostgreSQL, CSV / JSON lines / FHIR pulls through
the real route, against ``COPY (SELECT ...) TO STDOUT`` of the same rows in the same run.

    .venv/bin/python tests/benchmarks/bench_insurance.py [--claims N] [--fhir-claims N] [--strict]

Builds its own PostgreSQL database (dropped at the end) and bulk-loads, with INSERT ... SELECT
generate_series: one region, 200 facilities, 100,000 patients, one tariff schedule, the claims of
the benchmark insurer plus 5 % of another insurer's (interleaved, so the export filters), and the
export queue. Each measurement runs in a fresh process (spawn) that samples its own resident
memory (VmRSS) every 20 ms; peak memory = peak RSS during the export - RSS just before it.

Measured, each over the benchmark insurer's whole queue (``--fhir-claims`` for FHIR):
  copy        psycopg ``COPY (export query) TO STDOUT (FORMAT csv)``, bytes read and dropped;
  csv         GET /api/v1/insurer/claims?format=csv (OAuth2 client token), body consumed;
  csv-python  the same rows written by Python's csv module (the SQLite path), no HTTP;
  jsonl       GET ...?format=jsonl;
  fhir        GET ...?format=fhir (Bundles of 100 validated Claims per line).

Targets: csv >= 0.5 x copy rows/s; peak memory < 300 MB for every export. Exit status 1 when the
benchmark fails, or (with ``--strict``) when a target is not met. See tests/benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PATIENTS = 100_000
FACILITIES = 200
MB = 1024 * 1024


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def load(url: str, claims: int) -> dict[str, int]:
    """Bulk-load the synthetic data set; returns the insurers' ids and row counts."""
    import psycopg

    other_every = 20  # every 20th claim belongs to another insurer
    total = claims + claims // (other_every - 1)
    with psycopg.connect(plain_dsn(url)) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO country (code, name) VALUES ('IR', 'Iran') RETURNING id")
        (country,) = cur.fetchone()  # type: ignore[misc]
        cur.execute(
            "INSERT INTO macro_region (code, number, name, country_id) "
            "VALUES ('BENCH-MR', 1, 'Region', %s) RETURNING id",
            (country,),
        )
        (region,) = cur.fetchone()  # type: ignore[misc]
        cur.execute(
            "INSERT INTO university (code, name, region_id) VALUES ('BENCH-U', 'U', %s) "
            "RETURNING id",
            (region,),
        )
        (uni,) = cur.fetchone()  # type: ignore[misc]
        cur.execute(
            "INSERT INTO facility (code, name, kind, level, university_id, region_id, timezone) "
            "SELECT 'BF' || g, 'Facility ' || g, 'hospital', 2, %s, %s, 'UTC' "
            "FROM generate_series(1, %s) g",
            (uni, region, FACILITIES),
        )
        cur.execute("SELECT min(id) FROM facility WHERE code LIKE 'BF%%'")
        (f0,) = cur.fetchone()  # type: ignore[misc]
        cur.execute(
            "INSERT INTO insurer (code, name, kind) VALUES ('BENCH', 'Bench insurer', 'basic'), "
            "('OTHER', 'Other insurer', 'basic')"
        )
        cur.execute("SELECT id FROM insurer WHERE code IN ('BENCH', 'OTHER') ORDER BY code")
        bench, other = (r[0] for r in cur.fetchall())
        cur.execute(
            "INSERT INTO patient (id_country, national_id, given_name, family_name, "
            "date_of_birth, sex, home_facility_id, created_at, updated_at) "
            "SELECT 'IR', lpad(g::text, 10, '0'), 'Given', 'Family' || g, "
            "date '1950-01-01' + (g %% 20000), 'female', %s + g %% %s, now(), now() "
            "FROM generate_series(1, %s) g",
            (f0, FACILITIES, PATIENTS),
        )
        cur.execute("SELECT min(id) FROM patient")
        (p0,) = cur.fetchone()  # type: ignore[misc]
        cur.execute(
            "INSERT INTO tariff_schedule (label, currency, minor_unit, effective_from, "
            "source_sha256, uploaded_at) VALUES ('Bench', 'IRR', 0, '2020-01-01', "
            "repeat('0', 64), now()) RETURNING id"
        )
        (schedule,) = cur.fetchone()  # type: ignore[misc]
        t0 = time.monotonic()
        cur.execute(
            "INSERT INTO insurance_claim (service_type, service_id, document_public_id, kind, "
            "revision, status, hold_details, patient_id, facility_id, service_at, created_at, "
            "tariff_schedule_id, currency, total_minor, basic_insurer_id, basic_member_id, "
            "basic_minor, supplementary_minor, patient_minor, lines, components_text) "
            "SELECT 'consult_outcome', g, 'DOC' || lpad(g::text, 12, '0'), 'original', 0, "
            "'ready', '{}', %s + g %% %s, %s + g %% %s, "
            "timestamptz '2026-01-01 00:00:00+00' + (g %% 300) * interval '1 day' "
            "+ (g %% 86400) * interval '1 second', now(), %s, 'IRR', 2100000, "
            "CASE WHEN g %% %s = 0 THEN %s ELSE %s END, 'M' || (g %% %s), 1470000, 0, 630000, "
            "'[]', 'consult:l2:pulmonology*1=1800000;async_review*1=300000' "
            "FROM generate_series(1, %s) g",
            (p0, PATIENTS, f0, FACILITIES, schedule, other_every, other, bench, PATIENTS, total),
        )
        cur.execute(
            "INSERT INTO insurance_claim_release (claim_id, insurer_id, released_at) "
            "SELECT id, basic_insurer_id, now() FROM insurance_claim ORDER BY id"
        )
        conn.commit()
        print(f"  loaded {total:,} claims + queue in {time.monotonic() - t0:.0f} s", flush=True)
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE insurance_claim")
        cur.execute("VACUUM ANALYZE insurance_claim_release")
        cur.execute("ANALYZE patient")
        cur.execute("SELECT count(*) FROM insurance_claim_release WHERE insurer_id = %s", (bench,))
        (mine,) = cur.fetchone()  # type: ignore[misc]
    return {"bench": bench, "other": other, "claims": mine, "total": total}


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.02)


def oauth_token(client: Any, client_id: str, secret: str) -> str:
    """A client-credentials access token, as an insurer's system takes one."""
    import base64

    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    resp = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    if resp.status_code != 200:
        raise RuntimeError(f"token refused: {resp.get_data(as_text=True)[:300]}")
    return str(resp.get_json()["access_token"])


def measure(mode: str, url: str, insurer_id: int, limit: int | None, queue: Any) -> None:
    """Run one export in this (fresh) process and report rows, bytes, seconds and memory."""
    try:
        queue.put(_measure(mode, url, insurer_id, limit))
    except BaseException as exc:
        queue.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


def _measure(mode: str, url: str, insurer_id: int, limit: int | None) -> dict[str, Any]:
    import psycopg

    from hub import db
    from hub.auth.oauth import create_client
    from hub.models import Insurer
    from insurance import exports
    from tests.support.apps import make_app

    data = Path(tempfile.mkdtemp(prefix="bench-ins-"))
    app = make_app(url, data)
    engine = db.get_db(app).engine
    assert engine is not None
    with app.app_context(), db.transaction() as sess:
        code = sess.get_one(Insurer, insurer_id).code
        client_id, secret = create_client(sess, name=f"bench {mode}", insurer_code=code)
        secret_value = secret
        cid = client_id.client_id
    client = app.test_client()
    assert secret_value is not None
    token = oauth_token(client, cid, secret_value)
    headers = {"Authorization": f"Bearer {token}"}
    pull = exports.Pull(0, insurer_id, code, "csv", 0, 2**62, 0, "")
    sql = str(
        exports.export_query(pull, engine.dialect.name).compile(
            dialect=engine.dialect, compile_kwargs={"literal_binds": True}
        )
    )
    rows = nbytes = 0
    sampler = Sampler()
    base = _rss()
    sampler.peak = base
    sampler.start()
    t0 = time.perf_counter()
    if mode == "copy":
        with (
            psycopg.connect(plain_dsn(url)) as conn,
            conn.cursor() as cur,
            cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as cp,
        ):
            for chunk in cp:
                nbytes += len(chunk)
                rows += bytes(chunk).count(b"\n")
    elif mode == "csv-python":
        for chunk in exports._python_csv(engine, pull):
            nbytes += len(chunk)
            rows += chunk.count(b"\n")
    else:
        fmt = "fhir" if mode == "fhir" else mode
        query = f"format={fmt}" + (f"&limit={limit}" if limit else "")
        resp = client.get(f"/api/v1/insurer/claims?{query}", headers=headers, buffered=False)
        if resp.status_code != 200:
            raise RuntimeError(f"export answered {resp.status_code}: {resp.get_data()[:300]!r}")
        announced = int(resp.headers["X-Claim-Count"])
        lines = 0
        for chunk in resp.response:
            nbytes += len(chunk)
            lines += chunk.count(b"\n")
        resp.close()
        rows = announced
        if fmt == "csv" and lines - 1 != announced:
            raise RuntimeError(f"csv had {lines - 1} rows, announced {announced}")
        if fmt == "jsonl" and lines != announced:
            raise RuntimeError(f"jsonl had {lines} lines, announced {announced}")
    seconds = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    return {
        "mode": mode,
        "rows": rows,
        "bytes": nbytes,
        "seconds": seconds,
        "base_mb": base / MB,
        "peak_mb": (sampler.peak - base) / MB,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_one(mode: str, url: str, insurer_id: int, limit: int | None = None) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=measure, args=(mode, url, insurer_id, limit, queue))
    proc.start()
    result = queue.get()
    proc.join()
    if "error" in result:
        raise RuntimeError(f"{mode}: {result['error']}")
    return dict(result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument(
        "--fhir-claims", type=int, default=None, help="FHIR pull size (default: every claim)"
    )
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()

    from tests.support.databases import temporary_database

    print(f"load average at start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, temporary_database("postgresql", Path(tmp)) as url:
        print("loading ...", flush=True)
        ids = load(url, args.claims)
        print(f"  the benchmark insurer's queue: {ids['claims']:,} claims", flush=True)
        results = []
        for mode in ("copy", "csv", "csv-python", "jsonl", "fhir"):
            limit = args.fhir_claims if mode == "fhir" else None
            print(f"{mode} ...", flush=True)
            res = run_one(mode, url, ids["bench"], limit)
            res["rate"] = res["rows"] / res["seconds"]
            results.append(res)
            print(
                f"  {res['rows']:>10,} rows {res['bytes'] / MB:8.1f} MB {res['seconds']:7.1f} s "
                f"{res['rate']:>10,.0f} rows/s  peak +{res['peak_mb']:.1f} MB "
                f"(process {res['base_mb']:.0f} MB before; ru_maxrss {res['maxrss_mb']:.0f} MB)",
                flush=True,
            )
    by = {r["mode"]: r for r in results}
    copy_rate = by["copy"]["rate"]
    print("\nresults (rows/s; ratio to COPY of the same rows in this run)")
    failed = False
    for r in results:
        ratio = r["rate"] / copy_rate
        mem_ok = r["peak_mb"] < 300
        failed |= not mem_ok
        print(
            f"  {r['mode']:<11} {r['rate']:>10,.0f} rows/s  ratio {ratio:5.2f}  "
            f"peak +{r['peak_mb']:6.1f} MB {'ok' if mem_ok else 'NOT MET (< 300 MB)'}"
        )
    csv_ratio = by["csv"]["rate"] / copy_rate
    csv_ok = csv_ratio >= 0.5
    failed |= not csv_ok
    print(
        f"\ntarget csv >= 0.5 x COPY: {csv_ratio:.2f} {'met' if csv_ok else 'NOT MET'}; "
        f"peak memory < 300 MB: {'met' if all(r['peak_mb'] < 300 for r in results) else 'NOT MET'}"
    )
    print(f"load average at end: {os.getloadavg()}")
    return 1 if (failed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
