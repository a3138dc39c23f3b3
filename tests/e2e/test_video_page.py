"""The video page as its users see it, with real media between two Chromium pages (fake camera
and microphone): the buttons say their state, Leave is apart and off before joining, a camera-off
participant's tile is labelled with their name, the page says when the other side left or
dropped, the waiting room goes away when empty, chat times are in the reader's calendar. In
English on a desktop and in Persian at phone width; screenshots kept, axe clean."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from sqlalchemy import select

from hub.db import make_engine
from hub.models import User
from tests.support.browser import axe_violations, log_in, screenshot, wait_until
from tests.support.live import DEMO_PASSWORD, browser_env
from tests.video.live import REQUESTER, SPECIALIST, WEBRTC_ARGS, VideoHub, video_hub

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 30_000
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PERSIAN_DIGITS = re.compile("[\u06f0-\u06f9]")  # Extended Arabic-Indic digits


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VideoHub]:
    with video_hub(tmp_path_factory.mktemp("video-page-hub")) as live:
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


def full_name(hub: VideoHub, username: str) -> str:
    engine = make_engine(hub.env["HUB_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            name = conn.scalar(select(User.full_name).where(User.username == username))
    finally:
        engine.dispose()
    assert name
    return str(name)


def page_of(
    browser: Browser, hub: VideoHub, username: str, locale: str, viewport: ViewportSize
) -> Page:
    context = browser.new_context(
        locale="fa-IR" if locale == "fa" else "en-US", viewport=viewport, timezone_id="Asia/Tehran"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log_in(page, hub.base_url, username, DEMO_PASSWORD, locale)
    return page


def status(page: Page) -> str:
    return page.inner_text("#video-status")


def tile(pid: int) -> str:
    return f"#remotes figure[data-participant-id='{pid}']"


def peer_connected(page: Page) -> object:
    return wait_until(
        page,
        "Object.values(window.hubVideo.peers).some(p => p.pc.connectionState === 'connected')",
        timeout=TIMEOUT_MS,
    )


def assert_axe_clean(page: Page) -> None:
    assert axe_violations(page) == []


def test_video_page_states_in_english(browser: Browser, hub: VideoHub) -> None:
    session_id = hub.new_session(admit_all=True)
    url = f"{hub.base_url}/video/sessions/{session_id}"
    doc = page_of(browser, hub, SPECIALIST, "en", DESKTOP)
    chw = page_of(browser, hub, REQUESTER, "en", DESKTOP)
    chw_name = full_name(hub, REQUESTER)

    # The specialist's home links their sessions; the list leads to this one.
    doc.click("a[href='/video/sessions']")
    doc.wait_for_url(f"{hub.base_url}/video/sessions")
    assert doc.is_visible(f"tr[data-session-id='{session_id}']")
    assert chw_name in doc.inner_text(f"tr[data-session-id='{session_id}']")
    assert_axe_clean(doc)
    screenshot(doc, "video-sessions-list-en")
    doc.click(f"tr[data-session-id='{session_id}'] a.button")
    doc.wait_for_url(url)

    # Before joining: Leave is off and set apart (danger style), Join is on.
    wait_until(doc, "!!window.hubVideo && !!window.hubVideo.local")
    assert doc.is_disabled("#leave-button") and doc.is_enabled("#join-button")
    assert "danger" in (doc.get_attribute("#leave-button", "class") or "")
    leave_bg = doc.eval_on_selector("#leave-button", "b => getComputedStyle(b).backgroundColor")
    mute_bg = doc.eval_on_selector("#mute-button", "b => getComputedStyle(b).backgroundColor")
    assert leave_bg != mute_bg
    assert doc.is_hidden("#waiting-room")
    assert_axe_clean(doc)
    screenshot(doc, "video-before-join-en")

    doc.click("#join-button")
    wait_until(doc, "window.hubVideo.joined === true")
    assert doc.is_enabled("#leave-button") and doc.is_disabled("#join-button")
    assert "Nobody else is here yet" in status(doc)

    chw.goto(url + "?autojoin=1")
    peer_connected(chw)
    peer_connected(doc)
    me_chw = int(chw.evaluate("window.hubVideo.me"))
    wait_until(doc, "document.getElementById('video-status').textContent.includes('joined')")
    assert chw_name in status(doc)
    assert doc.is_visible(tile(me_chw))
    assert chw_name in doc.inner_text(f"{tile(me_chw)} figcaption")

    # Mute: pressed, the label says so, the preview says so, the other side's tile says so.
    assert chw.inner_text("#mute-button") == "Mute"
    chw.click("#mute-button")
    assert chw.get_attribute("#mute-button", "aria-pressed") == "true"
    assert chw.inner_text("#mute-button") == "Muted"
    assert chw.is_visible("#self-muted")
    assert chw.evaluate("window.hubVideo.local.getAudioTracks()[0].enabled") is False
    wait_until(doc, f'!document.querySelector("{tile(me_chw)} .tile-muted").hidden')
    assert doc.inner_text(f"{tile(me_chw)} .tile-muted") == "Microphone off"
    title = doc.get_attribute(f"{tile(me_chw)} .tile-muted", "title")
    assert title == f"{chw_name} (Requester): microphone off"

    # Camera off: the same, and the specialist's tile of the health worker is labelled.
    assert chw.inner_text("#camera-button") == "Turn camera off"
    chw.click("#camera-button")
    assert chw.get_attribute("#camera-button", "aria-pressed") == "true"
    assert chw.inner_text("#camera-button") == "Camera is off"
    assert chw.evaluate("window.hubVideo.local.getVideoTracks()[0].enabled") is False
    wait_until(doc, f"document.querySelector(\"{tile(me_chw)}\").dataset.cameraOff === 'true'")
    assert doc.inner_text(f"{tile(me_chw)} .tile-off") == f"{chw_name} (Requester): camera off"
    assert_axe_clean(doc)
    screenshot(doc, "video-peer-camera-off-en")
    screenshot(chw, "video-muted-camera-off-en")
    # And back on.
    chw.click("#camera-button")
    chw.click("#mute-button")
    assert chw.get_attribute("#camera-button", "aria-pressed") == "false"
    assert chw.inner_text("#mute-button") == "Mute"
    wait_until(doc, f"document.querySelector(\"{tile(me_chw)}\").dataset.cameraOff === 'false'")
    wait_until(doc, f'document.querySelector("{tile(me_chw)} .tile-muted").hidden')

    # A chat message's time is formatted in the page, not left as UTC text.
    chw.fill("#chat-body", "Can you hear me now?")
    chw.click("#chat-form button[type=submit]")
    wait_until(doc, "document.getElementById('chat-messages').textContent.includes('hear me')")
    shown = wait_until(
        doc, "(document.querySelector('#chat-messages time[data-formatted]') || {}).textContent"
    )
    assert "UTC" not in str(shown) and re.search(r"\d{1,2}:\d{2}", str(shown))

    # The health worker leaves: the specialist's page says so; no stale "In the session".
    chw.click("#leave-button")
    assert "You left the session" in status(chw)
    assert chw.is_disabled("#leave-button") and chw.is_enabled("#join-button")
    wait_until(doc, "document.getElementById('video-status').textContent.includes('left')")
    assert (
        status(doc)
        == f"{chw_name} (Requester) left the session. Nobody else is in the session now."
    )
    assert doc.query_selector(tile(me_chw)) is None
    assert doc.inner_text("#quality") == ""  # no figures of a connection that is gone
    row = f"#participants li[data-participant-id='{me_chw}']"
    assert doc.get_attribute(row, "data-connected") == "false"
    assert doc.inner_text(f"{row} .state") == "left"
    assert_axe_clean(doc)
    screenshot(doc, "video-peer-left-en")
    for page in (doc, chw):
        page.context.close()


def test_video_page_in_persian_at_phone_width(browser: Browser, hub: VideoHub) -> None:
    session_id = hub.new_session()  # the health worker waits to be admitted
    url = f"{hub.base_url}/video/sessions/{session_id}?autojoin=1"
    doc = page_of(browser, hub, SPECIALIST, "fa", PHONE)
    chw = page_of(browser, hub, REQUESTER, "fa", PHONE)
    chw_name = full_name(hub, REQUESTER)
    # The list of one's sessions, in Persian at phone width: times in the Solar Hijri calendar.
    doc.goto(f"{hub.base_url}/video/sessions")
    row = f"tr[data-session-id='{session_id}']"
    assert PERSIAN_DIGITS.search(doc.inner_text(f"{row} time")), doc.inner_text(f"{row} time")
    assert doc.inner_text(f"{row} .session-status") == "باز"
    assert_axe_clean(doc)
    screenshot(doc, "video-sessions-list-fa")
    doc.goto(url)
    assert doc.get_attribute("html", "dir") == "rtl"
    wait_until(doc, "window.hubVideo && window.hubVideo.joined === true")
    assert doc.is_hidden("#waiting-room")

    chw.goto(url)
    wait_until(chw, "window.hubVideo && window.hubVideo.me !== null")
    assert chw.is_disabled("#leave-button")  # waiting is not joined
    doc.wait_for_selector("#waiting-room", state="visible")
    assert chw_name in doc.inner_text("#waiting")
    assert_axe_clean(doc)
    screenshot(doc, "video-waiting-room-fa")
    doc.click("#waiting button[data-admit]")
    # Nobody waits any more: the heading goes with the list.
    doc.wait_for_selector("#waiting-room", state="hidden")
    peer_connected(chw)
    peer_connected(doc)
    me_chw = int(chw.evaluate("window.hubVideo.me"))
    assert chw.is_enabled("#leave-button")

    # The toggles in Persian.
    assert chw.inner_text("#mute-button") == "بی‌صدا"
    chw.click("#mute-button")
    assert chw.get_attribute("#mute-button", "aria-pressed") == "true"
    assert chw.inner_text("#mute-button") == "صدا قطع است"
    chw.click("#camera-button")
    assert chw.inner_text("#camera-button") == "دوربین خاموش است"
    wait_until(doc, f"document.querySelector(\"{tile(me_chw)}\").dataset.cameraOff === 'true'")
    assert chw_name in doc.inner_text(f"{tile(me_chw)} .tile-off")
    assert "دوربین خاموش" in doc.inner_text(f"{tile(me_chw)} .tile-off")
    assert_axe_clean(chw)
    screenshot(chw, "video-muted-camera-off-fa")

    # Chat times in Persian digits and the Solar Hijri calendar.
    doc.fill("#chat-body", "صدای شما را می‌شنوم.")
    doc.click("#chat-form button[type=submit]")
    wait_until(
        chw,
        "document.getElementById('chat-messages').textContent.includes('می‌شنوم')",
        timeout=20_000,
    )
    shown = str(
        wait_until(
            chw, "(document.querySelector('#chat-messages time[data-formatted]') || {}).textContent"
        )
    )
    assert PERSIAN_DIGITS.search(shown), shown
    # This year in the Solar Hijri calendar, as the reader's browser writes it (1405 in 2026).
    year = str(chw.evaluate("new Intl.DateTimeFormat('fa', {year: 'numeric'}).format(new Date())"))
    assert PERSIAN_DIGITS.sub("", year) == "" and year in shown, (shown, year)
    assert "UTC" not in shown and not re.search("[0-9]", shown)
    assert_axe_clean(doc)
    screenshot(doc, "video-chat-fa")

    # The health worker's page goes away (closed, not Leave): the specialist's page notices.
    chw.context.close()
    wait_until(
        doc,
        f"document.getElementById('video-status').textContent.includes('{chw_name}')",
        timeout=TIMEOUT_MS,
    )
    assert "اتصال" in status(doc) and "قطع شد" in status(doc)
    assert "اکنون کس دیگری در جلسه نیست" in status(doc)
    assert doc.query_selector(tile(me_chw)) is None
    assert_axe_clean(doc)
    screenshot(doc, "video-peer-left-fa")
    doc.context.close()
