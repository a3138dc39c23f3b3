"""The dose pages in a real browser against a live demo hub, through pages only: the health
worker uploads a CT dose report of a patient, the facility dose dashboard flags it (CTDIvol
above the 80 mGy alert), its link leads to the patient's dose history with its chart, and the
history links to the reference-level table. In English on a desktop and in Persian on a phone;
axe finds no serious or critical violation on any page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect
from pydicom.uid import generate_uid

from hub.national_id import make_iranian
from tests.imaging import dosedata
from tests.imaging.dosedata import CtEvent
from tests.support.browser import axe_violations, log_in, screenshot
from tests.support.live import DEMO_PASSWORD
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 30_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
NATIONAL_ID = make_iranian("001000001")  # the demo's Maryam Ahmadi, a patient of health post A
PASSES = [("en", DESKTOP), ("fa", PHONE)]


@pytest.fixture
def context_factory(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


@pytest.mark.parametrize(("locale", "viewport"), PASSES, ids=[p[0] for p in PASSES])
def test_dashboard_history_and_levels(
    live: HubProcess,
    browser: Browser,
    context_factory: list[BrowserContext],
    tmp_path: Path,
    locale: str,
    viewport: dict[str, int],
) -> None:
    report = dosedata.ct_rdsr(
        [CtEvent(95.0, 1200.0, protocol="CHEST"), CtEvent(8.0, 300.0, protocol="CHEST")],
        study_uid=generate_uid(),
        patient_id=NATIONAL_ID,
    )
    path = tmp_path / "dose.dcm"
    path.write_bytes(dosedata.part10(report))
    context = browser.new_context(
        locale="fa-IR" if locale == "fa" else "en-US",
        viewport=viewport,  # type: ignore[arg-type]
    )
    context.set_default_timeout(TIMEOUT_MS)
    context_factory.append(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live.base_url, "chw.demo", DEMO_PASSWORD, locale)

    page.goto(live.base_url + "/imaging/upload")
    page.set_input_files("#files", [str(path)])
    page.click("#upload button[type=submit]")
    expect(page.locator("#upload-studies a.study-link")).to_have_count(1)

    page.goto(live.base_url + "/imaging/dose/")
    flagged = page.locator(
        f'#dose-flagged tr:has(a[href="/imaging/studies/{report.StudyInstanceUID}"])'
    )
    expect(flagged).to_have_count(1)
    expect(page.locator("#dose-devices")).to_be_visible()
    screenshot(page, f"dose-dashboard-{locale}")
    assert axe_violations(page) == [], "dashboard"

    flagged.locator("a[href^='/imaging/dose/patients/']").click()
    page.wait_for_url(f"{live.base_url}/imaging/dose/patients/*")
    expect(page.locator(".dose-chart svg rect.bar")).not_to_have_count(0)
    expect(page.locator("#dose-studies")).to_contain_text("1500")  # the study's DLP, mGy·cm
    screenshot(page, f"dose-history-{locale}")
    assert axe_violations(page) == [], "history"

    page.click("a[href='/imaging/dose/reference-levels']")
    page.wait_for_url(f"{live.base_url}/imaging/dose/reference-levels")
    expect(page.locator("#dose-levels")).to_contain_text("Kanal KM")
    screenshot(page, f"dose-levels-{locale}")
    assert axe_violations(page) == [], "levels"
    assert page.evaluate("document.documentElement.dir") == ("rtl" if locale == "fa" else "ltr")
    assert errors == []
