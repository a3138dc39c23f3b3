"""Teleradiology in a real browser against a live demo hub, through pages only: the health
post's worker uploads a study and sends it for reading, radiologist.demo claims it from the
reading worklist, opens it in the viewer and raises a category-1 critical result, and the health
post acknowledges it with a read-back; a second one left unacknowledged escalates to the
facility's head (facility.demo), then to the region's command staff (command.demo). In English
on a desktop and in Persian on a phone; axe clean on every page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from hub.national_id import make_iranian
from tests.imaging.dicomdata import write_study
from tests.support.browser import axe_violations, log_in, open_page, screenshot, wait_until
from tests.support.live import DEMO_PASSWORD, demo_env, run_in_hub
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
NATIONAL_ID = make_iranian("001000001")  # the demo's Maryam Ahmadi, a patient of health post A
PASSES = [("en", DESKTOP), ("fa", PHONE)]


def _clean(page: Page, name: str) -> None:
    screenshot(page, name)
    assert axe_violations(page) == [], name


# The escalation job twice, each time past the category-1 window (15 minutes by default).
ESCALATE = """
from datetime import timedelta
from hub import create_app, db
from hub.models import utcnow
from imaging.reading.critical import escalate_due
app = create_app()
with app.app_context():
    for step in (1, 2):
        with db.transaction() as session:
            escalate_due(session, now=utcnow() + timedelta(minutes=20 * step))
"""


def _escalate(live: HubProcess) -> None:
    run_in_hub(ESCALATE, demo_env(live.log_path.parent.parent, int(live.port or 0)))


@pytest.mark.parametrize(("locale", "viewport"), PASSES, ids=[p[0] for p in PASSES])
def test_send_claim_raise_and_acknowledge(
    live: HubProcess,
    browser: Browser,
    contexts: list[BrowserContext],
    tmp_path: Path,
    locale: str,
    viewport: dict[str, int],
) -> None:
    study_uid, files = write_study(tmp_path / "study", patient_id=NATIONAL_ID, count=1, size=64)
    worker, worker_errors = open_page(browser, contexts, locale, viewport)
    log_in(worker, live.base_url, "chw.demo", DEMO_PASSWORD, locale)
    assert worker.evaluate("document.documentElement.dir") == ("rtl" if locale == "fa" else "ltr")
    worker.goto(live.base_url + "/imaging/upload")
    worker.set_input_files("#files", [str(p) for p in files])
    worker.click("#upload button[type=submit]")
    expect(worker.locator("#upload-studies a.study-link")).to_have_count(1)

    # Send: health post A is licensed and has one qualified technician on record.
    worker.goto(f"{live.base_url}/reading/send?study={study_uid}")
    expect(worker.locator("#send-study")).to_have_value(study_uid)
    worker.fill("#send-question", "Cough and fever for ten days; consolidation?")
    worker.select_option("#send-urgency", "emergency")
    _clean(worker, f"reading-send-{locale}")
    worker.click("#send-form button[type=submit]")
    worker.wait_for_url(f"{live.base_url}/reading/requests/*")
    request_id = int(worker.url.rsplit("/", 1)[1])
    expect(worker.locator("#request-status")).to_have_attribute("data-status", "scheduled")
    _clean(worker, f"reading-sent-{locale}")

    # Claim from the worklist; the reading view links the study.
    reader, reader_errors = open_page(browser, contexts, locale, viewport)
    log_in(reader, live.base_url, "radiologist.demo", DEMO_PASSWORD, locale)
    reader.goto(live.base_url + "/reading/worklist")
    row = reader.locator(f'#reading-table tr[data-request="{request_id}"]')
    expect(row).to_have_count(1)
    _clean(reader, f"reading-worklist-{locale}")
    row.locator("button[data-claim]").click()
    reader.wait_for_url(f"{live.base_url}/reading/requests/{request_id}")
    expect(reader.locator("#request-status")).to_have_attribute("data-status", "in_progress")
    expect(reader.locator("#study-link")).to_have_attribute("href", f"/imaging/studies/{study_uid}")
    _clean(reader, f"reading-claimed-{locale}")
    # The radiologist reads in the viewer: its images come over WADO-RS, as the request allows.
    reader.locator("#viewer-link").click()
    reader.wait_for_url(f"{live.base_url}/imaging/studies/{study_uid}/viewer")
    wait_until(reader, "document.getElementById('dicom-viewer').dataset.ready === 'true'", 30_000)
    reader.go_back()
    reader.locator("#study-link").click()
    reader.wait_for_url(f"{live.base_url}/imaging/studies/{study_uid}")

    # A category-1 critical result for the health post.
    reader.goto(f"{live.base_url}/reading/requests/{request_id}")
    reader.select_option("#critical-category", "1")
    reader.fill("#critical-finding", "Large left pneumothorax with mediastinal shift.")
    reader.click("#critical-form button[type=submit]")
    reader.wait_for_url(f"{live.base_url}/reading/critical-results/*")
    result_id = int(reader.url.rsplit("/", 1)[1])
    expect(reader.locator("#critical-status")).to_have_attribute("data-status", "open")
    _clean(reader, f"reading-critical-raised-{locale}")

    # The health post sees it waiting and acknowledges with a read-back.
    worker.goto(live.base_url + "/reading/critical-results")
    link = worker.locator(f'#critical-list a[href="/reading/critical-results/{result_id}"]')
    expect(link).to_have_count(1)
    _clean(worker, f"reading-critical-list-{locale}")
    link.click()
    worker.select_option("#ack-method", "phone")
    worker.fill("#ack-read-back", "Large left pneumothorax, mediastinal shift.")
    _clean(worker, f"reading-ack-{locale}")
    worker.click("#ack-form button[type=submit]")
    expect(worker.locator("#critical-status")).to_have_attribute("data-status", "acknowledged")
    expect(worker.locator('#critical-timeline li[data-kind="acknowledged"]')).to_have_count(1)
    _clean(worker, f"reading-acknowledged-{locale}")

    got = worker.request.get(f"{live.base_url}/api/v1/critical-results/{result_id}").json()
    assert got["status"] == "acknowledged" and got["ack_method"] == "phone"
    assert got["read_back"] == "Large left pneumothorax, mediastinal shift."

    # A second one nobody acknowledges: past its window it goes to the facility's head, past
    # the next to the region's command staff (the escalation job, run with the clock moved on).
    reader.goto(f"{live.base_url}/reading/requests/{request_id}")
    reader.select_option("#critical-category", "1")
    reader.fill("#critical-finding", "Free intraperitoneal air.")
    reader.click("#critical-form button[type=submit]")
    reader.wait_for_url(f"{live.base_url}/reading/critical-results/*")
    second = int(reader.url.rsplit("/", 1)[1])
    _escalate(live)
    head, head_errors = open_page(browser, contexts, locale, viewport)
    log_in(head, live.base_url, "facility.demo", DEMO_PASSWORD, locale)
    banner = head.locator(".page-banner a")
    expect(banner.first).to_be_visible()  # on every page the head opens
    head.goto(f"{live.base_url}/reading/critical-results/{second}")
    expect(head.locator("#critical-status")).to_have_attribute("data-status", "escalated")
    expect(
        head.locator('#critical-timeline li[data-kind="escalated"][data-level="1"]')
    ).to_have_count(1)
    expect(
        head.locator('#critical-timeline li[data-kind="escalated"][data-level="2"]')
    ).to_have_count(1)
    _clean(head, f"reading-critical-escalated-{locale}")
    command, command_errors = open_page(browser, contexts, locale, viewport)
    log_in(command, live.base_url, "command.demo", DEMO_PASSWORD, locale)
    command.goto(f"{live.base_url}/command/alerts")
    expect(command.locator(f'a[href="/reading/critical-results/{second}"]')).to_have_count(1)
    _clean(command, f"reading-critical-command-alert-{locale}")
    assert worker_errors == [] and reader_errors == []
    assert head_errors == [] and command_errors == []
