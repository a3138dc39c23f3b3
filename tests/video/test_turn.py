"""TURN through a real coturn: the hub's REST credentials allocate, expired or wrong ones are
refused, and two browsers connect with iceTransportPolicy "relay" through it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.browser import wait_until
from tests.support.live import browser_env
from tests.video.coturn import Coturn, allocate, coturn
from tests.video.live import REQUESTER, SPECIALIST, STATS_JS, WEBRTC_ARGS, VideoHub, video_hub
from tests.video.test_browser import page_of, wait_connected
from video.turn import credential

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def turn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with coturn(tmp_path_factory.mktemp("coturn")) as server:
        yield server


def test_rest_credentials_allocate_and_bad_ones_are_refused(turn_server: Coturn) -> None:
    good = credential(turn_server.secret, "p1", 300)
    assert allocate(turn_server, good.username, good.credential) is None
    expired = credential(turn_server.secret, "p1", 60, now=time.time() - 3600)
    assert allocate(turn_server, expired.username, expired.credential) is not None
    wrong = credential("another-secret-0123456789", "p1", 300)
    assert allocate(turn_server, wrong.username, wrong.credential) is not None
    assert allocate(turn_server, good.username, good.credential[:-4] + "AAA=") is not None


@pytest.fixture(scope="module")
def relay_hub(turn_server: Coturn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VideoHub]:
    with video_hub(
        tmp_path_factory.mktemp("relay-hub"),
        HUB_TURN_SECRET=turn_server.secret,
        HUB_TURN_URLS=turn_server.url,
        HUB_TURN_TTL="600",
        HUB_VIDEO_RELAY_ONLY="true",
    ) as live:
        yield live


@pytest.mark.browser
def test_browsers_connect_through_coturn_relay_only(
    chromium: str, relay_hub: VideoHub, tmp_path: Path
) -> None:
    session_id = relay_hub.new_session()
    url = f"{relay_hub.base_url}/video/sessions/{session_id}?autojoin=1"
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=WEBRTC_ARGS, env=browser_env(tmp_path)
        )
        try:
            doc = page_of(browser, relay_hub, SPECIALIST)
            chw = page_of(browser, relay_hub, REQUESTER)
            doc.goto(url)
            wait_until(doc, "window.hubVideo && window.hubVideo.joined === true")
            config = doc.evaluate("window.hubVideo.ice")
            assert config["iceTransportPolicy"] == "relay"
            assert config["iceServers"][0]["username"].split(":")[1].startswith("p")
            chw.goto(url)
            wait_until(chw, "window.hubVideo && window.hubVideo.me !== null")
            doc.click("#waiting button[data-admit]")
            for page in (chw, doc):
                stats = wait_connected(page)
                peer = next(iter(stats["peers"].values()))
                assert peer["localType"] == "relay", stats
            assert doc.evaluate(STATS_JS)["joined"]
        finally:
            browser.close()
