"""The specialist's whole job in the browser, then the health worker's countersignature: a
consult requested at the health post reaches specialist.demo's worklist; they claim it, write
the outcome with a medicine and a referral, preview each PDF, sign the outcome, the
e-prescription and the referral letter and download them signed; chw.demo countersigns the
outcome on the consult page. Before that, a request refused for want of consent links the
health worker straight to the consent page. In English and in Persian (the Persian pass at 390x844),
screenshots per step, axe-core clean on every page.

The consult itself is set up through the API (this test is about what happens after it is
requested); everything else goes through pages, and the API only reads back what they did.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.support.browser import axe_violations, log_in, screenshot
from tests.support.live import DEMO_PASSWORD, demo_env, run_hub_command
from tests.support.processes import HubProcess, free_port, running_hub

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
TIMEOUT_MS = 30_000
QUESTION = "Fever and cough for ten days, crackles at the right base. Pneumonia?"
ASSESSMENT = "Right lower lobe pneumonia; SpO2 91% needs a chest X-ray and oxygen."
RECOMMENDATION = "Start amoxicillin now and refer to the district hospital today."


@dataclass(frozen=True)
class Pass:
    locale: str
    specialist: ViewportSize
    chw: ViewportSize


# Who works on which screen in each pass: the Persian pass runs entirely at phone width.
PASSES: dict[str, Pass] = {
    "en": Pass(locale="en-US", specialist=DESKTOP, chw=PHONE),
    "fa": Pass(locale="fa-IR", specialist=PHONE, chw=PHONE),
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A live demo hub whose clinicians can sign: its CA is created before it starts."""
    directory = tmp_path_factory.mktemp("live-signing-hub")
    port = free_port()
    env = demo_env(directory, port, HUB_PKI_PASSPHRASE="e2e-pki-passphrase-for-signing-tests")
    run_hub_command("db", "upgrade", env=env)
    assert "specialist.demo" in run_hub_command("seed-demo", env=env)
    run_hub_command("pki", "init", "--name", "E2E Hub", env=env)
    with running_hub("web", env=env, log_dir=directory / "logs", port=port) as proc:
        yield proc


def check_page(page: Page, name: str) -> None:
    """One step's artefact and its accessibility: a screenshot, and no serious axe finding."""
    screenshot(page, name)
    assert axe_violations(page) == [], name
    fits = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert fits, f"{name}: the page is wider than the screen"


def request_consult(page: Page, base: str) -> int:
    """The health worker's request, through the API (setup, not the flow under test)."""
    page.goto(base + "/consults")
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    patients = page.request.get(base + "/api/v1/patients?q=Ahmadi").json()["items"]
    patient = next(p for p in patients if p["given_name"] == "Maryam")
    answer = page.request.post(
        base + "/api/v1/consults",
        headers={"X-CSRFToken": token or "", "Content-Type": "application/json"},
        data=json.dumps(
            {
                "patient_id": patient["id"],
                "specialty": "pulmonology",
                "urgency": "urgent",
                "mode": "async",
                "tech_level": "standard",
                "question": QUESTION,
                "vitals": {"spo2": 91, "temperature_c": 38.6},
            }
        ),
    )
    assert answer.status == 201, answer.text()
    return int(answer.json()["id"])


def consent_first(page: Page, base: str, lang: str) -> None:
    """A video consult for a patient with consent for written consults only: refused, and
    the refusal links straight to where the missing consent is recorded."""
    page.goto(base + "/consults/new")
    patient = page.locator("#patient_id option", has_text="Ahmadi, Maryam").get_attribute("value")
    assert patient
    page.select_option("#patient_id", patient)
    page.select_option("#specialty", "pulmonology")
    page.select_option("#mode", "video")
    page.fill("#question", QUESTION)
    page.click("#send")
    link = page.locator("#form-error [data-role=record-consent]")
    expect(link).to_have_count(1)
    href = link.get_attribute("href") or ""
    assert href.startswith(f"/patients/{patient}/consent?scope=video"), href
    check_page(page, f"chw-0-consent-missing-{lang}")
    link.click()
    page.wait_for_url(re.compile(rf".*/patients/{patient}/consent\?scope=video.*"))
    expect(page.locator("main")).to_be_visible()
    screenshot(page, f"chw-0-consent-page-{lang}")
    page.evaluate("localStorage.clear()")  # the refused draft is not this test's business


def signatures(path: Path) -> int:
    """How many valid signatures poppler's pdfsig finds in the file."""
    done = subprocess.run(
        ["pdfsig", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    return (done.stdout + done.stderr).count("Signature is Valid")


def download(page: Page, noun: str, target: Path) -> bytes:
    with page.expect_download() as info:
        page.locator(f"#doc-{noun} [data-role=download]").click()
    info.value.save_as(target)
    data = target.read_bytes()
    assert data.startswith(b"%PDF-"), noun
    return data


def open_context(browser: Browser, locale: str, viewport: ViewportSize) -> BrowserContext:
    context = browser.new_context(locale=locale, viewport=viewport, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_specialist_claims_answers_signs_and_the_requester_countersigns(
    live: HubProcess, browser: Browser, lang: str, tmp_path: Path
) -> None:
    base = live.base_url
    setup = PASSES[lang]
    worker_context = open_context(browser, setup.locale, setup.chw)
    specialist_context = open_context(browser, setup.locale, setup.specialist)
    try:
        worker, doctor = worker_context.new_page(), specialist_context.new_page()
        log_in(worker, base, "chw.demo", DEMO_PASSWORD, lang)
        consent_first(worker, base, lang)
        consult_id = request_consult(worker, base)
        at = f"{base}/consults/{consult_id}"

        # 1. The worklist shows the offer; the specialist claims it there.
        log_in(doctor, base, "specialist.demo", DEMO_PASSWORD, lang)
        expect(doctor.locator("html")).to_have_attribute("dir", "rtl" if lang == "fa" else "ltr")
        doctor.goto(base + "/worklist")
        row = doctor.locator(f'#rows > [data-consult-id="{consult_id}"]')
        expect(row).to_contain_text("Maryam")
        check_page(doctor, f"specialist-1-worklist-{lang}")
        row.locator("[data-action=claim]").click()
        doctor.wait_for_url(at)
        expect(doctor.locator("#consult-status [data-status]")).to_have_attribute(
            "data-status", "accepted"
        )
        check_page(doctor, f"specialist-2-claimed-{lang}")

        # 2. The outcome: assessment, a medicine, a referral.
        doctor.fill("#assessment", ASSESSMENT)
        doctor.fill("#recommendation", RECOMMENDATION)
        doctor.select_option("#disposition", "refer")
        doctor.click("[data-add=rx]")
        line = doctor.locator("#rx-lines .line").first
        line.locator("[name=medicine]").fill("Amoxicillin")
        line.locator("[name=dose]").fill("1 g")
        line.locator("[name=frequency]").fill("three times a day")
        line.locator("[name=duration_days]").fill("7")
        check_page(doctor, f"specialist-3-outcome-form-{lang}")
        doctor.locator("#outcome-form button[type=submit]").click()
        for noun in ("outcome", "prescription", "referral"):
            expect(doctor.locator(f"#doc-{noun}")).to_have_attribute("data-state", "draft")
        expect(doctor.locator("#outcome-assessment")).to_have_text(ASSESSMENT)

        # 3. The preview is the unsigned PDF of what is about to be signed.
        frame = doctor.locator("#doc-outcome iframe")
        expect(frame).to_be_visible()
        preview = specialist_context.request.get(base + (frame.get_attribute("src") or ""))
        assert preview.status == 200 and preview.headers["x-document-status"] == "draft"
        draft = tmp_path / "draft.pdf"
        draft.write_bytes(preview.body())
        assert preview.body().startswith(b"%PDF-") and signatures(draft) == 0
        check_page(doctor, f"specialist-4-preview-{lang}")

        # 4. Sign each document; each offers its signed PDF for download.
        for noun in ("outcome", "prescription", "referral"):
            doc = doctor.locator(f"#doc-{noun}")
            if noun != "outcome":
                doc.locator("details.preview summary").click()  # the preview, opened
                expect(doc.locator("iframe")).to_be_visible()
            doc.locator("[data-doc-action=sign]").click()
            expect(doc).to_have_attribute("data-state", "certified")
            expect(doc.locator("[data-role=download]")).to_be_visible()
        expect(doctor.locator("#consult-status [data-status]")).to_have_attribute(
            "data-status", "signed"
        )
        check_page(doctor, f"specialist-5-signed-{lang}")
        for noun in ("outcome", "prescription", "referral"):
            saved = tmp_path / f"{noun}-signed.pdf"
            download(doctor, noun, saved)
            assert signatures(saved) == 1, noun

        # 5. The health worker countersigns the outcome on the consult page.
        worker.goto(at)
        outcome = worker.locator("#doc-outcome")
        expect(outcome).to_have_attribute("data-state", "certified")
        expect(outcome.locator("[data-doc-action=countersign]")).to_be_visible()
        check_page(worker, f"chw-1-to-countersign-{lang}")
        outcome.locator("[data-doc-action=countersign]").click()
        expect(outcome).to_have_attribute("data-state", "countersigned")
        check_page(worker, f"chw-2-countersigned-{lang}")
        both = tmp_path / "outcome-both.pdf"
        download(worker, "outcome", both)
        assert signatures(both) == 2

        # Read back what the pages did.
        documents = worker_context.request.get(
            f"{base}/api/v1/consults/{consult_id}/documents"
        ).json()["items"]
        states = {d["kind"]: d["status"] for d in documents}
        assert states == {
            "consult_outcome": "countersigned",
            "e_prescription": "certified",
            "referral_letter": "certified",
        }
        if lang == "fa":
            # The page speaks Persian: the timeline's signing step is in Persian words.
            expect(worker.locator(".timeline")).to_contain_text("امضا")
            expect(worker.locator(".timeline")).not_to_contain_text("Outcome signed")

        # 6. The signed referral letter became a referral: the consult page links to it.
        worker.goto(at)
        referral_link = worker.locator("#consult-referral-link")
        expect(referral_link).to_be_visible()
        referral_link.click()
        worker.wait_for_url(re.compile(r".*/referrals/\d+$"))
        expect(worker.locator("#referral-status")).to_have_attribute("data-status", "created")
        check_page(worker, f"chw-3-referral-from-outcome-{lang}")
    finally:
        worker_context.close()
        specialist_context.close()


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_on_call_status_roster_and_sla_targets_pages(
    live: HubProcess, browser: Browser, lang: str
) -> None:
    """The specialist changes their status on /oncall and finds themselves on /rosters; the
    national administrator publishes and removes a shift and changes an SLA target."""
    base = live.base_url
    locale = PASSES[lang].locale
    doctor_context = open_context(browser, locale, PHONE)
    admin_context = open_context(browser, locale, PHONE)
    try:
        doctor = doctor_context.new_page()
        log_in(doctor, base, "specialist.demo", DEMO_PASSWORD, lang)
        doctor.locator('a[href="/oncall"]').first.click()
        doctor.wait_for_url(base + "/oncall")
        expect(doctor.locator("#my-shifts")).to_be_visible()
        check_page(doctor, f"specialist-6-oncall-{lang}")
        doctor.check('#availability-form input[value="busy"]')
        doctor.locator("#availability-form button[type=submit]").click()
        expect(doctor.locator("#current-state")).to_have_attribute("data-state", "busy")
        doctor.goto(base + "/rosters?specialty=pulmonology")
        mine = doctor.locator("#shifts tr", has_text="Demo Pulmonologist").first
        expect(mine).to_be_visible()
        expect(doctor.locator("#shift-form")).to_have_count(0)  # reading only
        check_page(doctor, f"specialist-7-roster-{lang}")
        doctor.goto(base + "/oncall")
        doctor.check('#availability-form input[value="available"]')
        doctor.locator("#availability-form button[type=submit]").click()
        expect(doctor.locator("#current-state")).to_have_attribute("data-state", "available")

        admin = admin_context.new_page()
        log_in(admin, base, "admin.demo", DEMO_PASSWORD, lang)
        admin.locator('a[href="/rosters"]').first.click()
        admin.wait_for_url(base + "/rosters")
        before = admin.locator("#shifts tbody tr").count()
        admin.select_option("#shift-specialist", "specialist2.demo")
        admin.select_option("#shift-specialty", "pulmonology")
        day = (date.today() + timedelta(days=2)).isoformat()  # within the seven days shown
        admin.fill("#shift-start", f"{day}T08:00")
        admin.fill("#shift-end", f"{day}T20:00")
        check_page(admin, f"admin-1-roster-{lang}")
        admin.locator("#shift-form button[type=submit]").click()
        expect(admin.locator("#shift-form [data-role=error]")).to_be_empty()
        expect(admin.locator("#shifts tbody tr")).to_have_count(before + 1)
        published = admin_context.request.get(
            base + f"/api/v1/roster/shifts?start={day}T00:00:00Z&end={day}T23:59:59Z"
        ).json()["items"]
        new = [s for s in published if s["specialist"] == "specialist2.demo"]
        new = [s for s in new if s["ends_at"] < f"{day}T23:59:59"]
        assert len(new) == 1 and new[0]["specialist"] == "specialist2.demo"
        admin.once("dialog", lambda dialog: dialog.accept())
        admin.locator(f'[data-remove-shift="{new[0]["id"]}"]').click()
        expect(admin.locator(f'[data-remove-shift="{new[0]["id"]}"]')).to_have_count(0)

        admin.goto(base + "/home")
        admin.locator('a[href="/sla-targets"]').first.click()
        admin.wait_for_url(base + "/sla-targets")
        national = admin.locator("#sla-national")
        national.locator("details.sla-change summary").click()
        national.locator("select[name=urgency]").select_option("urgent")
        national.locator("input[name=accept_minutes]").fill("45")
        national.locator("input[name=answer_minutes]").fill("720")
        check_page(admin, f"admin-2-sla-{lang}")
        national.locator("button[type=submit]").click()
        admin.wait_for_url(base + "/sla-targets")
        row = admin.locator('#sla-national tr[data-urgency="urgent"]')
        expect(row.locator("[data-role=accept]")).to_have_text("45")
        expect(row.locator("[data-role=answer]")).to_have_text("720")
        check_page(admin, f"admin-3-sla-saved-{lang}")
    finally:
        doctor_context.close()
        admin_context.close()
