"""A consult from the health post to the specialist and back, in two real browsers against a
live hub: the draft survives a reload, a retry after a lost answer creates no second consult,
the file uploads, the specialist sees the offer appear live, claims it and answers, and the
health worker's page shows the answer."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from hub.demo import ACCOUNTS
from tests.support.live import log_in
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHW = next(a for a in ACCOUNTS if a.username == "chw.demo")
SPECIALIST = next(a for a in ACCOUNTS if a.username == "specialist.demo")
TIMEOUT_MS = 20_000
PHONE = {"width": 390, "height": 844}
QUESTION = "Cough for three weeks, night sweats. Tuberculosis work-up?"
ASSESSMENT = "Probable pulmonary tuberculosis until proven otherwise."
RECOMMENDATION = "Collect two sputum samples for GeneXpert; isolate at home; review in 3 days."


def tiny_png(width: int = 4, height: int = 4) -> bytes:
    """A valid RGB PNG, built by hand so the test needs no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x20\x80\xc0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def contexts(browser: Browser) -> Iterator[tuple[BrowserContext, BrowserContext]]:
    """The health worker on a phone-sized screen; the specialist on a desktop."""
    worker = browser.new_context(locale="en-US", viewport=PHONE)
    specialist = browser.new_context(locale="en-US")
    for context in (worker, specialist):
        context.set_default_timeout(TIMEOUT_MS)
    try:
        yield worker, specialist
    finally:
        worker.close()
        specialist.close()


def draft_of(page: Page) -> dict[str, object] | None:
    return page.evaluate("""() => {
        const key = Object.keys(localStorage).find(k => k.startsWith("hub.consult-draft."));
        return key ? JSON.parse(localStorage.getItem(key)) : null;
    }""")


def fits_the_screen(page: Page) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def test_consult_from_request_to_answer(
    live: HubProcess, contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    base = live.base_url
    worker_context, specialist_context = contexts
    worker, specialist = worker_context.new_page(), specialist_context.new_page()

    # The specialist waits on the worklist with live updates on.
    log_in(specialist, base, SPECIALIST.username)
    specialist.get_by_role("link", name="Worklist").click()
    specialist.wait_for_url(base + "/worklist")
    expect(specialist.locator("#live-state")).to_have_text("Live updates on.")
    expect(specialist.locator("#rows")).to_contain_text("Nothing waiting for you.")

    # The health worker starts a request from the home page.
    log_in(worker, base, CHW.username)
    worker.get_by_role("link", name="Consultation requests").click()
    worker.wait_for_url(base + "/consults")
    worker.get_by_role("link", name="New consultation request").click()
    worker.wait_for_url(base + "/consults/new")
    assert fits_the_screen(worker)
    patient_id = worker.locator("#patient_id option", has_text="Ahmadi, Maryam").get_attribute(
        "value"
    )
    assert patient_id
    worker.select_option("#patient_id", patient_id)
    worker.select_option("#specialty", "pulmonology")
    worker.select_option("#urgency", "urgent")
    worker.fill("#question", QUESTION)
    worker.fill("#history", "Weight loss of 4 kg in two months.")
    worker.fill("#vital-temperature_c", "38.2")
    worker.fill("#vital-spo2", "93")
    expect(worker.locator("#form-status")).to_have_text("Draft saved on this device.")

    # The draft survives a reload, with the same Idempotency-Key.
    draft = draft_of(worker)
    assert draft is not None and isinstance(draft["key"], str)
    worker.reload()
    expect(worker.locator("#form-status")).to_have_text("Your unsent draft was restored.")
    expect(worker.locator("#patient_id")).to_have_value(patient_id)
    expect(worker.locator("#specialty")).to_have_value("pulmonology")
    expect(worker.locator("#urgency")).to_have_value("urgent")
    expect(worker.locator("#question")).to_have_value(QUESTION)
    expect(worker.locator("#vital-spo2")).to_have_value("93")
    restored = draft_of(worker)
    assert restored is not None and restored["key"] == draft["key"]

    worker.set_input_files(
        "#files", files=[{"name": "chest.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )

    # The first send reaches the hub but its answer is lost on the way back.
    sent_keys: list[str | None] = []

    def lose_first_answer(route: Route) -> None:
        sent_keys.append(route.request.headers.get("idempotency-key"))
        if len(sent_keys) == 1:
            route.fetch()  # the hub creates the consult...
            route.abort("connectionreset")  # ...and the browser never hears of it
        else:
            route.continue_()

    worker.route(re.compile(r".*/api/v1/consults$"), lose_first_answer)
    worker.click("#send")
    expect(worker.locator("#form-error")).to_contain_text("Could not reach the hub.")
    expect(worker.locator("#question")).to_have_value(QUESTION)

    # The retry carries the same key: the hub answers with the same consult, not a second one.
    worker.click("#send")
    worker.wait_for_url(re.compile(r".*/consults/\d+$"))
    consult_id = int(worker.url.rsplit("/", 1)[1])
    assert sent_keys == [draft["key"], draft["key"]]
    assert draft_of(worker) is None
    listed = worker_context.request.get(base + "/api/v1/consults").json()["items"]
    assert [item["id"] for item in listed] == [consult_id]

    expect(worker.locator("h1")).to_contain_text(f"Consult {consult_id}")
    expect(worker.locator("#consult-status [data-status]")).to_have_attribute(
        "data-status", "offered"
    )
    attachment = worker.locator("#attachments a", has_text="chest.png")
    expect(attachment).to_be_visible()
    download = worker_context.request.get(base + attachment.get_attribute("href"))
    assert download.status == 200 and download.body() == tiny_png()
    assert fits_the_screen(worker)

    # The offer appears on the specialist's worklist without a reload.
    row = specialist.locator(f'#rows > [data-consult-id="{consult_id}"]')
    expect(row).to_contain_text("Ahmadi, Maryam")
    expect(row.locator("[data-status]")).to_have_text("Offered")
    row.get_by_role("button", name="Claim").click()
    specialist.wait_for_url(f"{base}/consults/{consult_id}")
    expect(specialist.locator("#consult-status [data-status]")).to_have_text("Accepted")
    expect(specialist.locator("main")).to_contain_text(QUESTION)
    expect(specialist.locator("#attachments")).to_contain_text("chest.png")

    # The health worker's page follows live.
    expect(worker.locator("#consult-status [data-status]")).to_have_text("Accepted")

    # The specialist answers, with a medicine and a follow-up task.
    specialist.fill("#assessment", ASSESSMENT)
    specialist.fill("#recommendation", RECOMMENDATION)
    specialist.select_option("#disposition", "follow_up")
    specialist.click("[data-add=rx]")
    line = specialist.locator("#rx-lines .line").first
    line.locator("[name=medicine]").fill("Paracetamol")
    line.locator("[name=dose]").fill("500 mg")
    line.locator("[name=frequency]").fill("every 8 hours if fever")
    line.locator("[name=duration_days]").fill("5")
    specialist.click("[data-add=task]")
    specialist.locator("#task-lines [name=description]").fill("Send both sputum samples")
    specialist.get_by_role("button", name="Record the outcome").click()
    expect(specialist.locator("#consult-status [data-status]")).to_have_text("Answered")
    expect(specialist.locator("#outcome-form")).to_have_count(0)

    # ...and the health worker sees the answer without reloading.
    expect(worker.locator("#consult-status [data-status]")).to_have_attribute(
        "data-status", "answered"
    )
    expect(worker.locator("#outcome-assessment")).to_have_text(ASSESSMENT)
    expect(worker.locator("#outcome-recommendation")).to_have_text(RECOMMENDATION)
    expect(worker.locator("#outcome")).to_contain_text("Paracetamol")
    expect(worker.locator("#outcome")).to_contain_text("Send both sputum samples")
    worker.reload()
    expect(worker.locator("#consult-status")).to_have_text("Answered")
    expect(worker.locator("#outcome-assessment")).to_have_text(ASSESSMENT)

    # The list shows the status; in Persian the page is laid out right to left.
    worker.goto(base + "/consults")
    expect(
        worker.locator(f'#rows > [data-consult-id="{consult_id}"] [data-status]')
    ).to_have_attribute("data-status", "answered")
    worker.goto(f"{base}/lang/fa?next=/consults/{consult_id}")
    worker.wait_for_url(f"{base}/consults/{consult_id}")
    expect(worker.locator("html")).to_have_attribute("dir", "rtl")
    assert worker.evaluate("getComputedStyle(document.body).direction") == "rtl"
    expect(worker.locator("#consult-status")).to_have_text("پاسخ داده شد")  # "Answered"
    expect(worker.locator("h1")).to_contain_text(f"مشاورهٔ {consult_id}")
    assert fits_the_screen(worker)
