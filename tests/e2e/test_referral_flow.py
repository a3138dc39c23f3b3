"""The closed referral loop in the browser: chw.demo refers a patient to Hospital 2A's
pulmonology clinic on the refer form (which then shows the live referral before a second one
is sent); specialist.demo accepts it, books a virtual slot, holds the visit as a video
session (once the health post has recorded the patient's video consent), checks the patient in
and writes the back-referral with a follow-up task; the health worker acknowledges it and the
loop shows closed on both sides. The demo's referral left without a back-referral is in the
open-loop lists of the health post, the virtual clinic's specialist and command staff. In
English and in Persian (the Persian pass at 390x844), a screenshot per step, axe-core clean on
each page.
Everything goes through pages; the API only reads back what they did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.support.browser import axe_violations, log_in, screenshot
from tests.support.live import DEMO_PASSWORD
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Pass:
    specialist: ViewportSize
    chw: ViewportSize
    locale: str
    patient: str  # each pass refers its own patient (one live referral per specialty)


# The Persian pass runs entirely at phone width.
PASSES = {
    "en": Pass(DESKTOP, PHONE, "en-US", "Ahmadi, Maryam"),
    "fa": Pass(PHONE, PHONE, "fa-IR", "Hosseini, Zahra"),
}
REASON = "Exertional dyspnoea and clubbing; suspected interstitial lung disease."
SUMMARY = "HRCT: early fibrotic interstitial lung disease. Started treatment."


def check_page(page: Page, name: str) -> None:
    screenshot(page, name)
    assert axe_violations(page) == [], name
    fits = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert fits, f"{name}: the page is wider than the screen"


def open_context(browser: Browser, locale: str, viewport: ViewportSize) -> BrowserContext:
    context = browser.new_context(locale=locale, viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def status_of(page: Page) -> str | None:
    return page.locator("#referral-status").get_attribute("data-status")


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_referral_loop_closes_and_open_loops_are_listed(
    live: HubProcess, browser: Browser, lang: str
) -> None:
    base = live.base_url
    setup = PASSES[lang]
    chw_context = open_context(browser, setup.locale, setup.chw)
    doctor_context = open_context(browser, setup.locale, setup.specialist)
    try:
        worker, doctor = chw_context.new_page(), doctor_context.new_page()
        log_in(worker, base, "chw.demo", DEMO_PASSWORD, lang)

        # 1. The refer form: destinations come from the directory of who offers the specialty.
        worker.goto(base + "/referrals/new")
        patient = worker.locator("#patient_id option", has_text=setup.patient)
        patient_id = patient.get_attribute("value")
        assert patient_id
        worker.select_option("#patient_id", patient_id)
        worker.select_option("#specialty", "pulmonology")
        expect(worker.locator('#to_facility option[value="VC-1"]')).to_have_count(1)
        expect(worker.locator("#live-referral")).to_be_hidden()
        worker.select_option("#to_facility", "HOSP-2A")
        worker.fill("#reason", REASON)
        check_page(worker, f"referral-1-refer-form-{lang}")
        worker.click("#refer-submit")
        worker.wait_for_url(re.compile(r".*/referrals/\d+$"))
        referral_id = int(worker.url.rsplit("/", 1)[1])
        assert status_of(worker) == "created"
        check_page(worker, f"referral-2-sent-{lang}")

        # 2. A second referral for the same patient and specialty: the live one is shown first.
        worker.goto(base + "/referrals/new")
        worker.select_option("#patient_id", patient_id)
        worker.select_option("#specialty", "pulmonology")
        link = worker.locator("#live-referral-link")
        expect(link).to_have_attribute("href", f"/referrals/{referral_id}")
        check_page(worker, f"referral-3-live-shown-{lang}")

        # 3. The receiving specialist accepts and books a virtual slot.
        log_in(doctor, base, "specialist.demo", DEMO_PASSWORD, lang)
        doctor.goto(base + "/referrals/")
        row = doctor.locator(f'#incoming tr[data-referral="{referral_id}"]')
        expect(row).to_have_count(1)
        check_page(doctor, f"referral-4-incoming-{lang}")
        row.locator("a").click()
        doctor.wait_for_url(f"{base}/referrals/{referral_id}")
        check_page(doctor, f"referral-5-to-accept-{lang}")
        doctor.click("#accept")
        expect(doctor.locator("#referral-status")).to_have_attribute("data-status", "accepted")
        slot = doctor.locator("#slot-picker button[data-mode=virtual]").first
        expect(slot).to_be_visible()
        check_page(doctor, f"referral-6-slots-{lang}")
        slot.click()
        expect(doctor.locator("#referral-status")).to_have_attribute("data-status", "scheduled")
        expect(doctor.locator("#appointments li[data-status=booked]")).to_have_count(1)
        check_page(doctor, f"referral-7-booked-{lang}")

        # 4. The visit is a video session: refused while the patient's video consent is not on
        #    record; the health post records it, the specialist starts it, both are in it.
        doctor.locator("#appointments button.start-visit").click()
        expect(doctor.locator("#appointments-error")).not_to_be_empty()
        check_page(doctor, f"referral-7b-visit-needs-consent-{lang}")
        worker.goto(f"{base}/patients/{patient_id}")
        worker.click("#record-consent")
        worker.check("#scope-video")
        worker.select_option("#method", "written")
        worker.click("#record")
        expect(
            worker.locator("#consents li[data-scope='video'][data-active='true']")
        ).to_have_count(1)
        doctor.reload()
        doctor.locator("#appointments button.start-visit").click()
        doctor.wait_for_url(re.compile(r".*/video/sessions/\d+$"))
        session_url = doctor.url
        check_page(doctor, f"referral-7c-video-visit-{lang}")
        worker.goto(f"{base}/referrals/{referral_id}")
        join = worker.locator("#appointments a.join-visit")
        expect(join).to_have_attribute("href", session_url.removeprefix(base))
        join.click()
        worker.wait_for_url(session_url)
        doctor.goto(f"{base}/referrals/{referral_id}")

        # 5. The visit: checked in; the back-referral with a follow-up task.
        doctor.locator("#appointments button.check-in").click()
        expect(doctor.locator("#referral-status")).to_have_attribute(
            "data-status", "event_completed"
        )
        doctor.fill("#summary", SUMMARY)
        doctor.fill("#findings", "Basal reticulation, no honeycombing.")
        doctor.fill("#medication", "Pirfenidone 267 mg three times a day")
        doctor.fill("#task-text-1", "Spirometry and SpO2 in three months")
        doctor.fill("#task-due-1", "2027-03-01")
        check_page(doctor, f"referral-8-back-referral-form-{lang}")
        doctor.click("#send-back")
        expect(doctor.locator("#back-summary")).to_have_text(SUMMARY)
        check_page(doctor, f"referral-9-back-referral-sent-{lang}")

        # 6. The health post acknowledges it: the loop is closed on both sides.
        worker.goto(f"{base}/referrals/{referral_id}")
        expect(worker.locator("#back-summary")).to_have_text(SUMMARY)
        worker.click("#acknowledge")
        expect(worker.locator("#loop-closed")).to_be_visible()
        assert status_of(worker) == "completed"
        check_page(worker, f"referral-10-acknowledged-{lang}")
        doctor.reload()
        expect(doctor.locator("#loop-closed")).to_be_visible()
        expect(doctor.locator("#acknowledged")).to_be_visible()
        check_page(doctor, f"referral-11-closed-receiving-{lang}")
        answer = worker.request.get(f"{base}/api/v1/referrals/{referral_id}").json()
        assert answer["status"] == "completed"
        assert answer["back_referral"]["tasks"][0]["due"] == "2027-03-01"
        assert answer["appointments"][0]["mode"] == "virtual"
        assert answer["appointments"][0]["video_session_id"] == int(session_url.rsplit("/", 1)[1])

        # 7. Open loops: the demo referral nobody wrote back on, for both sides and command.
        worker.goto(base + "/referrals/open-loops")
        loops = worker.locator("#open-loops tr[data-referral]")
        expect(loops.first).to_be_visible()
        expect(worker.locator(f'#open-loops tr[data-referral="{referral_id}"]')).to_have_count(0)
        expect(worker.locator('#open-loops [data-loop="no_back_referral"]').first).to_be_visible()
        check_page(worker, f"referral-12-open-loops-health-post-{lang}")
        for username in ("specialist2.demo", "command.demo"):
            other = doctor_context.new_page()
            doctor_context.clear_cookies()
            log_in(other, base, username, DEMO_PASSWORD, lang)
            other.goto(base + "/referrals/open-loops")
            expect(
                other.locator('#open-loops [data-loop="no_back_referral"]').first
            ).to_be_visible()
            check_page(other, f"referral-13-open-loops-{username.split('.')[0]}-{lang}")
            other.close()
    finally:
        chw_context.close()
        doctor_context.close()
