"""The device registry and dose compliance pages in a real browser against a live demo hub,
through pages only: the national administrator opens the dose dashboard, follows its links to
the device list, the health post's CT (seeded with its national device id and logs), logs a
day, sees it in the uptime table, opens the compliance report, adds and deletes an exam-type
rule; the health worker's dose report shows on the study page. In English on a desktop and in
Persian on a phone; axe finds no serious or critical violation on any page."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pydicom.uid import generate_uid

from hub.national_id import make_iranian
from tests.imaging import dosedata
from tests.imaging.dosedata import CtEvent
from tests.support.browser import axe_violations, log_in, open_page, screenshot
from tests.support.live import DEMO_PASSWORD
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
PASSES = [("en", DESKTOP), ("fa", PHONE)]
DEMO_CT_SERIAL = "HPA-CT-0001"
NATIONAL_ID = make_iranian("001000002")  # the demo's Reza Karimi, a patient of health post A


def _fits(page: Page) -> None:
    """Nothing wider than the window but the scrolling table regions."""
    size = page.viewport_size
    assert size is not None
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"] + 1


@pytest.mark.parametrize(("locale", "viewport"), PASSES, ids=[p[0] for p in PASSES])
def test_registry_uptime_compliance_and_mapping(
    live: HubProcess,
    browser: Browser,
    contexts: list[BrowserContext],
    locale: str,
    viewport: dict[str, int],
) -> None:
    page, _errors = open_page(browser, contexts, locale, viewport)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, live.base_url, "admin.demo", DEMO_PASSWORD, locale)

    page.goto(live.base_url + "/imaging/dose/")
    page.click("#dose-nav a[href='/imaging/devices/']")
    page.wait_for_url(f"{live.base_url}/imaging/devices/")
    row = page.locator("#devices tr", has_text=DEMO_CT_SERIAL)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("IR-CT-000123")
    expect(page.locator("#devices")).to_contain_text("H2A-MG-0001")
    screenshot(page, f"devices-{locale}")
    assert axe_violations(page) == [], "device list"
    _fits(page)

    row.locator("a").click()
    page.wait_for_url(f"{live.base_url}/imaging/devices/*")
    expect(page.locator("#device-logs tbody tr")).not_to_have_count(0)  # seeded days
    # A day of its own per run: the seeded fortnight and earlier runs are left alone.
    day = date.today() - timedelta(days=20 + secrets.randbelow(300))
    page.fill("#log-date", day.isoformat())
    page.fill("#log-planned", "480")
    page.fill("#log-down", "600")  # more than planned: refused with the reason
    page.click("#log-form button[type=submit]")
    expect(page.locator("#log-error")).to_be_visible()
    page.fill("#log-down", "48")
    page.click("#log-form button[type=submit]")
    expect(page.locator(f"#device-logs time[datetime='{day.isoformat()}']")).to_have_count(1)
    screenshot(page, f"device-{locale}")
    assert axe_violations(page) == [], "device"

    page.goto(live.base_url + "/imaging/devices/uptime")
    expect(page.locator("#uptime")).to_contain_text("IR-CT-000123")
    flagged = page.locator("#uptime tr.flagged", has_text="IR-CT-000123")
    # Seeded: 14 days of 480 minutes with 90 + 30 down -> 98.21 %, not flagged.
    expect(flagged).to_have_count(0)
    screenshot(page, f"uptime-{locale}")
    assert axe_violations(page) == [], "uptime"
    _fits(page)

    page.goto(live.base_url + "/imaging/dose/compliance?facility=HP-A")
    expect(page.locator("h2#late-title")).to_be_visible()
    screenshot(page, f"compliance-{locale}")
    assert axe_violations(page) == [], "compliance"

    page.goto(live.base_url + "/imaging/dose/exam-types?facility=HP-A")
    pattern = f"skull {secrets.token_hex(3)}"
    page.fill("#pattern", pattern)
    page.select_option("#exam_type", "ct_head")
    page.click("#rule-add button[type=submit]")
    rule = page.locator("#exam-type-rules tr", has_text=pattern)
    expect(rule).to_have_count(1)
    screenshot(page, f"exam-types-{locale}")
    assert axe_violations(page) == [], "exam types"
    rule.locator("button").click()
    expect(page.locator("#exam-type-rules tr", has_text=pattern)).to_have_count(0)
    assert page.evaluate("document.documentElement.dir") == ("rtl" if locale == "fa" else "ltr")
    assert errors == []


@pytest.mark.parametrize(("locale", "viewport"), PASSES, ids=[p[0] for p in PASSES])
def test_study_page_dose_section(
    live: HubProcess,
    browser: Browser,
    contexts: list[BrowserContext],
    tmp_path: Path,
    locale: str,
    viewport: dict[str, int],
) -> None:
    report = dosedata.ct_rdsr(
        [CtEvent(20.0, 700.0, protocol="HEAD")], study_uid=generate_uid(), patient_id=NATIONAL_ID
    )
    path = tmp_path / "dose.dcm"
    path.write_bytes(dosedata.part10(report))
    page, _errors = open_page(browser, contexts, locale, viewport)
    log_in(page, live.base_url, "chw.demo", DEMO_PASSWORD, locale)
    page.goto(live.base_url + "/imaging/upload")
    page.set_input_files("#files", [str(path)])
    page.click("#upload button[type=submit]")
    expect(page.locator("#upload-studies a.study-link")).to_have_count(1)
    page.goto(f"{live.base_url}/imaging/studies/{report.StudyInstanceUID}")
    expect(page.locator("#dose-totals")).to_contain_text("700")
    expect(page.locator("#dose-node")).to_be_visible()
    screenshot(page, f"study-dose-{locale}")
    assert axe_violations(page) == [], "study page"
