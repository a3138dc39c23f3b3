"""DICOMweb: WADO-RS whole-series retrieval against Orthanc's DICOMweb plugin, and QIDO-RS study
search latency over a large index.

    .venv/bin/python tests/benchmarks/bench_dicomweb.py          # the issue's run (~10 min)
    .venv/bin/python tests/benchmarks/bench_dicomweb.py --count 30 --studies 2000 --queries 50

(a) The same synthetic CT series of ``--count`` slices (512x512, 16 bit, ~0.5 MB each) is
    stored in the hub (STOW-RS) and in Orthanc with its DICOMweb plugin (REST upload). Each of
    ``--rounds`` rounds retrieves the whole series once from each, in turn, with
    ``Accept: multipart/related; type="application/dicom"; transfer-syntax=*`` over one
    keep-alive connection, reading the body as it arrives; throughput is MB/s of body. The
    ratio hub / Orthanc is taken within a round and its median reported (target >= 1.0).
(b) ``--studies`` study rows (one series and two instance rows each, spread over the demo
    facilities) are bulk-inserted with COPY into the hub's PostgreSQL database, which is then
    analysed. ``--queries`` QIDO-RS study searches of each kind (PatientID, PatientName prefix,
    a month of StudyDate, AccessionNumber, StudyInstanceUID, ModalitiesInStudy with a date
    range, and no matching at all) are sent over HTTP as a national administrator (who sees
    every study) and as a health worker (the facility's studies and patients); p50/p99 per
    caller and kind, and over all (target p99 <= 50 ms). With ``--index``, the indexes of
    ``SEARCH_INDEXES`` are created first (in the benchmark's database only).

The hub runs as ``python -m hub web`` on a free port with a temporary PostgreSQL database
(``HUB_TEST_PG_DSN``), the demo accounts and personal tokens; Orthanc from a temporary
directory. Everything started is stopped at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import requests  # noqa: E402

from tests.benchmarks.bench_dicom import make_study  # noqa: E402
from tests.imaging.peers import ORTHANC, dcmtk_env, free_port, stop, wait_port  # noqa: E402
from tests.support.databases import temporary_database  # noqa: E402
from tests.support.processes import PYTHON, hub_env  # noqa: E402

DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
ACCEPT_DICOM = 'multipart/related; type="application/dicom"; transfer-syntax=*'
STOW_BATCH = 30
MODALITIES = ("CT", "MR", "CR", "DX", "US", "MG")
# Indexes --index creates in the benchmark's database (candidates for a migration).
SEARCH_INDEXES = (
    "CREATE INDEX ix_dicom_study_patient_key ON dicom_study (dicom_patient_id)",
    "CREATE INDEX ix_dicom_study_date ON dicom_study (study_date)",
    "CREATE INDEX ix_dicom_study_accession ON dicom_study (accession_number)",
    "CREATE INDEX ix_dicom_study_name_lower ON dicom_study (lower(dicom_patient_name) "
    "text_pattern_ops)",
    "CREATE INDEX ix_dicom_series_modality ON dicom_series (modality, study_id)",
)


# --- the two servers --------------------------------------------------------------------------


@contextmanager
def running_hub(work: Path, database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The hub's web server with the demo accounts: (base URL, tokens by account)."""
    port = free_port()
    env = hub_env(
        HUB_DATABASE_URL=database_url,
        HUB_DATA_DIR=str(work / "hub-data"),
        HUB_HTTP_HOST="127.0.0.1",
        HUB_HTTP_PORT=str(port),
        HUB_BROKER_URL="memory://",
        HUB_RESULT_BACKEND="cache+memory://",
        HUB_SECRET_KEY=secrets.token_hex(32),
        HUB_DEMO_PASSWORD=secrets.token_hex(12),
    )

    def hub(*args: str) -> str:
        done = subprocess.run(
            [PYTHON, "-m", "hub", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"hub {' '.join(args)} failed:\n{(done.stdout + done.stderr)[-3000:]}")
        return done.stdout

    hub("seed-demo")
    tokens = {
        who: hub("token", "create", who).strip().splitlines()[-1]
        for who in ("chw.demo", "admin.demo")
    }
    log = (work / "hub-web.log").open("ab")
    proc = subprocess.Popen(
        [PYTHON, "-m", "hub", "web"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_port(port, 120, proc)
        yield f"http://127.0.0.1:{port}", tokens
    finally:
        stop(proc)
        log.close()


@contextmanager
def running_orthanc(work: Path) -> Iterator[str]:
    """Orthanc with its DICOMweb plugin: the plugin's root URL."""
    directory = work / "orthanc"
    directory.mkdir()
    port = free_port()
    config = directory / "orthanc.json"
    config.write_text(
        json.dumps(
            {
                "Name": "bench",
                "StorageDirectory": str(directory / "storage"),
                "IndexDirectory": str(directory / "index"),
                "DicomPort": free_port(),
                "HttpPort": port,
                "RemoteAccessAllowed": False,
                "AuthenticationEnabled": False,
                "DicomCheckCalledAet": False,
                "Plugins": [DICOMWEB_PLUGIN],
                "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            }
        )
    )
    log = (directory / "orthanc.log").open("ab")
    proc = subprocess.Popen(
        [ORTHANC, str(config)],
        env=dcmtk_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_port(port, 120, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        log.close()


# --- (a) WADO-RS ------------------------------------------------------------------------------


def stow(base: str, token: str, files: list[Path]) -> None:
    """Store ``files`` in the hub with STOW-RS, a batch at a time."""
    for start in range(0, len(files), STOW_BATCH):
        mark = secrets.token_hex(16)
        body = io.BytesIO()
        for path in files[start : start + STOW_BATCH]:
            body.write(f"--{mark}\r\nContent-Type: application/dicom\r\n\r\n".encode())
            body.write(path.read_bytes())
            body.write(b"\r\n")
        body.write(f"--{mark}--\r\n".encode())
        resp = requests.post(
            f"{base}/dicomweb/studies",
            data=body.getvalue(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={mark}',
            },
            timeout=600,
        )
        if resp.status_code != 200:
            raise SystemExit(f"STOW into the hub: {resp.status_code} {resp.text[:500]}")


def orthanc_upload(base: str, files: list[Path]) -> None:
    with requests.Session() as session:
        for path in files:
            resp = session.post(f"{base}/instances", data=path.read_bytes(), timeout=120)
            resp.raise_for_status()


def retrieve(
    session: requests.Session, url: str, headers: dict[str, str]
) -> tuple[float, int, int]:
    """(seconds, body bytes, parts) of one whole-series retrieval, read as it arrives."""
    started = time.perf_counter()
    size = 0
    with session.get(
        url, headers={**headers, "Accept": ACCEPT_DICOM}, stream=True, timeout=600
    ) as resp:
        resp.raise_for_status()
        mark = resp.headers["Content-Type"].split("boundary=")[1].split(";")[0].strip('"').encode()
        delimiter = b"--" + mark
        parts, tail = 0, b""
        for chunk in resp.iter_content(1024 * 1024):
            size += len(chunk)
            window = tail + chunk
            parts += window.count(delimiter)
            tail = window[-len(delimiter) :]
    elapsed = time.perf_counter() - started
    return elapsed, size, parts - 1  # the closing delimiter is no part


def wado_rounds(
    hub: str, token: str, orthanc: str, study: str, series: str, count: int, rounds: int
) -> list[tuple[float, float]]:
    """(hub MB/s, Orthanc MB/s) per round, after one warm-up retrieval from each."""
    path = f"/studies/{study}/series/{series}"
    targets = [
        ("hub", f"{hub}/dicomweb{path}", {"Authorization": f"Bearer {token}"}),
        ("orthanc", f"{orthanc}/dicom-web{path}", {}),
    ]
    out = []
    with requests.Session() as one, requests.Session() as other:
        sessions = {"hub": one, "orthanc": other}
        for name, url, headers in targets:
            retrieve(sessions[name], url, headers)
        for round_number in range(rounds):
            speeds = {}
            # Each server first in turn: neither always gets the warmer page cache.
            order = targets if round_number % 2 == 0 else targets[::-1]
            for name, url, headers in order:
                seconds, size, parts = retrieve(sessions[name], url, headers)
                if parts != count:
                    raise SystemExit(f"{name} sent {parts} parts, not {count}")
                speeds[name] = size / seconds / 1e6
            print(
                f"    round {round_number + 1}: hub {speeds['hub']:7.1f} MB/s   "
                f"orthanc {speeds['orthanc']:7.1f} MB/s   "
                f"ratio {speeds['hub'] / speeds['orthanc']:.2f}"
            )
            out.append((speeds["hub"], speeds["orthanc"]))
    return out


# --- (b) QIDO-RS ------------------------------------------------------------------------------


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def fill_index(url: str, studies: int, seed: int) -> dict[str, list[str]]:
    """COPY ``studies`` studies (one series, two instances each) over the facilities; what
    the queries look for (patient keys, names, accession numbers, UIDs)."""
    rng = random.Random(seed)
    picked: dict[str, list[str]] = {"pid": [], "name": [], "accession": [], "uid": []}
    with psycopg.connect(_pg_dsn(url)) as conn:
        facilities = [row[0] for row in conn.execute("SELECT id FROM facility ORDER BY id")]
        first_study = int(
            conn.execute("SELECT coalesce(max(id), 0) FROM dicom_study").fetchone()[0]
        )  # type: ignore[index]
        first_series = int(
            conn.execute("SELECT coalesce(max(id), 0) FROM dicom_series").fetchone()[0]
        )  # type: ignore[index]
        now = "2026-01-01 00:00:00"
        start_day = date(2015, 1, 1)
        study_rows, series_rows, instance_rows = [], [], []
        family = ["AHMADI", "KARIMI", "HOSSEINI", "REZAEI", "MOHAMMADI", "JAFARI", "SADEGHI"]
        for n in range(studies):
            sid = first_study + n + 1
            uid = f"1.2.826.0.1.3680043.10.1000.{seed}.{n}"
            pid = f"BP{n // 3:07d}"  # about three studies per patient
            name = f"{rng.choice(family)}^{chr(65 + n % 26)}{n % 997}"
            accession = f"A{n:09d}"
            day = start_day + timedelta(days=rng.randrange(4000))
            study_rows.append(
                (
                    sid,
                    uid,
                    rng.choice(facilities),
                    pid,
                    "",
                    name,
                    "19800101",
                    "F",
                    day,
                    "101010",
                    accession,
                    "1",
                    "CHEST",
                    "",
                    False,
                    False,
                    now,
                )
            )
            series_id = first_series + n + 1
            series_rows.append((series_id, uid + ".1", sid, rng.choice(MODALITIES), 1, "", ""))
            for k in (1, 2):
                instance_rows.append(
                    (
                        f"{uid}.1.{k}",
                        "1.2.840.10008.5.1.4.1.1.2",
                        "1.2.840.10008.1.2.1",
                        series_id,
                        sid,
                        k,
                        "image",
                        1,
                        525000,
                        f"bench/{n}/{k}.dcm",
                        "BENCH",
                        now,
                    )
                )
            if n % (studies // 500 or 1) == 0:
                picked["pid"].append(pid)
                picked["name"].append(name[: name.index("^") + 2])  # family, given initial
                picked["accession"].append(accession)
                picked["uid"].append(uid)
        with conn.cursor() as cur:
            with cur.copy(
                "COPY dicom_study (id, study_instance_uid, facility_id, dicom_patient_id, issuer,"
                " dicom_patient_name, dicom_birth_date, dicom_sex, study_date, study_time,"
                " accession_number, study_id, description, referring_physician, urgent,"
                " legal_hold, received_at) FROM STDIN"
            ) as copy:
                for row in study_rows:
                    copy.write_row(row)
            with cur.copy(
                "COPY dicom_series (id, series_instance_uid, study_id, modality, series_number,"
                " description, body_part) FROM STDIN"
            ) as copy:
                for row in series_rows:
                    copy.write_row(row)
            with cur.copy(
                "COPY dicom_instance (sop_instance_uid, sop_class_uid, transfer_syntax_uid,"
                " series_id, study_id, instance_number, kind, frames, size, path, calling_ae,"
                " received_at) FROM STDIN"
            ) as copy:
                for row in instance_rows:
                    copy.write_row(row)
            for table in ("dicom_study", "dicom_series"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                    f" (SELECT max(id) FROM {table}))"
                )
        conn.commit()
    with psycopg.connect(_pg_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE dicom_study")
        conn.execute("VACUUM ANALYZE dicom_series")
        conn.execute("VACUUM ANALYZE dicom_instance")
        conn.execute("CHECKPOINT")
    return picked


def create_indexes(url: str) -> None:
    with psycopg.connect(_pg_dsn(url), autocommit=True) as conn:
        for statement in SEARCH_INDEXES:
            conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("ANALYZE dicom_study")
        conn.execute("ANALYZE dicom_series")


def query_kinds(picked: dict[str, list[str]], rng: random.Random) -> dict[str, list[str]]:
    """QIDO query strings by kind, ``len(picked['pid'])`` of each."""
    months = []
    for _ in picked["pid"]:
        day = date(2015, 1, 1) + timedelta(days=rng.randrange(3900))
        months.append(f"{day:%Y%m%d}-{day + timedelta(days=30):%Y%m%d}")
    return {
        "PatientID": [f"PatientID={p}" for p in picked["pid"]],
        # A viewer's worklist asks for a page (OHIF: limit=101).
        "PatientName*": [f"PatientName={n}*&limit=101" for n in picked["name"]],
        "StudyDate month": [f"StudyDate={m}&limit=50" for m in months],
        "AccessionNumber": [f"AccessionNumber={a}" for a in picked["accession"]],
        "StudyInstanceUID": [f"StudyInstanceUID={u}" for u in picked["uid"]],
        "Modality+date": [f"ModalitiesInStudy=MR&StudyDate={m}&limit=50" for m in months],
        "no matching": ["limit=101" for _ in picked["pid"]],
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def qido_latencies(
    base: str, token: str, kinds: dict[str, list[str]], queries: int, rng: random.Random
) -> dict[str, list[float]]:
    """Milliseconds of each search by kind, in a shuffled order, after a warm-up."""
    plan = [(kind, q) for kind, values in kinds.items() for q in values[:queries]]
    rng.shuffle(plan)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/dicom+json"}
    out: dict[str, list[float]] = {kind: [] for kind in kinds}
    with requests.Session() as session:
        for _kind, q in plan[:20]:
            session.get(f"{base}/dicomweb/studies?{q}", headers=headers, timeout=60)
        for kind, q in plan:
            started = time.perf_counter()
            resp = session.get(f"{base}/dicomweb/studies?{q}", headers=headers, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            if resp.status_code != 200:
                raise SystemExit(f"QIDO {q}: {resp.status_code} {resp.text[:300]}")
            resp.json()
            out[kind].append(elapsed)
    return out


def report_qido(label: str, found: dict[str, list[float]]) -> float:
    """Print p50/p99 per kind and over all; the overall p99."""
    every = [v for values in found.values() for v in values]
    print(f"  {label}")
    for kind, values in found.items():
        print(
            f"    {kind:18s} p50 {percentile(values, 0.5):7.1f} ms   p99 "
            f"{percentile(values, 0.99):7.1f} ms   (n={len(values)})"
        )
    p99 = percentile(every, 0.99)
    verdict = "met" if p99 <= 50 else "NOT MET"
    print(
        f"    {'all':18s} p50 {percentile(every, 0.5):7.1f} ms   p99 {p99:7.1f} ms"
        f"   target p99 <= 50 ms: {verdict}"
    )
    return p99


# --- the run ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="instances of the CT series")
    parser.add_argument("--rounds", type=int, default=5, help="WADO-RS rounds")
    parser.add_argument("--studies", type=int, default=100_000, help="study rows for QIDO-RS")
    parser.add_argument("--queries", type=int, default=200, help="searches of each kind")
    parser.add_argument("--index", action="store_true", help="create SEARCH_INDEXES first")
    parser.add_argument("--both", action="store_true", help="QIDO without, then with --index")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args(argv)
    if not os.path.exists(DICOMWEB_PLUGIN):
        raise SystemExit(f"Orthanc's DICOMweb plugin is missing ({DICOMWEB_PLUGIN}).")
    rng = random.Random(args.seed)
    print(f"load average at start: {os.getloadavg()}")
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-dicomweb-")))
        url = stack.enter_context(temporary_database("postgresql", work))
        hub, tokens = stack.enter_context(running_hub(work, url))
        orthanc = stack.enter_context(running_orthanc(work))
        files = sorted(make_study(work / "study", args.count).iterdir())
        from pydicom import dcmread

        head = dcmread(files[0], stop_before_pixels=True)
        study, series = str(head.StudyInstanceUID), str(head.SeriesInstanceUID)
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        started = time.perf_counter()
        stow(hub, tokens["chw.demo"], files)
        print(
            f"(a) {args.count} instances, {megabytes:.0f} MB: STOW-RS into the hub in "
            f"{time.perf_counter() - started:.1f} s"
        )
        orthanc_upload(orthanc, files)
        print("  WADO-RS whole-series retrieval")
        rounds = wado_rounds(
            hub, tokens["chw.demo"], orthanc, study, series, args.count, args.rounds
        )
        ratios = [h / o for h, o in rounds]
        ratio = statistics.median(ratios)
        print(
            f"  hub {statistics.median(h for h, _ in rounds):.1f} MB/s, Orthanc "
            f"{statistics.median(o for _, o in rounds):.1f} MB/s; ratio hub / Orthanc "
            f"(median of rounds) {ratio:.2f}   "
            f"target >= 1.0: {'met' if ratio >= 1.0 else 'NOT MET'}"
        )

        started = time.perf_counter()
        picked = fill_index(url, args.studies, args.seed)
        print(
            f"(b) {args.studies} studies indexed (COPY, analysed) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        kinds = query_kinds(picked, rng)
        phases = [False, True] if args.both else [args.index]
        for with_index in phases:
            if with_index:
                create_indexes(url)
            suffix = "with SEARCH_INDEXES" if with_index else "with the migrations' indexes"
            for who, label in (
                ("admin.demo", "national administrator"),
                ("chw.demo", "health worker"),
            ):
                found = qido_latencies(hub, tokens[who], kinds, args.queries, rng)
                report_qido(f"QIDO-RS /studies as {label}, {suffix}", found)
    print(f"load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
