"""Forwarding over a 2 Mbit/s link (SEEDS 002: a facility's segment on a rural link).

    .venv/bin/python tests/benchmarks/bench_slow_link.py                 # ~2 min
    .venv/bin/python tests/benchmarks/bench_slow_link.py --count 20      # smoke run

A routine CT study of ``--count`` slices (``--size``² 16-bit pixels; 512: ~0.5 MB each) is
indexed for forwarding, then the forwarding job sends it to Orthanc (the central archive)
through a relay capped at ``--mbit`` Mbit/s each way. ``--urgent-after`` seconds into the
transfer a 3-slice urgent study arrives. Reported: link utilisation (payload bits / link
capacity over the transfer), instances/s, how long the urgent study waited from arrival until
the archive held all of it, and whether anything was sent twice. ``--compare`` runs the same
again with batches that never hand rows back (the behaviour before BATCH_SECONDS) to show what
the urgent study would wait otherwise.

Needs no server but Orthanc (Debian package); the hub database is a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from hub import db  # noqa: E402
from hub.demo import seed_demo  # noqa: E402
from hub.models import Facility  # noqa: E402
from imaging.archive import forwarding  # noqa: E402
from imaging.models import ForwardItem, Instance, Study  # noqa: E402
from tests.imaging.peers import running_orthanc  # noqa: E402
from tests.imaging.support import ingest  # noqa: E402
from tests.support.apps import make_app  # noqa: E402
from tests.support.databases import temporary_database  # noqa: E402
from tests.support.throttle import throttled_relay  # noqa: E402


def run(args: argparse.Namespace, work: Path, batch_seconds: float) -> dict[str, float]:
    forwarding.BATCH_SECONDS = batch_seconds
    work.mkdir(parents=True)
    with (
        temporary_database("sqlite", work) as url,
        running_orthanc(work / "orthanc") as orthanc,
        throttled_relay(orthanc.dicom_port, int(args.mbit * 1_000_000)) as relay,
    ):
        peer = f"dicom://{orthanc.aet}@127.0.0.1:{relay.port}"
        app = make_app(url, work / "hub", HUB_CENTRAL_PACS=peer)
        with app.app_context(), db.transaction() as sess:
            seed_demo(sess, "bench-demo-password")
        with app.app_context(), db.transaction() as sess:
            facility = sess.scalar(select(Facility).where(Facility.code == "HP-A"))
            assert facility is not None
            sess.expunge(facility)
        routine = ingest(app, facility, "BENCH-1", images=args.count, size=args.size, forward=True)
        settings = app.config["HUB_SETTINGS"].imaging
        started = time.monotonic()
        worker = threading.Thread(target=forwarding.drain, args=(app, settings, 3600))
        worker.start()
        time.sleep(args.urgent_after)
        urgent_at = time.monotonic()
        urgent = ingest(
            app, facility, "BENCH-2", images=3, size=args.size, forward=True, urgent=True
        )
        urgent_done = None
        while worker.is_alive():
            if urgent_done is None and len(orthanc.instances_of(urgent.study_uid)) == 3:
                urgent_done = time.monotonic()
            time.sleep(0.05)
        finished = time.monotonic()
        if urgent_done is None and len(orthanc.instances_of(urgent.study_uid)) == 3:
            urgent_done = finished
        with app.app_context(), db.transaction() as sess:
            payload = sess.scalar(select(func.sum(Instance.size))) or 0
            resent = sess.scalar(select(func.sum(ForwardItem.resent))) or 0
            held = len(orthanc.instances_of(routine.study_uid))
            studies = sess.scalar(select(func.count()).select_from(Study)) or 0
        seconds = finished - started
        return {
            "instances": args.count + 3,
            "held": held + 3 * (urgent_done is not None),
            "studies": studies,
            "seconds": seconds,
            "payload_mb": payload / 1e6,
            "wire_mb": relay.forwarded["up"] / 1e6,
            "utilisation": relay.forwarded["up"] * 8 / (seconds * args.mbit * 1e6),
            "per_second": (args.count + 3) / seconds,
            "urgent_wait": (urgent_done - urgent_at) if urgent_done else float("nan"),
            "resent": float(resent),
        }


def report(label: str, r: dict[str, float], args: argparse.Namespace) -> None:
    print(f"\n{label}")
    print(f"  instances forwarded      {int(r['held'])} of {int(r['instances'])}")
    print(f"  payload / on the wire    {r['payload_mb']:.1f} MB / {r['wire_mb']:.1f} MB")
    print(f"  transfer time            {r['seconds']:.1f} s ({r['per_second']:.2f} instances/s)")
    print(f"  link utilisation         {r['utilisation'] * 100:.0f}% of {args.mbit:g} Mbit/s")
    print(f"  urgent study waited      {r['urgent_wait']:.1f} s (arrival -> all 3 archived)")
    print(f"  sent twice               {int(r['resent'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=40, help="routine instances")
    parser.add_argument("--size", type=int, default=512, help="pixels per side")
    parser.add_argument("--mbit", type=float, default=2.0, help="link rate, Mbit/s")
    parser.add_argument("--urgent-after", type=float, default=10.0, help="seconds")
    parser.add_argument("--compare", action="store_true", help="also without handing rows back")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-link-") as tmp:
        result = run(args, Path(tmp) / "a", forwarding.BATCH_SECONDS)
        report(f"Batches hand rows back after {forwarding.BATCH_SECONDS:g} s", result, args)
        if args.compare:
            before = run(args, Path(tmp) / "b", float("inf"))
            report("Batches that never hand rows back (before)", before, args)
    ok = result["held"] == result["instances"] and result["resent"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
