"""Dose SR throughput on one core: parse; parse + index + KOS build; and end to end to a
national dose node (dcmtk ``storescp``).

    .venv/bin/python tests/benchmarks/bench_dose.py                 # 1,000 reports, SQLite
    .venv/bin/python tests/benchmarks/bench_dose.py --postgres      # on a temporary PG database
    .venv/bin/python tests/benchmarks/bench_dose.py --count 100     # smoke

The reports are a mix of every file of the public vendor corpus (``../shared/corpus/rdsr``,
when present: GE, Siemens, Canon, Hologic) and synthetic CT and projection reports, each moved
into its own study (new Study and SOP Instance UIDs) with two CT images beside it, so the KOS
names images too. Everything runs in this one process (one core):

(a) parse: ``imaging.dose.parse.read_file`` over the stored files;
(b) parse + index + KOS: each report stored and indexed as the node does on C-STORE (the dose
    rows and the national-node queue in the instance's transaction), then its study's KOS built
    and written;
(c) end to end: the queued studies delivered to ``storescp`` by the outbox handler (SR + KOS
    per study over one association each), until every study is ``accepted``; the objects
    storescp received are counted (each exactly once).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import pydicom  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from hub import db  # noqa: E402
from hub.config import DicomPeer  # noqa: E402
from hub.models import Facility, OutboxMessage, utcnow  # noqa: E402
from imaging.dose import kos, parse, sending  # noqa: E402
from imaging.dose.models import NodeSend, NodeState  # noqa: E402
from imaging.dose.node import TOPIC  # noqa: E402
from imaging.models import Instance, Series  # noqa: E402
from tests.imaging import dosedata  # noqa: E402
from tests.imaging.dicomdata import ct_instance  # noqa: E402
from tests.imaging.dosedata import CtEvent  # noqa: E402
from tests.imaging.peers import dcmtk_env, free_port, stop, wait_port  # noqa: E402
from tests.support import factories  # noqa: E402
from tests.support.apps import make_app  # noqa: E402
from tests.support.databases import temporary_database  # noqa: E402

CORPUS = ROOT / ".." / "shared" / "corpus" / "rdsr"


def reports(count: int) -> list[pydicom.Dataset]:
    """``count`` dose SRs of distinct studies: the corpus files and synthetic ones in turn."""
    templates = sorted(CORPUS.glob("*.dcm")) if CORPUS.exists() else []
    made: list[pydicom.Dataset] = []
    for n in range(count):
        study_uid = generate_uid()
        kind = n % (len(templates) + 2)
        if kind < len(templates):
            made.append(dosedata.from_file(templates[kind], study_uid=study_uid, patient_id="B1"))
        elif kind == len(templates):
            events = [CtEvent(8.0 + i, 120.0 * (i + 1), units=("mGy", "mGycm")) for i in range(5)]
            made.append(dosedata.ct_rdsr(events, study_uid=study_uid, patient_id="B1"))
        else:
            made.append(
                dosedata.projection_rdsr(
                    [(12.0, "dGy*cm2"), (250.0, "uGy.m2")],
                    dap_total=None,
                    study_uid=study_uid,
                    patient_id="B1",
                )
            )
    return made


def report(what: str, count: int, started: float, cpu: float) -> None:
    wall = time.perf_counter() - started
    used = time.process_time() - cpu
    print(
        f"{what:32s} {count / wall:7.1f} reports/s wall, {count / used:7.1f} per CPU second "
        f"({wall:.1f} s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    with tempfile.TemporaryDirectory(prefix="bench-dose-") as tmp_name:
        tmp = Path(tmp_name)
        kind = "postgresql" if args.postgres else "sqlite"
        with temporary_database(kind, tmp) as url:
            return run(args.count, url, tmp, kind)


def run(count: int, url: str, tmp: Path, kind: str) -> int:
    port = free_port()
    app = make_app(url, tmp / "data")
    settings = app.config["HUB_SETTINGS"]
    peer = DicomPeer("DOSENODE", "127.0.0.1", port)
    imaging = dataclasses.replace(settings.imaging, national_dose_node=peer)
    app.config["HUB_SETTINGS"] = dataclasses.replace(settings, imaging=imaging)
    with app.app_context(), db.transaction() as sess:
        region = factories.region(sess)
        facility = factories.facility(sess, factories.university(sess, region))
        sess.flush()
        facility_id = facility.id
    sample = reports(count)
    print(f"{count} dose SRs ({kind}), one core")

    # (a) parse
    files = []
    for n, ds in enumerate(sample):
        path = tmp / "files" / f"{n}.dcm"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(dosedata.part10(ds))
        files.append(path)
    started, cpu = time.perf_counter(), time.process_time()
    for path in files:
        parse.read_file(path)
    report("(a) parse", count, started, cpu)

    # (b) parse + index + KOS build
    images = []
    for ds in sample:
        series = generate_uid()
        images += [
            ct_instance(
                patient_id="B1",
                study_uid=str(ds.StudyInstanceUID),
                series_uid=series,
                number=i,
                size=8,
            )
            for i in (1, 2)
        ]
    dosedata.store(app, facility_id, images, calling_ae="BENCHMOD")
    started, cpu = time.perf_counter(), time.process_time()
    dosedata.store(app, facility_id, sample, national_node=True, calling_ae="BENCHMOD")
    root = Path(imaging.storage_dir)
    with app.app_context(), db.transaction() as sess:
        rows = sess.scalars(select(NodeSend)).all()
        for row in rows:
            reports_of, images_of = sending._objects(sess, row.study_id)
            document = kos.build(
                [root / r[0] for r in reports_of],
                [kos.Reference(*i) for i in images_of],
                sop_instance_uid=row.kos_sop_instance_uid,
                series_instance_uid=row.kos_series_instance_uid,
                manufacturer="bench",
            )
            kos.write(document, sending.kos_path(imaging, row.kos_sop_instance_uid))
    report("(b) parse + index + KOS build", count, started, cpu)

    # (c) end to end to storescp
    received = tmp / "received"
    received.mkdir()
    proc = subprocess.Popen(
        ["storescp", "+uf", "-aet", "DOSENODE", "-od", str(received), str(port)],
        env=dcmtk_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port(port, 30, proc)
        started, cpu = time.perf_counter(), time.process_time()
        with app.app_context(), db.transaction() as sess:
            for msg in sess.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.topic == TOPIC, OutboxMessage.dispatched_at.is_(None)
                )
            ).all():
                with sess.begin_nested():
                    sending.deliver(sess, msg.payload)
                msg.dispatched_at = utcnow()
        report("(c) end to end to storescp", count, started, cpu)
    finally:
        stop(proc)
    with app.app_context(), db.transaction() as sess:
        accepted = sess.scalar(
            select(func.count(NodeSend.id)).where(NodeSend.state == NodeState.ACCEPTED)
        )
        sr_instances = sess.scalar(
            select(func.count(Instance.id))
            .join(Series, Series.id == Instance.series_id)
            .where(Series.modality == "SR")
        )
        facilities = sess.scalar(select(func.count(Facility.id)))
    objects = len(list(received.iterdir()))
    print(
        f"    {accepted} of {len(rows)} studies accepted; storescp received {objects} objects "
        f"for {sr_instances} dose SRs + {len(rows)} KOS ({facilities} facility)"
    )
    return 0 if accepted == len(rows) and objects == sr_instances + len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
