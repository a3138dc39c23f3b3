"""The media worker (``hub media``, aiortc) joins a consented session as a peer, records each
participant, stops cleanly when they leave, and every file is valid (ffprobe + full decode)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.browser import wait_until
from tests.support.live import browser_env
from tests.video.live import (
    REQUESTER,
    SPECIALIST,
    WEBRTC_ARGS,
    VideoHub,
    media_worker,
    recordings,
    video_hub,
)
from tests.video.test_browser import page_of, wait_connected

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VideoHub]:
    with video_hub(tmp_path_factory.mktemp("media-hub")) as live:
        yield live


def timeline_of(hub: VideoHub, session_id: int) -> list[tuple[object, ...]]:
    from sqlalchemy import select

    from hub.db import make_engine
    from video.models import VideoEvent

    engine = make_engine(hub.env["HUB_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return [
                tuple(r)
                for r in conn.execute(
                    select(VideoEvent.kind, VideoEvent.participant_id, VideoEvent.details).where(
                        VideoEvent.session_id == session_id
                    )
                )
            ]
    finally:
        engine.dispose()


def ffprobe_frames(path: Path) -> dict[str, int]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_type,nb_read_frames",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return {s["codec_type"]: int(s["nb_read_frames"]) for s in json.loads(out.stdout)["streams"]}


def test_media_worker_records_a_consented_session(
    chromium: str, hub: VideoHub, tmp_path: Path
) -> None:
    session_id = hub.new_session(record=True)
    url = f"{hub.base_url}/video/sessions/{session_id}?autojoin=1"
    with media_worker(hub, tmp_path / "media") as worker, sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=WEBRTC_ARGS, env=browser_env(tmp_path)
        )
        try:
            doc = page_of(browser, hub, SPECIALIST)
            chw = page_of(browser, hub, REQUESTER)
            doc.goto(url)
            wait_until(doc, "window.hubVideo && window.hubVideo.joined === true")
            chw.goto(url)
            wait_until(chw, "window.hubVideo && window.hubVideo.me !== null")
            doc.click("#waiting button[data-admit]")
            # Each browser: the other browser and the recorder connected.
            wait_connected(chw, peers=1, frames=10)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                roles = doc.evaluate(
                    "Object.values(window.hubVideo.peers).map(p => [p.role, p.pc.connectionState])"
                )
                if ["recorder", "connected"] in roles:
                    break
                time.sleep(0.5)
            else:
                raise AssertionError(
                    f"recorder never connected: {roles}\n{worker.output()[-3000:]}"
                )
            time.sleep(6)  # record a few seconds
            for page in (chw, doc):
                page.click("#leave-button")
            deadline = time.monotonic() + 60
            rows: list[dict[str, object]] = []
            while time.monotonic() < deadline:
                rows = recordings(hub, session_id)
                if len(rows) == 2 and all(r["status"] != "recording" for r in rows):
                    break
                time.sleep(0.5)
            assert len(rows) == 2, (rows, worker.output()[-3000:])
        finally:
            browser.close()
    root = Path(hub.env["HUB_DATA_DIR"]) / "recordings"
    for row in rows:
        assert row["status"] == "valid", (row, timeline_of(hub, session_id))
        assert int(row["video_frames"]) > 60 and int(row["audio_frames"]) > 100, row
        path = root / f"consult-{row['consult_id']}" / str(row["filename"])
        probed = ffprobe_frames(path)
        assert probed["video"] == row["video_frames"], (probed, row)
        assert probed["audio"] >= 100
        assert row["retain_until"] is not None


def test_test_peers_send_synthetic_media_and_are_recorded(hub: VideoHub, tmp_path: Path) -> None:
    """Two synthetic participants (no browser): they connect to each other, the recorder joins,
    and both legs are recorded and valid."""
    import asyncio

    from video.media import allow_loopback_candidates
    from video.testpeer import run_test_peer

    allow_loopback_candidates()
    session_id = hub.new_session(record=True, admit_all=True)
    tokens = [hub.token(REQUESTER), hub.token(SPECIALIST)]

    async def both() -> list[dict[str, object]]:
        return list(
            await asyncio.gather(
                *(
                    # 8 s once each peer has both others (peer and recorder): how soon the
                    # recorder starts depends on the machine's load, what it records must not.
                    run_test_peer(None, hub.base_url, session_id, t, 8.0, once_connected_to=2)
                    for t in tokens
                )
            )
        )

    with media_worker(hub, tmp_path / "media") as worker:
        results = asyncio.run(both())
        deadline = time.monotonic() + 60
        rows: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            rows = recordings(hub, session_id)
            if len(rows) >= 2 and all(r["status"] != "recording" for r in rows):
                break
            time.sleep(0.5)
        output = worker.output()[-3000:]
    for result in results:
        assert result["connected_after"] is not None, (results, output)
        assert result["all_connected_after"] is not None, (results, output)
        received = result["received"]
        assert isinstance(received, dict) and received["video"] > 100, results
    assert len(rows) == 2, (rows, output)
    for row in rows:
        assert row["status"] == "valid", row
        duration = float(row["duration_seconds"])
        assert duration >= 5.0, row  # most of the 8 s sent once the recorder was connected
        # At least 2 frames a second on average: the peers send far more, but a recorder on a
        # loaded machine decodes fewer (43 and 51 frames were seen when tests shared the cores).
        assert int(row["video_frames"]) >= 2 * duration, row
