"""The diagnostic viewer over a slow link: time to the first image on screen and to the whole
series loaded, in Chromium, at a health post's 2 Mbit/s (SEEDS 002) and 100 ms round trip.

    .venv/bin/python tests/benchmarks/bench_viewer.py [--slices 100] [--size 512] [--mbit 2]

A live demo hub (SQLite) holds a CT series of ``--slices`` slices of ``--size``² 16-bit pixels
(0.5 MB each at 512), stored uncompressed: a chest-like phantom with a scanner's noise (12 HU),
so that lossless compression does on it what it does on real CT (a gradient compresses to
nothing). Every byte between Chromium and the hub passes a relay on loopback that caps each
direction at the link rate (tests/support/throttle.py); Chromium adds the round trip (DevTools
network emulation: latency only, the relay sets the rate). Three visits: with an empty cache
(the viewer's scripts, 1.3 MB gzip, cross the link too), then with them cached (a returning
reader), the viewer asking frames JPEG-LS lossless as it does; then the frames asked as stored
(their Accept rewritten to ``transfer-syntax=*`` by a Playwright route, which also turns the
browser's cache off: compare it with the empty-cache visit). For each: seconds from navigation
to the first image on screen (the hub's rendered JPEG preview of the first slice, or the
viewer's own image if that came first), to the viewer's own first image (full depth, windowable:
``data-ready``) and to every slice loaded (``data-loaded``), and the bytes the page received.
Target (issue 18): first image <= 3 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from playwright.sync_api import Page, Route, sync_playwright
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hub import db  # noqa: E402
from hub.models import Facility  # noqa: E402
from hub.national_id import make_iranian  # noqa: E402
from tests.imaging.support import ingest  # noqa: E402
from tests.support.apps import make_app  # noqa: E402
from tests.support.live import (  # noqa: E402
    CHROMIUM_ARGS,
    DEMO_PASSWORD,
    browser_env,
    live_demo_hub,
)
from tests.support.throttle import throttled_relay  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# Functions, not expressions: the page's content security policy refuses eval.
READY = "() => document.getElementById('dicom-viewer')?.dataset.ready === 'true'"
# Something on screen: the hub's rendered preview, or the viewer's own image.
SHOWN = (
    "() => { const i = document.getElementById('viewer-preview');"
    " return document.getElementById('dicom-viewer')?.dataset.ready === 'true'"
    " || Boolean(i && i.complete && i.naturalWidth > 0); }"
)
STORED = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
ALL_LOADED = "(n) => Number(document.getElementById('dicom-viewer')?.dataset.loaded || 0) >= n"


def visit(page: Page, url: str, slices: int, received: list[int]) -> tuple[float, ...]:
    """Seconds to the first image on screen (the rendered preview), to the viewer's own first
    image (full depth, windowable), to every slice; and the bytes received, of one visit."""
    received.clear()
    start = time.monotonic()
    page.goto(url, wait_until="commit")
    page.wait_for_function(SHOWN, timeout=600_000, polling=50)
    shown = time.monotonic() - start
    page.wait_for_function(READY, timeout=600_000, polling=50)
    first = time.monotonic() - start
    page.wait_for_function(ALL_LOADED, arg=slices, timeout=1_800_000, polling=100)
    return shown, first, time.monotonic() - start, sum(received)


def as_stored(route: Route) -> None:
    """The frame request as a viewer without JPEG-LS would send it."""
    route.continue_(headers={**route.request.headers, "accept": STORED})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=100)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--mbit", type=float, default=2.0)
    parser.add_argument("--rtt-ms", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-viewer-") as tmp:
        work = Path(tmp)
        with live_demo_hub(work) as hub:
            data = work / "data"
            app = make_app(f"sqlite:///{data / 'hub.sqlite'}", data)
            with app.app_context(), db.transaction() as sess:
                facility = sess.scalar(select(Facility).where(Facility.code == "HP-A"))
                assert facility is not None
                sess.expunge(facility)
            study = ingest(
                app,
                facility,
                make_iranian("001000001"),
                images=args.slices,
                size=args.size,
                study_date=date(2024, 5, 1),
                phantom=True,
            )
            with (
                throttled_relay(int(hub.port or 0), int(args.mbit * 1_000_000)) as relay,
                sync_playwright() as playwright,
            ):
                base = f"http://127.0.0.1:{relay.port}"
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=CHROMIUM_ARGS,
                    env=browser_env(work / "chromium"),
                )
                page = browser.new_context().new_page()
                cdp = page.context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send(
                    "Network.emulateNetworkConditions",
                    {
                        "offline": False,
                        "latency": args.rtt_ms,
                        "downloadThroughput": -1,
                        "uploadThroughput": -1,
                    },
                )
                received: list[int] = []
                # Bytes that crossed the link (a response from the cache has none).
                cdp.on(
                    "Network.loadingFinished",
                    lambda e: received.append(int(e.get("encodedDataLength", 0))),
                )
                page.goto(base + "/login")
                page.fill("#username", "chw.demo")
                page.fill("#password", DEMO_PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(lambda u: "/login" not in u, timeout=120_000)
                url = f"{base}/imaging/studies/{study.study_uid}/viewer"
                per_slice = args.size * args.size * 2 / 1e6
                print(
                    f"viewer over {args.mbit:g} Mbit/s, {args.rtt_ms} ms RTT: "
                    f"{args.slices} CT slices of {args.size}² ({per_slice:.2f} MB each)"
                )
                for label in ("empty cache", "scripts cached", "no cache, as stored"):
                    if label == "no cache, as stored":
                        page.route("**/frames/**", as_stored)
                    shown, first, whole, size = visit(page, url, args.slices, received)
                    verdict = "met" if shown <= 3.0 else "NOT met"
                    print(
                        f"  {label:19} first image {shown:6.2f} s ({verdict}, target <= 3 s); "
                        f"viewer's own {first:6.2f} s; whole series {whole:7.1f} s; "
                        f"received {size / 1e6:6.1f} MB"
                    )
                browser.close()


if __name__ == "__main__":
    main()
