"""The diagnostic viewer's memory for one multi-frame instance (issue 18 (d)).

    .venv/bin/python tests/benchmarks/bench_viewer_memory.py [--frames 2000] [--size 256]

A live demo hub (SQLite) holds one multi-frame grayscale instance of ``--frames`` frames of
``--size``² 16-bit pixels (2,000 of 256²: 262 MB of pixels), stored uncompressed. Chromium opens
it in the viewer over loopback (no link limit: memory, not the network, is measured); the viewer
makes a stack of one image per frame, shows the first and prefetches the rest. Printed at the
first image, once every frame has loaded and after scrolling to the last frame: the browser's
proportional set size (PSS, the sum over every Chromium process of this run, from
/proc/PID/smaps_rollup, so shared pages are not counted twice), the page's JavaScript heap
(DevTools ``Performance.getMetrics``), and the hub's PSS (its processes). The issue names no
target; the figures say what a reader's machine needs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import CDPSession, sync_playwright
from pydicom.uid import generate_uid
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hub import db  # noqa: E402
from hub.models import Facility  # noqa: E402
from hub.national_id import make_iranian  # noqa: E402
from tests.imaging.dicomdata import ct_instance  # noqa: E402
from tests.imaging.support import store  # noqa: E402
from tests.support.apps import make_app  # noqa: E402
from tests.support.live import (  # noqa: E402
    CHROMIUM_ARGS,
    DEMO_PASSWORD,
    browser_env,
    live_demo_hub,
)

CHROMIUM = "/usr/bin/chromium"
MULTIFRAME_WORD_SC = "1.2.840.10008.5.1.4.1.1.7.3"
READY = "() => document.getElementById('dicom-viewer')?.dataset.ready === 'true'"
ALL_LOADED = "(n) => Number(document.getElementById('dicom-viewer')?.dataset.loaded || 0) >= n"
AT = "(n) => document.getElementById('pane-main')?.dataset.index === String(n)"


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry))
    return tree


def _descendants(root: int) -> list[int]:
    tree, out, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        for child in tree.get(pid, []):
            out.append(child)
            todo.append(child)
    return out


def _kib(pid: int, field: str, source: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def browser_pss_mib() -> float:
    """PSS of every Chromium process started by this run (its Playwright driver's children)."""
    pids = [
        pid
        for pid in _descendants(os.getpid())
        if "chrom" in Path(f"/proc/{pid}/comm").read_text(errors="replace").lower()
    ]
    return sum(_kib(pid, "Pss", "smaps_rollup") for pid in pids) / 1024


def js_heap_mib(cdp: CDPSession) -> float:
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    used = next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize")
    return float(used) / 2**20


def multiframe(frames: int, size: int, patient: str) -> object:
    ds = ct_instance(
        patient_id=patient,
        study_uid=generate_uid(),
        series_uid=generate_uid(),
        number=1,
        size=size,
    )
    ds.SOPClassUID = MULTIFRAME_WORD_SC
    ds.file_meta.MediaStorageSOPClassUID = MULTIFRAME_WORD_SC
    ds.NumberOfFrames = frames
    yy, xx = np.mgrid[0:size, 0:size]
    base = ((xx + yy) % 1024).astype(np.int16)
    ds.PixelData = b"".join((base + (n % 512)).tobytes() for n in range(frames))
    return ds


def pss_mib(pid: int) -> float:
    """PSS of a process and its descendants."""
    return sum(_kib(p, "Pss", "smaps_rollup") for p in [pid, *_descendants(pid)]) / 1024


def report(label: str, cdp: CDPSession, hub_pid: int, started: float) -> None:
    print(
        f"  {label:22} {time.monotonic() - started:7.1f} s; browser PSS "
        f"{browser_pss_mib():7.0f} MiB; JS heap {js_heap_mib(cdp):6.0f} MiB; "
        f"hub PSS {pss_mib(hub_pid):5.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-viewer-memory-") as tmp:
        work = Path(tmp)
        with live_demo_hub(work) as hub:
            data = work / "data"
            app = make_app(f"sqlite:///{data / 'hub.sqlite'}", data)
            with app.app_context(), db.transaction() as sess:
                facility = sess.scalar(select(Facility).where(Facility.code == "HP-A"))
                assert facility is not None
                sess.expunge(facility)
            ds = multiframe(args.frames, args.size, make_iranian("001000001"))
            store(app, facility, [ds])  # type: ignore[list-item]
            pixels_mb = args.frames * args.size * args.size * 2 / 1e6
            print(
                f"viewer memory: one instance of {args.frames} frames of {args.size}² "
                f"({pixels_mb:.0f} MB of pixels)"
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=CHROMIUM_ARGS,
                    env=browser_env(work / "chromium"),
                )
                page = browser.new_context().new_page()
                cdp = page.context.new_cdp_session(page)
                cdp.send("Performance.enable")
                page.goto(hub.base_url + "/login")
                page.fill("#username", "chw.demo")
                page.fill("#password", DEMO_PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(lambda u: "/login" not in u, timeout=120_000)
                hub_pid = int(hub.pid or 0)
                start = time.monotonic()
                report("logged in", cdp, hub_pid, start)
                page.goto(f"{hub.base_url}/imaging/studies/{ds.StudyInstanceUID}/viewer")
                page.wait_for_function(READY, timeout=600_000, polling=50)
                report("first image", cdp, hub_pid, start)
                page.wait_for_function(ALL_LOADED, arg=args.frames, timeout=1_800_000)
                report("every frame loaded", cdp, hub_pid, start)
                page.locator("#dicom-viewer").focus()
                page.keyboard.press("End")
                page.wait_for_function(AT, arg=args.frames - 1, timeout=120_000)
                report("at the last frame", cdp, hub_pid, start)
                browser.close()


if __name__ == "__main__":
    main()
