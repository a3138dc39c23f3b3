"""Two real browsers in one video session through the hub's signalling: both connect and decode
video, a non-participant is refused, a reload puts the participant back into the same session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.browser import axe_violations, wait_until
from tests.support.live import browser_env, log_in
from tests.video.live import (
    OUTSIDER,
    REQUESTER,
    SPECIALIST,
    STATS_JS,
    WEBRTC_ARGS,
    VideoHub,
    video_hub,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VideoHub]:
    with video_hub(tmp_path_factory.mktemp("video-hub")) as live:
        yield live


@pytest.fixture(scope="module")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    home = tmp_path_factory.mktemp("chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=WEBRTC_ARGS, env=browser_env(home)
        )
        try:
            yield launched
        finally:
            launched.close()


def page_of(browser: Browser, hub: VideoHub, username: str) -> Page:
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log_in(page, hub.base_url, username)
    return page


def wait_connected(
    page: Page, peers: int = 1, frames: int = 10, timeout: float = 30
) -> dict[str, Any]:
    """Until ``peers`` peers are connected with ``frames`` inbound video frames decoded each."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        last = page.evaluate(STATS_JS)
        if last:
            good = [
                p
                for p in last["peers"].values()
                if p["state"] == "connected" and p["frames"] >= frames
            ]
            if len(good) >= peers:
                return last
        time.sleep(0.25)
    raise AssertionError(f"not connected: {last}")


def test_two_browsers_connect_and_a_reload_rejoins(
    browser: Browser, hub: VideoHub, tmp_path: Path
) -> None:
    session_id = hub.new_session()
    url = f"{hub.base_url}/video/sessions/{session_id}?autojoin=1"
    doc = page_of(browser, hub, SPECIALIST)
    chw = page_of(browser, hub, REQUESTER)
    doc.goto(url)
    wait_until(doc, "window.hubVideo && window.hubVideo.joined === true")
    chw.goto(url)
    # The health worker waits until the specialist admits them.
    wait_until(chw, "window.hubVideo && window.hubVideo.me !== null")
    assert chw.evaluate("window.hubVideo.joined") is False
    doc.click("#waiting button[data-admit]")
    chw_stats = wait_connected(chw)
    doc_stats = wait_connected(doc)
    me_chw = chw_stats["me"]
    for stats in (chw_stats, doc_stats):
        peer = next(iter(stats["peers"].values()))
        assert peer["frames"] >= 10 and peer["width"] > 0

    # A reload: admitted already, so straight back into the same session (no waiting room).
    chw.reload()
    after = wait_connected(chw)
    assert after["me"] == me_chw
    assert "same session" in chw.inner_text("#video-status").lower() or chw.evaluate(
        "window.hubVideo.joined"
    )
    wait_connected(doc)

    # The signalling connection drops (network change) while the media keeps flowing: the
    # socket reconnects and rejoins the same place; the peer connections are kept.
    chw.evaluate("window.hubVideo.socket.io.engine.close()")
    wait_until(chw, "document.getElementById('video-status').textContent.includes('same session')")
    frames_before = wait_connected(chw)["peers"]
    # ICE restart on the same connection (what the page does when the network changes).
    ufrag = "(() => { const p = Object.values(window.hubVideo.peers)[0];"
    ufrag += " return p.pc.localDescription.sdp.match(/a=ice-ufrag:(\\S+)/)[1]; })()"
    before_ufrag = chw.evaluate(ufrag)
    assert chw.evaluate("Object.values(window.hubVideo.peers)[0].offerer") is True
    chw.evaluate("window.hubVideo.restartIce(Object.keys(window.hubVideo.peers)[0])")
    wait_until(chw, f"{ufrag} !== '{before_ufrag}'")
    after = wait_connected(chw, frames=next(iter(frames_before.values()))["frames"] + 30)
    assert next(iter(after["peers"].values()))["state"] == "connected"

    # Someone who is not a participant is refused, by the page and by the signalling, and
    # the refusal is audited.
    joins, views = (hub.audited(f"video:session:{a}", "denied") for a in ("joined", "viewed"))
    outsider = page_of(browser, hub, OUTSIDER)
    resp = outsider.goto(url)
    assert resp is not None and resp.status in (403, 404)
    outsider.add_script_tag(url=f"{hub.base_url}/static/vendor/socket.io.min.js")
    refused = outsider.evaluate(
        """(sid) => new Promise(resolve => {
            const s = io('/video', {transports: ['websocket']});
            s.on('connect', () => s.emit('join', {session_id: sid}, ack => resolve(ack)));
            s.on('connect_error', () => resolve({ok: false, error: {code: 'connect_error'}}));
        })""",
        session_id,
    )
    assert refused["ok"] is False and refused["error"]["code"] == "not_found", refused
    # A signal from a socket that has not joined is not relayed either.
    relayed = outsider.evaluate(
        """(pid) => new Promise(resolve => {
            const s = io('/video', {transports: ['websocket']});
            s.on('connect', () => s.emit('signal', {to: pid, candidate: null}, resolve));
        })""",
        me_chw,
    )
    assert relayed["ok"] is False
    assert hub.audited("video:session:joined", "denied") == joins + 2  # page and socket
    assert hub.audited("video:session:viewed", "denied") == views
    for page in (doc, chw, outsider):
        page.context.close()


def test_patient_joins_by_guest_link_and_the_page_is_right_to_left_in_persian(
    browser: Browser, hub: VideoHub
) -> None:
    session_id = hub.new_session()
    guest_url = hub.guest_link(session_id)
    expired_url = hub.guest_link(session_id, hours_valid=0)
    doc = page_of(browser, hub, SPECIALIST)
    doc.goto(f"{hub.base_url}/video/sessions/{session_id}?autojoin=1")
    wait_until(doc, "window.hubVideo && window.hubVideo.joined === true")

    # The patient has no account: the link alone opens the page, in Persian, right to left.
    patient = browser.new_context(locale="fa-IR")
    patient.set_default_timeout(TIMEOUT_MS)
    page = patient.new_page()
    page.goto(guest_url + "?autojoin=1")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.inner_text("#join-button").strip() == "پیوستن"
    wait_until(page, "window.hubVideo && window.hubVideo.me !== null")
    assert page.evaluate("window.hubVideo.joined") is False  # in the waiting room
    doc.click("#waiting button[data-admit]")
    stats = wait_connected(page)
    assert any(p["role"] == "specialist" for p in stats["peers"].values())
    wait_connected(doc)
    assert axe_violations(page) == []  # the patient's page, in Persian

    # An expired link opens nothing.
    assert page.goto(expired_url).status == 404  # type: ignore[union-attr]
    patient.close()
    doc.context.close()


def test_the_consult_page_opens_the_session_and_the_requester_invites_the_patient(
    browser: Browser, hub: VideoHub
) -> None:
    consult_id = hub.new_consult()
    chw = page_of(browser, hub, REQUESTER)
    chw.goto(f"{hub.base_url}/consults/{consult_id}")
    chw.click("#video-open")  # no session yet: one is started
    chw.wait_for_url(f"{hub.base_url}/video/sessions/*")
    first = chw.url
    chw.click("#invite-patient")
    wait_until(chw, "document.getElementById('guest-url').value.includes('/video/guest/')")
    guest_url = chw.input_value("#guest-url")
    assert guest_url.startswith(hub.base_url)
    chw.fill("#invite-username", "nobody-by-that-name")
    chw.click("#invite-form button[type=submit]")
    wait_until(chw, "document.getElementById('invite-error').textContent.length > 0")

    doc = page_of(browser, hub, SPECIALIST)
    doc.goto(f"{hub.base_url}/consults/{consult_id}")
    doc.click("#video-open")  # the open session, not a second one
    doc.wait_for_url(first)
    for page in (chw, doc):
        page.context.close()


SENDER_JS = """() => {
  const p = Object.values(window.hubVideo.peers)[0];
  const s = p.pc.getSenders().find(x => x.track && x.track.kind === 'video');
  return {maxBitrate: s ? (s.getParameters().encodings[0] || {}).maxBitrate : null,
          hasVideo: !!(p.pc.getSenders().find(x => x.track && x.track.kind === 'video'))};
}"""


def test_low_bandwidth_controls_quality_and_chat(browser: Browser, hub: VideoHub) -> None:
    session_id = hub.new_session(admit_all=True)
    url = f"{hub.base_url}/video/sessions/{session_id}?autojoin=1"
    doc, chw = page_of(browser, hub, SPECIALIST), page_of(browser, hub, REQUESTER)
    doc.goto(url)
    wait_until(doc, "window.hubVideo && window.hubVideo.joined === true")
    chw.goto(url)
    wait_connected(chw)
    wait_connected(doc)
    # Every video sender is capped (HUB_VIDEO_MAX_BITRATE, 800 kbit/s by default).
    for page in (doc, chw):
        wait_until(page, f"({SENDER_JS})().maxBitrate === 800000")
    # The quality indicator fills from getStats().
    wait_until(chw, "document.getElementById('quality').textContent.includes('kbit/s')")
    assert chw.get_attribute("#quality", "data-level") in ("good", "fair", "poor")

    # Audio only: the health worker stops sending video and asks the specialist to do the same;
    # audio keeps flowing both ways.
    chw.click("#audio-only-button")
    assert chw.get_attribute("#audio-only-button", "aria-pressed") == "true"
    for page in (chw, doc):
        wait_until(page, f"!({SENDER_JS})().hasVideo")
    frames = {
        n: next(iter(p.evaluate(STATS_JS)["peers"].values()))["frames"]
        for n, p in (("doc", doc), ("chw", chw))
    }
    time.sleep(2)
    for name, page in (("doc", doc), ("chw", chw)):
        peer = next(iter(page.evaluate(STATS_JS)["peers"].values()))
        assert peer["frames"] - frames[name] <= 3, (name, peer)  # video stopped
        assert peer["state"] == "connected"
    chw.click("#audio-only-button")  # and back
    for page in (chw, doc):
        wait_until(page, f"({SENDER_JS})().hasVideo")
    wait_connected(doc, frames=frames["doc"] + 30)

    # Mute and camera toggles act on the local tracks.
    chw.click("#mute-button")
    chw.click("#camera-button")
    assert (
        chw.evaluate(
            "window.hubVideo.local.getAudioTracks()[0].enabled"
            " || window.hubVideo.local.getVideoTracks()[0].enabled"
        )
        is False
    )

    # The chat fallback is the consult's own conversation.
    chw.fill("#chat-body", "The video is choppy, writing here instead.")
    chw.click("#chat-form button[type=submit]")
    wait_until(
        chw, "document.getElementById('chat-messages').textContent.includes('writing here instead')"
    )
    wait_until(
        doc,
        "document.getElementById('chat-messages').textContent.includes('writing here instead')",
        timeout=20_000,
    )
    for page in (doc, chw):
        page.context.close()
