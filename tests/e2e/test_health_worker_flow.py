"""The health worker's whole flow through pages, in English at phone width and in Persian on a
desktop: register a patient (a wrong national id refused on the form first), record consent and
sign its form, add an insurance membership, and request a consult with an attachment. Every
page is axe-clean and kept as a screenshot; the API is used only to read back what the pages
did.

Countersigning the signed outcome continues from :func:`request_consult_with_attachment`, which
returns the consult's id.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, ViewportSize, expect

from hub.national_id import make_iranian
from tests.e2e.test_consult_flow import tiny_png
from tests.support.browser import axe_violations, log_in, screenshot
from tests.support.live import DEMO_PASSWORD, demo_env, live_demo_hub, run_hub_command
from tests.support.processes import HubProcess, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 20_000
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PKI_PASSPHRASE = "e2e-pki-passphrase-long-enough"  # a throwaway CA of this test module


@dataclass(frozen=True)
class Pass:
    locale: str  # the page language chosen with the switcher
    browser_locale: str
    viewport: ViewportSize
    given: str
    family: str
    # The date of birth as typed: Gregorian in the date field, or Solar Hijri in Persian.
    typed_birth: str
    birth: str  # what the hub stores (ISO)


PASSES = (
    Pass("en", "en-US", PHONE, "Leila", "Sadeghi", "1990-05-14", "1990-05-14"),
    # 24 Ordibehesht 1369 is 14 May 1990; typed with Persian digits.
    Pass("fa", "fa-IR", DESKTOP, "لیلا", "صادقی", "۱۳۶۹/۰۲/۲۴", "1990-05-14"),
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """The demo hub with a certification authority, so the consent form can be signed."""
    directory = tmp_path_factory.mktemp("live-hub")
    env = demo_env(directory, free_port(), HUB_PKI_PASSPHRASE=PKI_PASSPHRASE)
    run_hub_command("pki", "init", "--name", "E2E Hub", env=env)
    with live_demo_hub(directory, HUB_PKI_PASSPHRASE=PKI_PASSPHRASE) as proc:
        yield proc


@pytest.fixture(params=PASSES, ids=[p.locale for p in PASSES])
def flow(request: pytest.FixtureRequest, browser: Browser) -> Iterator[tuple[Pass, BrowserContext]]:
    run: Pass = request.param
    context = browser.new_context(locale=run.browser_locale, viewport=run.viewport)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield run, context
    finally:
        context.close()


def new_national_id() -> str:
    return make_iranian(f"{random.randrange(2 * 10**8, 9 * 10**8):09d}")


def checked(page: Page, name: str) -> None:
    """Keep a screenshot of the step and hold the page to axe-core and the screen's width."""
    screenshot(page, name)
    assert axe_violations(page) == [], name
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{name}: the page is wider than the screen {width}"


def register_patient(page: Page, base: str, run: Pass, national_id: str) -> int:
    """From the home page to the new patient's page; a wrong check digit is refused first."""
    tag = f"chw-{run.locale}"
    page.locator("main a[href='/patients']").first.click()
    page.wait_for_url(base + "/patients")
    checked(page, f"{tag}-1-patients")
    page.locator("a[href='/patients/new']").click()
    page.wait_for_url(base + "/patients/new")
    checked(page, f"{tag}-2-register")

    page.fill("#given_name", run.given)
    page.fill("#family_name", run.family)
    wrong = national_id[:9] + str((int(national_id[9]) + 1) % 10)
    page.fill("#national_id", wrong)
    if run.locale == "fa":
        # The Solar Hijri field fills the date field through Intl.
        page.fill("#dob-solar-input", run.typed_birth)
        expect(page.locator("#date_of_birth")).to_have_value(run.birth)
        expect(page.locator("#dob-shown")).to_contain_text("۱۳۶۹")
    else:
        page.fill("#date_of_birth", run.typed_birth)
        expect(page.locator("#dob-shown")).to_contain_text("1990")
    page.select_option("#sex", "female")
    page.click("#save")
    expect(page.locator("#national_id-error")).to_be_visible()
    expect(page.locator("#national_id")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#given_name")).to_have_value(run.given)
    checked(page, f"{tag}-3-wrong-national-id")

    page.fill("#national_id", national_id)
    if run.locale == "fa":
        # The refused form came back with the Gregorian date; the Solar Hijri field follows it.
        expect(page.locator("#dob-solar-input")).to_have_value("1369/02/24")
    page.click("#save")
    page.wait_for_url(re.compile(r".*/patients/\d+$"))
    patient_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#patient-name")).to_have_text(f"{run.family}, {run.given}")
    expect(page.locator("#national-id")).to_have_text(national_id)
    checked(page, f"{tag}-4-patient")
    return patient_id


def record_and_sign_consent(page: Page, base: str, run: Pass, patient_id: int) -> None:
    tag = f"chw-{run.locale}"
    page.click("#record-consent")
    page.wait_for_url(re.compile(rf".*/patients/{patient_id}/consent.*"))
    expect(page.locator("#scope-consult")).to_be_checked()
    page.check("#scope-video")
    page.select_option("#method", "written")
    checked(page, f"{tag}-5-consent")
    page.click("#record")
    page.wait_for_url(re.compile(rf".*/patients/{patient_id}(#consents)?$"))
    consult_consent = page.locator("#consents li[data-scope='consult'][data-active='true']")
    expect(consult_consent).to_have_count(1)
    consult_consent.locator("[data-sign-form]").click()
    page.wait_for_url(re.compile(rf".*/patients/{patient_id}(#consents)?$"))
    signed = page.locator("#consents li[data-scope='consult']")
    expect(signed.locator("[data-form-signed]")).to_be_visible()
    pdf = page.context.request.get(
        base + str(signed.locator("[data-form-pdf]").get_attribute("href"))
    )
    assert pdf.status == 200 and pdf.headers["x-document-status"] == "signed"
    assert pdf.body().startswith(b"%PDF")
    checked(page, f"{tag}-6-consent-signed")


def add_membership(page: Page, run: Pass, patient_id: int, national_id: str) -> None:
    page.select_option("#insurer", "DEMO")
    page.fill("#member_id", f"E2E-{national_id}")
    with page.expect_navigation():
        page.click("#add-membership button[type=submit]")
    expect(page.locator("#memberships tbody tr")).to_have_count(1)
    expect(page.locator("#memberships")).to_contain_text(f"E2E-{national_id}")
    checked(page, f"chw-{run.locale}-7-membership")


def request_consult_with_attachment(page: Page, base: str, run: Pass, patient_id: int) -> int:
    """From the patient's page through the consult request form; returns the consult's id."""
    tag = f"chw-{run.locale}"
    page.click("#request-consult")
    page.wait_for_url(re.compile(r".*/consults/new\?.*"))
    expect(page.locator("#patient_id")).to_have_value(str(patient_id))
    page.select_option("#specialty", "pulmonology")
    page.select_option("#urgency", "urgent")
    page.fill("#question", "Cough for three weeks, night sweats. Tuberculosis work-up?")
    chest: FilePayload = {"name": "chest.png", "mimeType": "image/png", "buffer": tiny_png()}
    page.set_input_files("#files", files=[chest])
    checked(page, f"{tag}-8-consult-form")
    page.click("#send")
    page.wait_for_url(re.compile(r".*/consults/\d+$"))
    consult_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#attachments")).to_contain_text("chest.png")
    checked(page, f"{tag}-9-consult")
    return consult_id


def test_health_worker_registers_consents_and_requests(
    live: HubProcess, flow: tuple[Pass, BrowserContext]
) -> None:
    run, context = flow
    base = live.base_url
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, base, "chw.demo", DEMO_PASSWORD, run.locale)
    expect(page.locator("html")).to_have_attribute("lang", run.locale)
    checked(page, f"chw-{run.locale}-0-home")

    national_id = new_national_id()
    patient_id = register_patient(page, base, run, national_id)
    stored = context.request.get(f"{base}/api/v1/patients/{patient_id}").json()
    assert (stored["national_id"], stored["given_name"], stored["date_of_birth"]) == (
        national_id,
        run.given,
        run.birth,
    )
    # The birth date is shown in the reader's calendar (Solar Hijri in Persian).
    shown = page.locator("#dob time").inner_text()
    assert shown == ("۲۴ اردیبهشت ۱۳۶۹" if run.locale == "fa" else "May 14, 1990"), shown

    record_and_sign_consent(page, base, run, patient_id)
    consents = context.request.get(f"{base}/api/v1/patients/{patient_id}/consents").json()
    assert sorted(c["scope"] for c in consents["items"] if c["active"]) == ["consult", "video"]

    add_membership(page, run, patient_id, national_id)
    members = context.request.get(f"{base}/api/v1/patients/{patient_id}/memberships").json()
    assert [m["member_id"] for m in members["items"]] == [f"E2E-{national_id}"]

    consult_id = request_consult_with_attachment(page, base, run, patient_id)
    consult = context.request.get(f"{base}/api/v1/consults/{consult_id}").json()
    assert consult["patient_id"] == patient_id
    assert [a["filename"] for a in consult["attachments"]] == ["chest.png"]

    # The home lists the new request among the worker's open ones.
    page.goto(base + "/home")
    expect(page.locator(f"main a[href='/consults/{consult_id}']")).to_have_count(1)
    checked(page, f"chw-{run.locale}-10-home-with-request")
