"""The hub's memory while WADO-RS streams a whole large study (issue 18: "memory flat for a
2 GB study").

    .venv/bin/python tests/benchmarks/bench_dicomweb_memory.py [--gigabytes 2]

A live demo hub (SQLite, its web server's worker processes) holds one study of 512² CT slices
(0.52 MB each) adding up to ``--gigabytes``. A client retrieves the whole study
(``GET /dicomweb/studies/{uid}``, multipart/related of application/dicom) over loopback, reading
the body as it arrives and counting its parts, while the hub's processes' proportional set size
(PSS, /proc/PID/smaps_rollup over the hub and its children) is sampled every 50 ms. Printed: the
bytes and parts received, the throughput, and the hub's PSS before (after one instance's
retrieval, so that what a worker loads once is not counted), at its peak and after;
memory is flat when the peak stays near the start whatever the study's size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from pydicom.uid import generate_uid
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hub import db  # noqa: E402
from hub.models import Facility  # noqa: E402
from hub.national_id import make_iranian  # noqa: E402
from tests.benchmarks.bench_viewer_memory import pss_mib  # noqa: E402
from tests.imaging.dicomdata import ct_instance  # noqa: E402
from tests.imaging.support import store  # noqa: E402
from tests.support.apps import make_app  # noqa: E402
from tests.support.live import demo_env, live_demo_hub, run_hub_command  # noqa: E402

SLICE_MB = 512 * 512 * 2 / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gigabytes", type=float, default=2.0)
    args = parser.parse_args()
    count = int(args.gigabytes * 1000 / SLICE_MB)
    with tempfile.TemporaryDirectory(prefix="bench-dicomweb-memory-") as tmp:
        work = Path(tmp)
        with live_demo_hub(work) as hub:
            data = work / "data"
            app = make_app(f"sqlite:///{data / 'hub.sqlite'}", data)
            with app.app_context(), db.transaction() as sess:
                facility = sess.scalar(select(Facility).where(Facility.code == "HP-A"))
                assert facility is not None
                sess.expunge(facility)
            patient = make_iranian("001000001")
            study, series = generate_uid(), generate_uid()
            started = time.monotonic()
            batch = 100
            uids: list[str] = []
            for first in range(1, count + 1, batch):
                datasets = [
                    ct_instance(patient_id=patient, study_uid=study, series_uid=series, number=n)
                    for n in range(first, min(first + batch, count + 1))
                ]
                uids += store(app, facility, datasets)
            print(
                f"dicomweb memory: one study of {count} instances "
                f"({count * SLICE_MB / 1000:.2f} GB), stored in {time.monotonic() - started:.0f} s"
            )
            env = demo_env(work, int(hub.port or 0))
            token = run_hub_command("token", "create", "chw.demo", env=env).strip().splitlines()[-1]
            pid = int(hub.pid or 0)
            samples: list[float] = []
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    samples.append(pss_mib(pid))
                    time.sleep(0.05)

            # One instance first: what the worker loads for its first retrieval is not the study's.
            warm = requests.get(
                f"{hub.base_url}/dicomweb/studies/{study}/series/{series}/instances/{uids[0]}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            )
            warm.raise_for_status()
            before = pss_mib(pid)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.monotonic()
            received = parts = 0
            with requests.get(
                f"{hub.base_url}/dicomweb/studies/{study}",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*',
                },
                stream=True,
                timeout=600,
            ) as resp:
                resp.raise_for_status()
                mark = ("--" + resp.headers["Content-Type"].split("boundary=")[1]).encode()
                tail = b""
                for chunk in resp.iter_content(1024 * 1024):
                    received += len(chunk)
                    window = tail + chunk
                    parts += window.count(mark + b"\r\n")
                    tail = window[-(len(mark) + 2) :]
            seconds = time.monotonic() - started
            done.set()
            sampler.join()
            after = pss_mib(pid)
            print(
                f"  received {received / 1e9:.2f} GB, {parts} parts of {count}, in {seconds:.1f} s "
                f"({received / 1e6 / seconds:.0f} MB/s)"
            )
            print(
                f"  hub PSS: before {before:.0f} MiB, peak {max(samples):.0f} MiB "
                f"(+{max(samples) - before:.0f}), after {after:.0f} MiB"
            )
            if parts != count:
                sys.exit(1)


if __name__ == "__main__":
    main()
