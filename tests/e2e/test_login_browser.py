"""A person logs in through a real browser against a live hub and switches to Persian."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from hub.demo import ACCOUNTS
from tests.support.live import DEMO_PASSWORD
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHW = next(a for a in ACCOUNTS if a.username == "chw.demo")
GP = next(a for a in ACCOUNTS if a.username == "gp.demo")
TIMEOUT_MS = 15_000


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form[action^='/login'] button[type=submit]")


def test_log_in_and_switch_to_persian(live: HubProcess, page: Page) -> None:
    log_in(page, live.base_url, CHW.username, DEMO_PASSWORD)
    page.wait_for_url(live.base_url + "/home")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")
    expect(html).to_have_attribute("dir", "ltr")
    expect(page.locator("h1")).to_have_text(f"Welcome, {CHW.full_name}")
    expect(page.locator("header .who")).to_have_text(CHW.full_name)
    expect(page.locator("form.logout button")).to_have_text("Log out")

    page.get_by_role("link", name="فارسی").click()
    page.wait_for_url(live.base_url + "/home")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "fa")
    expect(page.locator("form.logout button")).to_have_text("خروج")
    expect(page.locator("h1")).to_have_text(f"{CHW.full_name}، خوش آمدید")
    expect(page.locator(".tag").first).to_have_text("بهورز")  # "Community health worker"
    # The browser really lays the page out right to left.
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"

    # Logging out keeps the language and the CSRF-protected form works from the browser.
    page.locator("form.logout button").click()
    page.wait_for_url(live.base_url + "/login")
    expect(html).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("ورود")
    expect(page.locator(".notice")).to_have_text("از سامانه خارج شدید.")
    page.goto(live.base_url + "/home")
    assert page.url.startswith(live.base_url + "/login")


def test_wrong_password_shows_the_generic_error(live: HubProcess, page: Page) -> None:
    log_in(page, live.base_url, GP.username, "not-the-demo-password")
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Wrong username or password, or the account is locked.")
    assert page.url.startswith(live.base_url + "/login")
    expect(page.locator("#password")).to_have_value("")
    expect(page.locator("#username")).to_have_value(GP.username)


def test_accept_language_persian_over_plain_http(live: HubProcess) -> None:
    resp = requests.get(live.base_url + "/login", headers={"Accept-Language": "fa"}, timeout=10)
    assert resp.status_code == 200
    assert '<html lang="fa" dir="rtl">' in resp.text
    assert "<h1>ورود</h1>" in resp.text
    english = requests.get(live.base_url + "/login", headers={"Accept-Language": "en"}, timeout=10)
    assert '<html lang="en" dir="ltr">' in english.text


def test_live_server_sends_security_headers(live: HubProcess) -> None:
    resp = requests.get(live.base_url + "/login", timeout=10)
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
