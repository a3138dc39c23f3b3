"""The image viewers behind a link, in a real browser, with no account: the diagnostic viewer
(Cornerstone3D over the link's DICOMweb) opens the study and scrolls; the simple viewer's PNG
frames render, the series scrolls with the keyboard and the wheel, window/level changes redraw
the frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hub import db
from hub.models import Facility
from hub.national_id import make_iranian
from tests.imaging.support import ingest
from tests.support.apps import make_app
from tests.support.browser import wait_until
from tests.support.live import demo_env, live_demo_hub, run_hub_command
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 20_000


@pytest.fixture
def viewer_hub(tmp_path: Path) -> Iterator[tuple[HubProcess, Path]]:
    with live_demo_hub(tmp_path) as proc:
        yield proc, tmp_path


def test_viewer_scrolls_and_windows(
    viewer_hub: tuple[HubProcess, Path], browser: Browser, tmp_path: Path
) -> None:
    live, directory = viewer_hub
    env = demo_env(directory, int(live.port or 0))
    data = directory / "data"
    # A study stored as the node stores one, in the live hub's database and storage.
    app = make_app(f"sqlite:///{data / 'hub.sqlite'}", data)
    with app.app_context(), db.transaction() as sess:
        facility = sess.scalar(select(Facility).where(Facility.code == "HP-A"))
        assert facility is not None
        sess.expunge(facility)
    study = ingest(app, facility, make_iranian("001000001"), images=5, size=96)
    token = run_hub_command("token", "create", "chw.demo", env=env).strip().splitlines()[-1]
    link = requests.post(
        f"{live.base_url}/api/v1/studies/{study.study_uid}/links",
        json={},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert link.status_code == 201, link.text

    context = browser.new_context(locale="en-US")  # no login: a link needs no account
    context.set_default_timeout(TIMEOUT_MS)
    page: Page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    frames: list[str] = []
    page.on("request", lambda r: frames.append(r.url) if ".png" in r.url else None)
    try:
        page.goto(link.json()["url"])
        # The link opens the diagnostic viewer over the link's own DICOMweb.
        wait_until(page, "document.getElementById('dicom-viewer').dataset.ready === 'true'")
        pane = page.locator("#pane-main")
        expect(pane).to_have_attribute("data-count", "5")
        page.locator("#dicom-viewer").focus()
        page.keyboard.press("ArrowDown")
        expect(pane).to_have_attribute("data-index", "1")
        assert page.locator("#viewer-prior").count() == 0  # a link shows its study only
        page.screenshot(path=str(tmp_path / "viewer-diagnostic.png"))
        # The simple viewer (the hub's PNG frames) for a browser that cannot run it.
        page.click("#simple-viewer")
        page.wait_for_url("**?simple=1")
        image = page.locator("#frame")
        wait_until(page, "document.getElementById('frame').naturalWidth === 96")
        expect(page.locator("#slice-label")).to_have_text("1 / 5")
        page.screenshot(path=str(tmp_path / "viewer-default.png"))
        page.keyboard.press("ArrowDown")
        expect(page.locator("#slice-label")).to_have_text("2 / 5")
        image.hover()
        page.mouse.wheel(0, 100)
        expect(page.locator("#slice-label")).to_have_text("3 / 5")
        # A window on the test data's range (-1024..-834 HU) shows its gradient.
        page.fill("#wc", "-930")
        page.fill("#ww", "200")
        page.press("#ww", "Tab")
        page.wait_for_timeout(800)
        page.screenshot(path=str(tmp_path / "viewer-windowed.png"))
        page.fill("#wc", "-500")
        page.fill("#ww", "100")
        page.press("#ww", "Tab")  # change events
        wait_until(page, "document.getElementById('frame').naturalWidth === 96")
        page.wait_for_timeout(500)
        assert any("wc=-500" in url and "ww=100" in url for url in frames), frames
        assert len({url.split("/frames/")[1].split("/")[0] for url in frames}) >= 3
        page.screenshot(path=str(tmp_path / "viewer.png"))
        # The browser's own favicon request is the only thing allowed to miss.
        assert [u for u in failed if not u.endswith("/favicon.ico")] == []
        assert [e for e in errors if "404" not in e] == []
    finally:
        context.close()
