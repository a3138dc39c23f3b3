"""Every page runs under the content security policy without a violation (no inline script or
style left behind), and pages are never cached, in a real browser against a live hub."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Page

from hub.demo import ACCOUNTS
from hub.http import CONTENT_SECURITY_POLICY
from tests.support.browser import axe_violations, wait_until
from tests.support.live import DEMO_PASSWORD
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 15_000
# Each demo role and the pages it opens from its home.
VISITS = {
    "chw.demo": (
        "/home",
        "/consults",
        "/consults/new",
        "/imaging/upload",
        "/imaging/studies",
        "/verify",
        "/api/v1/docs",
    ),
    "specialist.demo": ("/home", "/worklist", "/consults"),
    "insurer.demo": ("/home", "/insurance/analyst"),
    "command.demo": ("/home", "/command/assisting-physicians"),  # linked from /command
    "admin.demo": (
        "/home",
        "/insurance/billing",
        "/admin/ae-titles",
        "/imaging/dose/compliance",
        "/imaging/devices/",
        "/imaging/devices/uptime",
        "/imaging/dose/exam-types",
    ),
}
# Besides those, every page each demo account's home links (the home is how people find them).
SKIP_LINKS = ("/lang/", "/logout", "/static/", "/login")


def _pages_of(page: Page, base_url: str, username: str) -> list[str]:
    page.goto(base_url + "/home")
    hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")
    linked = [
        h
        for h in hrefs
        if h.startswith("/") and not h.startswith("//") and not h.startswith(SKIP_LINKS)
    ]
    return list(dict.fromkeys([*VISITS.get(username, ("/home",)), *linked]))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[action^='/login'] button[type=submit]")
    page.wait_for_url(base_url + "/home")


def test_pages_have_no_policy_violation(live: HubProcess, page: Page) -> None:
    assert set(VISITS) <= {a.username for a in ACCOUNTS}
    refused: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if "Content Security Policy" in msg.text:
            refused.append(f"{page.url}: {msg.text}")

    page.on("console", on_console)
    page.goto(live.base_url + "/login")
    visited = 0
    for account in ACCOUNTS:
        page.context.clear_cookies()
        _log_in(page, live.base_url, account.username)
        for path in _pages_of(page, live.base_url, account.username):
            resp = page.goto(live.base_url + path)
            assert resp is not None and resp.status < 400, (account.username, path)
            assert resp.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert resp.headers["cache-control"] == "no-store", (account.username, path)
            page.wait_for_load_state("networkidle")
            if not resp.headers.get("content-type", "").startswith("text/html"):
                continue  # a download the home links (a PDF)
            # No role is promised a page that does not exist yet.
            text = page.evaluate("document.body ? document.body.innerText : ''")
            assert "Coming soon" not in text, (account.username, path)
            visited += 1
    assert refused == []
    assert visited > 2 * len(ACCOUNTS)  # every home links real pages


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_pages_have_no_serious_accessibility_violation(
    live: HubProcess, page: Page, locale: str
) -> None:
    found: list[str] = []
    for account in ACCOUNTS:
        username = account.username
        page.context.clear_cookies()
        _log_in(page, live.base_url, username)
        page.goto(f"{live.base_url}/lang/{locale}")
        for path in _pages_of(page, live.base_url, username):
            page.goto(live.base_url + path)
            page.wait_for_load_state("networkidle")
            found += [f"{username} {path}: {v}" for v in axe_violations(page)]
    assert found == []


def test_the_api_documentation_renders_the_hubs_own_document(live: HubProcess, page: Page) -> None:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None)
    _log_in(page, live.base_url, "chw.demo")
    page.goto(live.base_url + "/api/v1/docs")
    # Tags start folded (125 paths unfolded at once stop Swagger UI rendering after a few).
    wait_until(page, "document.querySelectorAll('#swagger-ui .opblock-tag').length > 10")
    assert page.locator("#swagger-ui .opblock").count() == 0
    page.click("#swagger-ui .opblock-tag[data-tag=consults]")
    wait_until(page, "document.querySelectorAll('#swagger-ui .opblock').length > 3")
    summaries = page.locator("#swagger-ui .opblock-summary-path").all_inner_texts()
    assert summaries and all(s.startswith("/api/v1/consults") for s in summaries)
    # DICOMweb's document, chosen on the page.
    page.select_option("#api-document", "/dicomweb/openapi.json")
    page.click("#swagger-ui .opblock-tag[data-tag='DICOMweb: frames']")
    wait_until(page, "document.querySelectorAll('#swagger-ui .opblock-summary-path').length > 0")
    paths = page.locator("#swagger-ui .opblock-summary-path").all_inner_texts()
    assert paths and all(p.startswith("/dicomweb/") and "/frames/" in p for p in paths), paths
    assert axe_violations(page) == []
    assert refused == []


def test_static_files_stay_cacheable_and_api_answers_are_not(live: HubProcess) -> None:
    css = requests.get(live.base_url + "/static/hub.css", timeout=10)
    assert css.status_code == 200 and "no-store" not in css.headers.get("Cache-Control", "")
    api = requests.get(live.base_url + "/api/v1/me", timeout=10)
    assert api.status_code == 401 and api.headers["Cache-Control"] == "no-store"
