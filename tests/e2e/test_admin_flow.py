"""The national administrator's flow through the administration pages of a live hub: adds an
account, makes a personal token for it that works against the API, revokes it (the token then
gets 401), disables the account (its session ends and its login fails); every page is free of
serious accessibility violations, in English at phone width and in Persian on a desktop."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.support.browser import axe_violations, log_in, screenshot
from tests.support.live import DEMO_PASSWORD
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
TIMEOUT_MS = 20_000
PASSES = {"en": PHONE, "fa": DESKTOP}
NEW_PASSWORD = "a-long-password-for-e2e"


@pytest.fixture(params=sorted(PASSES))
def locale(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def contexts(browser: Browser, locale: str) -> Iterator[tuple[BrowserContext, BrowserContext]]:
    admin = browser.new_context(locale=locale, viewport=PASSES[locale])
    person = browser.new_context(locale=locale, viewport=PASSES[locale])
    for context in (admin, person):
        context.set_default_timeout(TIMEOUT_MS)
    try:
        yield admin, person
    finally:
        admin.close()
        person.close()


def _clean(page: Page, name: str) -> None:
    """One screenshot per step, and no serious or critical axe violation on the page."""
    screenshot(page, name)
    assert axe_violations(page) == [], name


def _me(base: str, token: str) -> requests.Response:
    return requests.get(
        base + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def test_admin_tokens_and_accounts_through_the_pages(
    live: HubProcess, contexts: tuple[BrowserContext, BrowserContext], locale: str
) -> None:
    base = live.base_url
    admin_context, person_context = contexts
    page = admin_context.new_page()
    refused: list[str] = []
    page.on(
        "console",
        lambda msg: (
            refused.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text
            else None
        ),
    )
    log_in(page, base, "admin.demo", DEMO_PASSWORD, locale)

    # The home links the audit log; the administration index lists every area with a page.
    expect(page.locator('a[href="/admin/audit"]').first).to_be_visible()
    page.goto(base + "/admin")
    expect(page.locator("#admin-areas a[href='/admin/users']")).to_be_visible()
    expect(page.locator("#admin-areas a[href='/admin/oauth-clients']")).to_be_visible()
    _clean(page, f"admin-index-{locale}")

    # Add an account through the form.
    page.locator("#admin-areas a[href='/admin/users']").click()
    page.wait_for_url(base + "/admin/users")
    _clean(page, f"admin-users-{locale}")
    page.locator("a[href='/admin/users/new']").click()
    page.wait_for_url(base + "/admin/users/new")
    _clean(page, f"admin-new-user-{locale}")
    username = f"nurse.e2e-{locale}"
    page.fill("#username", username)
    page.fill("#full_name", "Nasrin E2E" if locale == "en" else "نسرین آزمون")
    page.select_option("#role", "nurse")
    expect(page.locator("#facility")).to_be_visible()
    expect(page.locator("#region")).to_be_hidden()
    page.select_option("#facility", "HP-A")
    page.fill("#password", NEW_PASSWORD)
    page.locator("#user-form button[type=submit]").click()
    expect(page.locator("#created")).to_be_visible()
    expect(page.locator("#account-state .tag.active")).to_be_visible()
    # The page answering the form (the password is shown only there); the account's own page:
    action = page.locator("#disable-form").get_attribute("action") or ""
    user_url = base + action.removesuffix("/disable")
    assert user_url.startswith(base + "/admin/users/") and user_url[-1].isdigit()
    _clean(page, f"admin-user-created-{locale}")

    # The new person logs in (their session is ended by the disabling below).
    person = person_context.new_page()
    log_in(person, base, username, NEW_PASSWORD, locale)

    # A token made on the account's page works against the API.
    page.fill("#token-name", "e2e script")
    page.locator("#token-form button[type=submit]").click()
    shown = page.locator("#new-token")
    expect(shown).to_be_visible()
    token = shown.input_value()
    assert token.startswith("hubpat_")
    _clean(page, f"admin-token-created-{locale}")
    me = _me(base, token)
    assert me.status_code == 200 and me.json()["username"] == username

    # Revoked through the page, the token stops working at once.
    row = page.locator("tr[data-state='active']").first
    row.locator("button.danger").click()
    page.wait_for_url(user_url)
    expect(page.locator("tr[data-state='revoked']")).to_have_count(1)
    expect(page.locator("tr[data-state='active']")).to_have_count(0)
    expect(page.locator("#new-token")).to_have_count(0)  # shown once, never again
    _clean(page, f"admin-token-revoked-{locale}")
    assert _me(base, token).status_code == 401

    # Disabled through the page: the open session ends and the login is refused.
    page.locator("#disable-form button").click()
    page.wait_for_url(user_url)
    expect(page.locator("#account-state .tag.revoked")).to_be_visible()
    expect(page.locator("#enable-form")).to_be_visible()
    _clean(page, f"admin-user-disabled-{locale}")
    person.goto(base + "/home")
    assert urlsplit(person.url).path == "/login"
    person.fill("#username", username)
    person.fill("#password", NEW_PASSWORD)
    person.click("form[action^='/login'] button[type=submit]")
    person.wait_for_load_state()
    assert urlsplit(person.url).path == "/login"
    expect(person.locator(".error").first).to_be_visible()
    screenshot(person, f"admin-disabled-login-refused-{locale}")

    # The other administration pages read cleanly too.
    page.goto(base + "/admin/tokens")
    expect(page.locator("#token-form")).to_be_visible()
    _clean(page, f"admin-own-tokens-{locale}")
    page.goto(base + "/admin/oauth-clients")
    expect(page.locator("#client-form")).to_be_visible()
    _clean(page, f"admin-oauth-clients-{locale}")
    page.goto(base + "/admin/audit?action=hub:token:")
    expect(page.locator("#audit-events tr[data-seq]").first).to_be_visible()
    page.locator("#verify-chain").click()
    expect(page.locator("#chain-state")).to_have_attribute("data-ok", "true")
    _clean(page, f"admin-audit-{locale}")
    # No page (nor admin.js) broke the content security policy.
    assert refused == []
