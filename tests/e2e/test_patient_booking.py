"""The patient's booking link in the browser: chw.demo refers a patient to Hospital 2A's
pulmonology clinic, specialist.demo accepts, the health post makes the patient's booking link on
the referral page; the patient opens it on a phone (390x844), chooses Persian on the page, books
a time and moves it; an unknown link is a clear page. A screenshot per step, axe-core clean,
nothing wider than the screen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.support.browser import axe_violations, log_in, screenshot
from tests.support.live import DEMO_PASSWORD
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
TIMEOUT_MS = 30_000
PATIENT = "Ahmadi, Maryam"


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


def test_the_patient_books_through_their_link_in_persian_on_a_phone(
    live: HubProcess, browser: Browser
) -> None:
    base = live.base_url
    staff = open_context(browser, "en-US", DESKTOP)
    doctor_context = open_context(browser, "en-US", DESKTOP)
    phone = open_context(browser, "fa-IR", PHONE)
    try:
        worker, doctor = staff.new_page(), doctor_context.new_page()
        log_in(worker, base, "chw.demo", DEMO_PASSWORD, "en")
        worker.goto(base + "/referrals/new")
        patient_id = worker.locator("#patient_id option", has_text=PATIENT).get_attribute("value")
        assert patient_id
        worker.select_option("#patient_id", patient_id)
        worker.select_option("#specialty", "pulmonology")
        expect(worker.locator('#to_facility option[value="HOSP-2A"]')).to_have_count(1)
        worker.select_option("#to_facility", "HOSP-2A")
        worker.fill("#reason", "Chronic cough; needs spirometry and a pulmonologist's review.")
        worker.click("#refer-submit")
        worker.wait_for_url(re.compile(r".*/referrals/\d+$"))
        referral_id = int(worker.url.rsplit("/", 1)[1])

        log_in(doctor, base, "specialist.demo", DEMO_PASSWORD, "en")
        doctor.goto(f"{base}/referrals/{referral_id}")
        doctor.click("#accept")
        expect(doctor.locator("#referral-status")).to_have_attribute("data-status", "accepted")

        # The health post makes the patient's link on the referral page.
        worker.reload()
        worker.click("#make-link")
        link = worker.locator("#booking-link-url")
        expect(link).to_be_visible()
        check_page(worker, "booking-1-link-made")
        url = link.get_attribute("href")
        assert url and url.startswith("/book/")

        # The patient, on a phone, without an account; Persian chosen on the page.
        patient = phone.new_page()
        patient.goto(base + url)
        patient.click('nav.langs a[hreflang="fa"]')
        expect(patient.locator("html")).to_have_attribute("dir", "rtl")
        expect(patient.locator("#no-appointment")).to_be_visible()
        check_page(patient, "booking-2-free-times-fa")
        # Only the first name is shown.
        body = patient.locator("body").inner_text()
        assert "Maryam" in body and "Ahmadi" not in body
        choices = patient.locator("#slot-form input[name=slot_id]")
        first_slot = choices.nth(0).get_attribute("value")
        choices.nth(0).check()
        patient.click("#choose-time")
        expect(patient.locator("#appointment-time")).to_be_visible()
        check_page(patient, "booking-3-booked-fa")
        # Move it to another time.
        patient.locator("#slot-form input[name=slot_id]").nth(1).check()
        patient.click("#choose-time")
        expect(patient.locator("#appointment-time")).to_be_visible()
        check_page(patient, "booking-4-moved-fa")

        answer = worker.request.get(f"{base}/api/v1/referrals/{referral_id}").json()
        assert answer["status"] == "scheduled"
        statuses = {a["slot_id"]: a["status"] for a in answer["appointments"]}
        assert statuses[int(first_slot or 0)] == "cancelled"
        assert sorted(statuses.values()) == ["booked", "cancelled"]

        # A link that does not open: a clear page, in the patient's language.
        gone = patient.goto(base + "/book/not-a-valid-link")
        assert gone is not None and gone.status == 404
        check_page(patient, "booking-5-unknown-link-fa")

        # The clinic's side: the appointment page, rescheduling it to another free slot.
        booked = next(a for a in answer["appointments"] if a["status"] == "booked")
        doctor.goto(f"{base}/referrals/appointments/{booked['id']}")
        expect(doctor.locator("#appointment-status")).to_have_attribute("data-status", "booked")
        check_page(doctor, "booking-6-appointment-page")
        doctor.click("#reschedule-link")
        slot = doctor.locator("#slot-picker button.slot").first
        expect(slot).to_be_visible()
        check_page(doctor, "booking-7-reschedule-page")
        slot.click()
        doctor.wait_for_url(re.compile(r".*/referrals/appointments/\d+$"))
        assert not doctor.url.endswith(f"/{booked['id']}")
        expect(doctor.locator("#appointment-status")).to_have_attribute("data-status", "booked")
        # The patient's page follows the move the clinic made.
        patient.goto(base + url)
        expect(patient.locator("#appointment-time")).to_be_visible()

        # The virtual clinic's page shows its own insurer contract (Persian, phone width).
        vc = phone.new_page()
        log_in(vc, base, "specialist2.demo", DEMO_PASSWORD, "fa")
        vc.goto(base + "/referrals/clinics/VC-1-PULM")
        expect(vc.locator('#insurer-contracts [data-contract="VC-1-DEMO"]')).to_be_visible()
        check_page(vc, "booking-8-virtual-clinic-contracts-fa")
    finally:
        staff.close()
        doctor_context.close()
        phone.close()
