"""Video benchmark: join -> connected (loopback and through coturn), media worker CPU per recorded
640x480 session and recordings per core, valid recordings, and a session over a 2 Mbit/s link.

    .venv/bin/python tests/benchmarks/bench_video.py [--quick] [--sections ctml] [--strict]

Sections (default all):
  c  join -> connected, median of 10, two headless Chromium pages on loopback (target <= 1.0 s);
  t  the same with iceTransportPolicy "relay" through a coturn started on loopback (<= 1.5 s);
  m  ``hub media`` CPU while recording 1, then 2 concurrent sessions of two synthetic 640x480
     participants (``hub media test-peer`` code), from /proc of the worker process
     (target <= 30 % of a core per session), sessions one core sustains, and every recording
     decoded after closing (target 100 % valid);
  l  two Chromium pages in a private network namespace (``unshare -n``) whose loopback is shaped
     to 2 Mbit/s (``tc qdisc ... tbf rate 2mbit``): inbound fps, freezes (getStats freezeCount)
     and the link's total rate (target: no freezes, under the cap).

Needs root for ``l`` (network namespaces and tc); without it the section says so and is skipped.
Each section starts its own hub (SQLite, demo data) in a temporary directory. Exit status 1 when
the run failed; ``--strict`` also fails it when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.support.browser import wait_until  # noqa: E402
from tests.support.live import browser_env  # noqa: E402
from tests.video.coturn import coturn  # noqa: E402
from tests.video.live import (  # noqa: E402
    REQUESTER,
    SPECIALIST,
    WEBRTC_ARGS,
    VideoHub,
    log_in,
    media_worker,
    recordings,
    video_hub,
)

CHROMIUM = "/usr/bin/chromium"
CLK_TCK = os.sysconf("SC_CLK_TCK")
results: dict[str, Any] = {}
misses: list[str] = []


def say(text: str) -> None:
    print(text, flush=True)


def target(name: str, value: float, limit: float, *, below: bool = True) -> str:
    ok = value <= limit if below else value >= limit
    if not ok:
        misses.append(name)
    return "met" if ok else "NOT MET"


# --- c / t: join -> connected -------------------------------------------------------------

CONNECTED_JS = """() => window.hubVideo && window.hubVideo.connectedAt
    ? {join: window.hubVideo.joinedAt, connected: window.hubVideo.connectedAt} : null"""


def _page(browser: Browser, hub: VideoHub, username: str) -> Page:
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(30_000)
    page = context.new_page()
    log_in(page, hub.base_url, username)
    return page


def measure_connect(hub: VideoHub, rounds: int, home: Path) -> list[dict[str, float]]:
    """Per round: the specialist is in the session; the requester (admitted before, as after
    the waiting room) opens the page, which joins at once. Times from the requester's page."""
    found: list[dict[str, float]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=WEBRTC_ARGS, env=browser_env(home)
        )
        try:
            doc, chw = _page(browser, hub, SPECIALIST), _page(browser, hub, REQUESTER)
            for _ in range(rounds):
                session_id = hub.new_session(admit_all=True)
                url = f"{hub.base_url}/video/sessions/{session_id}?autojoin=1"
                doc.goto(url)
                wait_until(doc, "window.hubVideo && window.hubVideo.joined === true")
                chw.goto(url)
                wait_until(chw, CONNECTED_JS, timeout=30_000)
                times = chw.evaluate(CONNECTED_JS)
                found.append(
                    {
                        "join_to_connected": (times["connected"] - times["join"]) / 1000,
                        "load_to_connected": times["connected"] / 1000,
                    }
                )
                for page in (chw, doc):
                    page.click("#leave-button")
        finally:
            browser.close()
    return found


def section_connect(quick: bool, relay: bool) -> None:
    rounds = 3 if quick else 10
    name = "through coturn (relay only)" if relay else "loopback"
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        base = Path(tmp)
        extra: dict[str, str] = {}
        turn_ctx = coturn(base / "coturn") if relay else None
        server = turn_ctx.__enter__() if turn_ctx else None
        try:
            if server is not None:
                extra = {
                    "HUB_TURN_SECRET": server.secret,
                    "HUB_TURN_URLS": server.url,
                    "HUB_VIDEO_RELAY_ONLY": "true",
                }
            with video_hub(base / "hub", **extra) as hub:
                rows = measure_connect(hub, rounds, base / "chromium")
        finally:
            if turn_ctx is not None:
                turn_ctx.__exit__(None, None, None)
    join = statistics.median(r["join_to_connected"] for r in rows)
    load = statistics.median(r["load_to_connected"] for r in rows)
    limit = 1.5 if relay else 1.0
    key = "connect_relay" if relay else "connect_loopback"
    results[key] = {
        "rounds": rounds,
        "join_to_connected_median_s": round(join, 3),
        "page_load_to_connected_median_s": round(load, 3),
        "all_join_to_connected_s": [round(r["join_to_connected"], 3) for r in rows],
    }
    say(
        f"[{key}] join -> connected, {name}, median of {rounds}: {join:.3f} s "
        f"(target <= {limit} s: {target(key, join, limit)}); page load -> connected {load:.3f} s"
    )


# --- m: media worker CPU --------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime (all threads)


def section_media(quick: bool) -> None:
    from video.media import allow_loopback_candidates
    from video.testpeer import run_test_peer

    allow_loopback_candidates()
    seconds = 15.0 if quick else 30.0
    all_rows: list[dict[str, Any]] = []
    per_session: dict[int | str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        base = Path(tmp)
        with video_hub(base / "hub", HUB_MEDIA_MAX_SESSIONS="4") as hub:
            tokens = [hub.token(REQUESTER), hub.token(SPECIALIST)]
            for concurrent in (1, 2):
                sessions = [hub.new_session(record=True, admit_all=True) for _ in range(concurrent)]
                with media_worker(hub, base / f"media{concurrent}") as worker:
                    pid = worker.pid
                    state: dict[str, float] = {}

                    async def run() -> list[dict[str, Any]]:
                        peers = [
                            run_test_peer(None, hub.base_url, sid, tok, seconds + 10)
                            for sid in sessions  # noqa: B023
                            for tok in tokens
                        ]
                        tasks = [asyncio.ensure_future(p) for p in peers]
                        await asyncio.sleep(8)  # connect, recorder joins, encoders warm up
                        state["cpu0"], state["t0"] = cpu_seconds(pid), time.monotonic()  # noqa: B023
                        await asyncio.sleep(seconds)
                        state["cpu1"], state["t1"] = cpu_seconds(pid), time.monotonic()  # noqa: B023
                        return list(await asyncio.gather(*tasks))

                    peer_results = asyncio.run(run())
                    deadline = time.monotonic() + 90
                    rows: list[dict[str, Any]] = []
                    while time.monotonic() < deadline:
                        rows = [r for sid in sessions for r in recordings(hub, sid)]
                        if len(rows) >= 2 * concurrent and all(
                            r["status"] != "recording" for r in rows
                        ):
                            break
                        time.sleep(0.5)
                share = (state["cpu1"] - state["cpu0"]) / (state["t1"] - state["t0"])
                per_session[concurrent] = share / concurrent
                all_rows += rows
                connected = sum(1 for r in peer_results if r["connected_after"] is not None)
                fps = [
                    int(r["video_frames"]) / float(r["duration_seconds"])
                    for r in rows
                    if r["duration_seconds"]
                ]
                say(
                    f"[media] {concurrent} session(s) x 2 legs of 640x480: worker CPU "
                    f"{share * 100:.0f} % of a core ({share / concurrent * 100:.0f} % per session, "
                    f"{share / concurrent / 2 * 100:.0f} % per leg) at "
                    f"{statistics.median(fps) if fps else 0:.0f} fps recorded (sent: 30); "
                    f"test peers connected "
                    f"{connected}/{len(peer_results)}; recordings {len(rows)}, valid "
                    f"{sum(1 for r in rows if r['status'] == 'valid')}"
                )
        # The same with real senders: two Chromium pages (fake camera, 640x480 at 30 fps).
        with video_hub(base / "hub-browsers") as hub:
            share, rows, fps_b = browser_recording(hub, base, seconds)
        per_session["browsers"] = share
        all_rows += rows
        say(
            f"[media] 1 session x 2 legs from two Chromium pages: worker CPU {share * 100:.0f} % "
            f"of a core ({share / 2 * 100:.0f} % per leg) at {fps_b:.0f} fps recorded; "
            f"recordings {len(rows)}, valid {sum(1 for r in rows if r['status'] == 'valid')}"
        )
    valid = sum(1 for r in all_rows if r["status"] == "valid")
    pct_valid = 100.0 * valid / len(all_rows) if all_rows else 0.0
    worst = max(per_session.values())  # per session, whichever sender kind costs more
    capacity = int(1 / worst) if worst > 0 else 0
    results["media"] = {
        "cpu_per_session_pct": {str(k): round(v * 100, 1) for k, v in per_session.items()},
        "sessions_per_core": capacity,
        "recordings": len(all_rows),
        "valid": valid,
        "frames": [
            {"video": r["video_frames"], "audio": r["audio_frames"], "s": r["duration_seconds"]}
            for r in all_rows
        ],
    }
    say(
        f"[media] CPU per recorded session (worst of the runs): {worst * 100:.0f} % of "
        f"a core (target <= 30 %: {target('media_cpu', worst * 100, 30)}); one core sustains "
        f"~{capacity} concurrent recorded sessions; valid recordings {valid}/{len(all_rows)} = "
        f"{pct_valid:.0f} % (target 100 %: {target('media_valid', pct_valid, 100, below=False)})"
    )


def browser_recording(hub: VideoHub, base: Path, seconds: float) -> tuple[float, list[Any], float]:
    """(worker CPU share, recording rows, recorded fps) of one session between two browsers."""
    session_id = hub.new_session(record=True, admit_all=True)
    url = f"{hub.base_url}/video/sessions/{session_id}?autojoin=1"
    with media_worker(hub, base / "media-browsers") as worker, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=WEBRTC_ARGS,
            env=browser_env(base / "chromium-media"),
        )
        try:
            doc, chw = _page(browser, hub, SPECIALIST), _page(browser, hub, REQUESTER)
            doc.goto(url)
            wait_until(doc, "window.hubVideo && window.hubVideo.joined === true")
            chw.goto(url)
            recorder_js = (
                "Object.values(window.hubVideo.peers).some(p => p.role === 'recorder'"
                " && p.pc.connectionState === 'connected')"
            )
            for page in (doc, chw):
                wait_until(page, recorder_js, timeout=60_000)
            time.sleep(8)
            cpu0, t0 = cpu_seconds(worker.pid), time.monotonic()
            time.sleep(seconds)
            cpu1, t1 = cpu_seconds(worker.pid), time.monotonic()
            for page in (chw, doc):
                page.click("#leave-button")
            deadline = time.monotonic() + 90
            rows: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                rows = recordings(hub, session_id)
                if len(rows) >= 2 and all(r["status"] != "recording" for r in rows):
                    break
                time.sleep(0.5)
        finally:
            browser.close()
    fps = [
        int(r["video_frames"]) / float(r["duration_seconds"]) for r in rows if r["duration_seconds"]
    ]
    return (cpu1 - cpu0) / (t1 - t0), rows, statistics.median(fps) if fps else 0.0


# --- l: 2 Mbit/s link -------------------------------------------------------------------------

LINK_JS = """async () => {
  const out = [];
  for (const s of await window.hubVideoStats()) {
    const p = window.hubVideo.peers[s.peer];
    out.push({state: p ? p.pc.connectionState : null, frames: s.frames, bytes: s.bytes,
              sent: s.bytesSent, freezes: s.freezes || 0, fps: s.fps, w: s.width, h: s.height});
  }
  return out;
}"""


def qdisc_counters() -> tuple[int, int, int]:
    """(bytes sent through the shaper, packets sent, packets dropped) on lo. The interface's own
    tx counter also counts packets the shaper then drops, so it overstates the link's rate."""
    import re

    text = subprocess.run(
        ["tc", "-s", "qdisc", "show", "dev", "lo"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+)", text)
    assert match, text
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def inner_link(quick: bool) -> dict[str, Any]:
    """Runs inside the private network namespace (see section_link)."""
    for command in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "link", "set", "lo", "mtu", "1500"],
        [
            "tc",
            "qdisc",
            "add",
            "dev",
            "lo",
            "root",
            "tbf",
            "rate",
            "2mbit",
            "burst",
            "15k",
            "latency",
            "100ms",
        ],
    ):
        subprocess.run(command, check=True)
    seconds = 20 if quick else 45
    with tempfile.TemporaryDirectory(prefix="bench-video-link-") as tmp:
        base = Path(tmp)
        with video_hub(base / "hub") as hub, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=WEBRTC_ARGS,
                env=browser_env(base / "chromium"),
            )
            try:
                doc, chw = _page(browser, hub, SPECIALIST), _page(browser, hub, REQUESTER)
                session_id = hub.new_session(admit_all=True)
                url = f"{hub.base_url}/video/sessions/{session_id}?autojoin=1"
                doc.goto(url)
                wait_until(doc, "window.hubVideo && window.hubVideo.joined === true")
                chw.goto(url)
                wait_until(chw, CONNECTED_JS, timeout=60_000)
                time.sleep(5)  # bandwidth estimation settles
                start = {
                    "lo": qdisc_counters(),
                    "t": time.monotonic(),
                    "doc": doc.evaluate(LINK_JS)[0],
                    "chw": chw.evaluate(LINK_JS)[0],
                }
                fps: dict[str, list[float]] = {"doc": [], "chw": []}
                for _ in range(seconds):
                    time.sleep(1)
                    for name, page in (("doc", doc), ("chw", chw)):
                        fps[name].append(float(page.evaluate(LINK_JS)[0]["fps"] or 0))
                end = {
                    "lo": qdisc_counters(),
                    "t": time.monotonic(),
                    "doc": doc.evaluate(LINK_JS)[0],
                    "chw": chw.evaluate(LINK_JS)[0],
                }
            finally:
                browser.close()
    span = end["t"] - start["t"]
    out: dict[str, Any] = {"seconds": round(span, 1)}
    # Everything through the shaper: both directions of the call (and signalling) together.
    out["link_total_kbps"] = round((end["lo"][0] - start["lo"][0]) * 8 / span / 1000, 1)
    sent, dropped = end["lo"][1] - start["lo"][1], end["lo"][2] - start["lo"][2]
    out["shaper_drop_pct"] = round(100 * dropped / max(1, sent + dropped), 2)
    for name in ("doc", "chw"):
        a, b = start[name], end[name]
        out[name] = {
            "inbound_kbps": round((b["bytes"] - a["bytes"]) * 8 / span / 1000, 1),
            "outbound_kbps": round((b["sent"] - a["sent"]) * 8 / span / 1000, 1),
            "freezes": b["freezes"] - a["freezes"],
            "fps_median": statistics.median(fps[name]),
            "fps_min": min(fps[name]),
            "resolution": f"{b['w']}x{b['h']}",
            "frames": b["frames"] - a["frames"],
        }
    return out


def section_link(quick: bool) -> None:
    if os.geteuid() != 0:
        say("[link] skipped: needs root for `unshare -n` and tc")
        results["link"] = "skipped (not root)"
        return
    command = ["unshare", "-n", sys.executable, __file__, "--inner-link"]
    if quick:
        command.append("--quick")
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("{")), None)
    if proc.returncode != 0 or line is None:
        say(f"[link] failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        results["link"] = "failed"
        misses.append("link")
        return
    data = json.loads(line)
    results["link"] = data
    freezes = data["doc"]["freezes"] + data["chw"]["freezes"]
    say(
        f"[link] 2 Mbit/s emulated link, {data['seconds']} s: total on the link "
        f"{data['link_total_kbps']} kbit/s (target < 2000: "
        f"{target('link_cap', data['link_total_kbps'], 2000)}, shaper dropped "
        f"{data['shaper_drop_pct']} % of packets); freezes {freezes} (target 0: "
        f"{target('link_freezes', freezes, 0)}); inbound video "
        f"{data['doc']['inbound_kbps']} / {data['chw']['inbound_kbps']} kbit/s at "
        f"{data['doc']['fps_median']:.0f} / {data['chw']['fps_median']:.0f} fps median "
        f"(min {data['doc']['fps_min']:.0f} / {data['chw']['fps_min']:.0f}), "
        f"{data['doc']['resolution']} / {data['chw']['resolution']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sections", default="ctml")
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--inner-link", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner_link:
        print(json.dumps(inner_link(args.quick)), flush=True)
        return 0
    say(f"load average at start: {os.getloadavg()}, cores: {os.cpu_count()}")
    sections = {
        "c": lambda: section_connect(args.quick, relay=False),
        "t": lambda: section_connect(args.quick, relay=True),
        "m": lambda: section_media(args.quick),
        "l": lambda: section_link(args.quick),
    }
    for key in args.sections:
        started = time.monotonic()
        sections[key]()
        say(f"  ({time.monotonic() - started:.0f} s)")
    say(f"load average at end: {os.getloadavg()}")
    say(json.dumps(results, default=str))
    if args.strict and misses:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
