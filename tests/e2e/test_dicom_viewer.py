"""The diagnostic viewer (Cornerstone3D over the hub's WADO-RS) in a real browser, as the
health post's staff: a CT opens, scrolls by key and wheel, a window preset changes the window,
a length is measured, and a prior of the same patient opens beside it. In English on a desktop
and in Persian at phone width, axe-clean, no console error and no failed request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from pydicom.uid import RLELossless
from sqlalchemy import select

from hub import db
from hub.models import Facility
from hub.national_id import make_iranian
from tests.imaging.support import ingest
from tests.support.apps import make_app
from tests.support.browser import axe_violations, log_in, screenshot, wait_until
from tests.support.live import DEMO_PASSWORD, live_demo_hub
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 30_000
# The middle pixel of a pane's canvas is not black: an image is drawn on it (read back from
# the 2D canvas the viewer draws on).
DRAWN = """(pane) => {
  const canvas = document.querySelector(`#${pane} canvas`);
  if (!canvas || !canvas.width) { return false; }
  const middle = [canvas.width / 2, canvas.height / 2, 1, 1];
  const [r, g, b] = canvas.getContext("2d").getImageData(...middle).data;
  return r + g + b > 0;
}"""
PASSES = {
    "en": ("en-US", {"width": 1280, "height": 900}),
    "fa": ("fa-IR", {"width": 390, "height": 844}),
}


@pytest.fixture(scope="module")
def viewer_hub(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[HubProcess, str, str, str]]:
    directory = tmp_path_factory.mktemp("viewer-hub")
    with live_demo_hub(directory) as proc:
        data = directory / "data"
        app = make_app(f"sqlite:///{data / 'hub.sqlite'}", data)
        with app.app_context(), db.transaction() as sess:
            facility = sess.scalar(select(Facility).where(Facility.code == "HP-A"))
            assert facility is not None
            sess.expunge(facility)
        patient = make_iranian("001000001")  # a demo patient of HP-A
        prior = ingest(app, facility, patient, images=3, size=64, study_date=date(2023, 3, 1))
        study = ingest(app, facility, patient, images=6, size=64, study_date=date(2024, 5, 1))
        # Stored compressed by its modality (another patient: not a prior of the first).
        other = make_iranian("001000002")
        rle = ingest(app, facility, other, images=3, size=64, syntax=RLELossless)
        yield proc, study.study_uid, prior.study_uid, rle.study_uid


@pytest.mark.parametrize("lang", list(PASSES))
def test_open_scroll_window_measure_and_compare(
    viewer_hub: tuple[HubProcess, str, str, str], browser: Browser, lang: str, tmp_path: Path
) -> None:
    live, study_uid, prior_uid, _rle = viewer_hub
    locale, viewport = PASSES[lang]
    context = browser.new_context(locale=locale, viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    frame_types = _frame_types(page)
    previews: list[str] = []
    page.on(
        "response",
        lambda r: (
            previews.append(f"{r.status} {r.headers.get('content-type')}")
            if "/rendered?accept=image/jpeg" in r.url
            else None
        ),
    )
    try:
        log_in(page, live.base_url, "chw.demo", DEMO_PASSWORD, lang)
        page.goto(f"{live.base_url}/imaging/studies/{study_uid}")
        page.click("#open-viewer")
        page.wait_for_url(f"**/imaging/studies/{study_uid}/viewer")
        wait_until(page, "document.getElementById('dicom-viewer').dataset.ready === 'true'", 30_000)
        # The hub's rendered preview covered the pane until the viewer drew its own image.
        assert previews == ["200 image/jpeg"], previews
        expect(page.locator("#viewer-preview")).to_have_count(0)
        pane = page.locator("#pane-main")
        expect(pane).to_have_attribute("data-count", "6")
        expect(pane).to_have_attribute("data-index", "0")
        # The rest of the series arrives behind the first image (prefetch).
        wait_until(page, "Number(document.getElementById('dicom-viewer').dataset.loaded) >= 6")
        screenshot(page, f"viewer-1-open-{lang}")
        assert axe_violations(page) == []

        # Scroll: a key, then the wheel over the image.
        page.locator("#dicom-viewer").focus()
        page.keyboard.press("ArrowDown")
        expect(pane).to_have_attribute("data-index", "1")
        pane.hover()
        page.mouse.wheel(0, 120)
        expect(pane).to_have_attribute("data-index", "2")

        # A window preset of CT.
        page.click("#viewer-presets [data-preset=lung]")
        expect(pane).to_have_attribute("data-window-width", "1500")
        expect(pane).to_have_attribute("data-window-centre", "-600")
        # The test images (-1024 to -900 HU) are black at their stored window (40/400), grey
        # at the lung window.
        page.wait_for_function(DRAWN, arg="pane-main")

        # A length, drawn by dragging with the length tool.
        page.click("#viewer-tools [data-tool=length]")
        expect(page.locator("#viewer-tools [data-tool=length]")).to_have_attribute(
            "aria-pressed", "true"
        )
        box = pane.bounding_box()
        assert box is not None
        x, y, w, h = box["x"], box["y"], box["width"], box["height"]
        page.mouse.move(x + w * 0.3, y + h * 0.5)
        page.mouse.down()
        page.mouse.move(x + w * 0.5, y + h * 0.5, steps=5)
        page.mouse.move(x + w * 0.7, y + h * 0.5, steps=5)
        page.mouse.up()
        measured = page.locator("#viewer-measurements li[data-tool=Length]")
        expect(measured).to_have_count(1)
        assert float(measured.get_attribute("data-value") or 0) > 0
        screenshot(page, f"viewer-2-measured-{lang}")

        # The prior beside it.
        page.select_option("#viewer-prior", prior_uid)
        wait_until(page, f"document.getElementById('dicom-viewer').dataset.prior === '{prior_uid}'")
        expect(page.locator("#pane-prior")).to_have_attribute("data-count", "3")
        page.click("#viewer-presets [data-preset=lung]")  # both panes at one window
        expect(page.locator("#pane-prior")).to_have_attribute("data-window-width", "1500")
        page.wait_for_function(DRAWN, arg="pane-prior")
        screenshot(page, f"viewer-3-prior-{lang}")
        assert axe_violations(page) == []
        fits = page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        assert fits, "the viewer is wider than the screen"
        assert [f for f in failed if not f.endswith("/favicon.ico")] == []
        assert errors == []
        # The stored-uncompressed frames came JPEG-LS lossless (a third of the bytes).
        assert frame_types and all('type="image/jls"' in t for t in frame_types), frame_types
    finally:
        context.close()


def _frame_types(page: Page) -> list[str]:
    """The Content-Type of every WADO-RS frame answer the page receives, as they come."""
    seen: list[str] = []
    page.on(
        "response",
        lambda r: seen.append(r.headers.get("content-type", "")) if "/frames/" in r.url else None,
    )
    return seen


def test_a_study_stored_compressed_is_decoded_in_the_browser(
    viewer_hub: tuple[HubProcess, str, str, str], browser: Browser
) -> None:
    live, _study, _prior, rle_uid = viewer_hub
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    frame_types = _frame_types(page)
    try:
        log_in(page, live.base_url, "chw.demo", DEMO_PASSWORD, "en")
        page.goto(f"{live.base_url}/imaging/studies/{rle_uid}/viewer")
        wait_until(page, "document.getElementById('dicom-viewer').dataset.ready === 'true'", 30_000)
        wait_until(page, "Number(document.getElementById('dicom-viewer').dataset.loaded) >= 3")
        page.click("#viewer-presets [data-preset=lung]")
        page.wait_for_function(DRAWN, arg="pane-main")
        screenshot(page, "viewer-rle-en")
        assert len(frame_types) >= 3
        assert all('type="image/dicom-rle"' in t for t in frame_types), frame_types
        assert errors == []
    finally:
        context.close()
