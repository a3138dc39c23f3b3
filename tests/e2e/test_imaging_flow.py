"""An upload leads to its study, a link is created, opened and revoked, in a real browser
against a live demo hub, through pages only: the health worker uploads generated DICOM files,
follows the result's link to the study (thumbnails, forwarding in words), finds it in the
studies list, creates a link and copies it; the link opens the viewer in a browser with no
account; after the revocation the same link shows the refusal page. In English on a desktop
and in Persian on a phone; axe finds no serious or critical violation on any page. The AE
titles page is walked by the national administrator in both languages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import Browser, BrowserContext, Page, expect

from frontend import TRANSLATIONS_DIR
from hub.national_id import make_iranian
from tests.imaging.dicomdata import write_study
from tests.support.browser import axe_violations, log_in, screenshot, wait_until
from tests.support.live import DEMO_PASSWORD
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 30_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
NATIONAL_ID = make_iranian("001000001")  # the demo's Maryam Ahmadi, a patient of health post A
PASSES = [("en", DESKTOP), ("fa", PHONE)]
# What the pages say, in English; the Persian pass expects the catalogue's words for them.
TEXT = {
    "forwarding": "Not forwarded: no central archive is configured.",
    "copied": "Copied.",
    "revoked": "revoked",
    "refused": "This link is not valid",
}


def _words(locale: str) -> dict[str, str]:
    if locale == "en":
        return dict(TEXT)
    path = TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalogue = read_po(fh)
    found = {key: catalogue[msgid].string for key, msgid in TEXT.items() if msgid in catalogue}
    assert set(found) == set(TEXT) and all(found.values()), f"untranslated in {locale}"
    return {key: str(value) for key, value in found.items()}


@pytest.fixture
def context_factory(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def _context(
    browser: Browser, made: list[BrowserContext], locale: str, viewport: dict[str, int]
) -> BrowserContext:
    context = browser.new_context(
        locale="fa-IR" if locale == "fa" else "en-US",
        viewport=viewport,  # type: ignore[arg-type]
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(TIMEOUT_MS)
    made.append(context)
    return context


def _clean(page: Page, name: str) -> None:
    """A screenshot of the step and no serious accessibility violation on its page."""
    screenshot(page, name)
    assert axe_violations(page) == [], name


def _watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.mark.parametrize(("locale", "viewport"), PASSES, ids=[p[0] for p in PASSES])
def test_upload_study_link_open_revoke(
    live: HubProcess,
    browser: Browser,
    context_factory: list[BrowserContext],
    tmp_path: Path,
    locale: str,
    viewport: dict[str, int],
) -> None:
    text = _words(locale)
    study_uid, files = write_study(tmp_path / "dicom", patient_id=NATIONAL_ID, count=3, size=64)
    worker = _context(browser, context_factory, locale, viewport).new_page()
    errors = _watch(worker)
    log_in(worker, live.base_url, "chw.demo", DEMO_PASSWORD, locale)
    assert worker.evaluate("document.documentElement.dir") == ("rtl" if locale == "fa" else "ltr")

    # Upload: the result links to the study it stored.
    worker.goto(live.base_url + "/imaging/upload")
    worker.set_input_files("#files", [str(p) for p in files])
    _clean(worker, f"imaging-upload-{locale}")
    worker.click("#upload button[type=submit]")
    link = worker.locator("#upload-studies a.study-link")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", f"/imaging/studies/{study_uid}")
    expect(worker.locator("#result")).to_contain_text("3")
    _clean(worker, f"imaging-upload-done-{locale}")
    link.click()
    worker.wait_for_url(f"{live.base_url}/imaging/studies/{study_uid}")

    # The study: its thumbnail drawn, its forwarding said in words.
    wait_until(
        worker,
        "(() => { const i = document.querySelector('.thumbs img');"
        " return i && i.complete && i.naturalWidth > 0; })()",
    )
    expect(worker.locator("#forwarding")).to_contain_text(text["forwarding"])
    _clean(worker, f"imaging-study-{locale}")

    # The studies list finds it by the patient's national id.
    worker.goto(live.base_url + "/imaging/studies")
    worker.fill("#patient", NATIONAL_ID)
    worker.click("form[role=search] button[type=submit]")
    expect(worker.locator(f'#studies a[href="/imaging/studies/{study_uid}"]')).to_have_count(1)
    _clean(worker, f"imaging-studies-{locale}")
    worker.click(f'#studies a[href="/imaging/studies/{study_uid}"]')
    worker.wait_for_url(f"{live.base_url}/imaging/studies/{study_uid}")

    # A link: shown once, with a copy button and its expiry.
    worker.click("#create-link button[type=submit]")
    url_box = worker.locator("#new-link-url")
    expect(url_box).to_be_visible()
    url = url_box.input_value()
    assert "/imaging/links/" in url
    expires = worker.locator("#new-link-expires")
    assert (expires.get_attribute("datetime") or "").startswith("20")
    wait_until(worker, "document.getElementById('new-link-expires').hasAttribute('data-formatted')")
    worker.click("#copy-link")
    expect(worker.locator("#links-status")).to_have_text(text["copied"])
    assert worker.evaluate("navigator.clipboard.readText()") == url
    row = worker.locator("#links-table tbody tr").last
    expect(row.locator("[data-revoke]")).to_be_visible()
    _clean(worker, f"imaging-link-created-{locale}")

    # Opened in a browser with no account: the viewer draws the first image.
    guest = _context(browser, context_factory, locale, viewport).new_page()
    guest_errors = _watch(guest)
    guest.goto(url)
    wait_until(guest, "document.getElementById('dicom-viewer').dataset.ready === 'true'", 30_000)
    expect(guest.locator("#pane-main")).to_have_attribute("data-count", "3")
    _clean(guest, f"imaging-link-opened-{locale}")

    # Revoked from the study page: the same link now shows the refusal page.
    row.locator("[data-revoke]").click()
    expect(row.locator('[data-role="state"]')).to_have_text(text["revoked"])
    expect(row.locator("[data-revoke]")).to_have_count(0)
    _clean(worker, f"imaging-link-revoked-{locale}")
    answer = guest.goto(url)
    assert answer is not None and answer.status == 404
    expect(guest.locator("h1")).to_have_text(text["refused"])
    _clean(guest, f"imaging-link-refused-{locale}")
    # After a reload the study page still says revoked (read back from the server's page).
    worker.reload()
    expect(worker.locator('#links-table tr[data-link] [data-role="state"]').last).to_have_text(
        text["revoked"]
    )
    assert errors == [] and guest_errors == []


@pytest.mark.parametrize(("locale", "viewport"), PASSES, ids=[p[0] for p in PASSES])
def test_ae_titles_page(
    live: HubProcess,
    browser: Browser,
    context_factory: list[BrowserContext],
    locale: str,
    viewport: dict[str, int],
) -> None:
    title = f"E2E{uuid.uuid4().hex[:8]}".upper()
    page = _context(browser, context_factory, locale, viewport).new_page()
    errors = _watch(page)
    log_in(page, live.base_url, "admin.demo", DEMO_PASSWORD, locale)
    page.goto(live.base_url + "/admin/ae-titles")
    expect(page.locator('#ae-titles tr[data-ae="DEMOPOST"]')).to_have_count(1)
    _clean(page, f"imaging-ae-titles-{locale}")
    page.fill("#ae_title", title)
    page.select_option("#facility_id", label="Health Post A (HP-A)")
    page.click("#ae-add button[type=submit]")
    row = page.locator(f'#ae-titles tr[data-ae="{title}"]')
    expect(row).to_have_count(1)
    # The same title again is refused on the page, in its language.
    page.fill("#ae_title", title)
    page.click("#ae-add button[type=submit]")
    expect(page.locator("#ae-error")).to_be_visible()
    _clean(page, f"imaging-ae-titles-refused-{locale}")
    page.goto(live.base_url + "/admin/ae-titles")
    row.locator("button.danger").click()
    expect(row.locator("button.secondary")).to_be_visible()
    _clean(page, f"imaging-ae-titles-disabled-{locale}")
    row.locator("a").click()
    expect(page.locator("#ae_title")).to_have_value(title)
    _clean(page, f"imaging-ae-title-edit-{locale}")
    assert errors == []
