"""Waiting on a condition in a page that runs under the hub's content security policy.

Playwright's ``wait_for_function`` compiles a string predicate inside the page, which a policy
without ``'unsafe-eval'`` refuses; ``page.evaluate`` goes through the debugging protocol and is
not subject to it. So the tests poll with ``evaluate`` and keep the policy on, which also holds
every page they open to it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

POLL_SECONDS = 0.05
PAGE_TIMEOUT_MS = 30_000


def open_page(
    browser: Browser,
    made: list[BrowserContext],
    locale: str,
    viewport: dict[str, int],
    timeout_ms: float = PAGE_TIMEOUT_MS,
) -> tuple[Page, list[str]]:
    """A page in a new context of its own (one person's browser), in ``locale`` at ``viewport``;
    the context goes on ``made`` to be closed by the ``contexts`` fixture, and the list returned
    collects the page's script errors."""
    context = browser.new_context(
        locale="fa-IR" if locale == "fa" else "en-US",
        viewport=viewport,  # type: ignore[arg-type]
    )
    context.set_default_timeout(timeout_ms)
    made.append(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def wait_until(page: Page, expression: str, timeout: float = 15_000) -> object:
    """The first truthy value of the JavaScript ``expression``; TimeoutError after ``timeout``
    milliseconds (the last value is in the message)."""
    deadline = time.monotonic() + timeout / 1000
    last: object = None
    while True:
        last = page.evaluate(expression)
        if last:
            return last
        if time.monotonic() >= deadline:
            raise PlaywrightTimeout(
                f"{expression!r} still {last!r} after {timeout:.0f} ms on {page.url}"
            )
        time.sleep(POLL_SECONDS)


AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_violations(page: Page, impacts: tuple[str, ...] = BLOCKING) -> list[str]:
    """axe-core's violations of the page at these impacts, one line each (rule, impact, the
    first offending elements). Injected through ``evaluate``, so the page's policy stays on."""
    if not AXE.exists():
        raise RuntimeError(
            f"{AXE} is missing: run `make pytest` (it installs frontend/ npm packages)"
        )
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => "
        "({id: v.id, impact: v.impact, help: v.help, "
        "nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['nodes'])}"
        for v in result
        if v["impact"] in impacts
    ]


ARTIFACTS_ENV = "HUB_TEST_ARTIFACTS"


def artifacts_dir() -> Path:
    """Where browser tests keep their screenshots: ``$HUB_TEST_ARTIFACTS`` or ``test-artifacts/``
    at the project root (ignored by git); CI keeps the directory as the run's artefacts."""
    default = Path(__file__).resolve().parents[2] / "test-artifacts"
    root = Path(os.environ.get(ARTIFACTS_ENV) or default)
    root.mkdir(parents=True, exist_ok=True)
    return root


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot named ``name`` (e.g. ``chw-consent-fa``) kept as a test artefact."""
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, base_url: str, username: str, password: str, locale: str = "en") -> None:
    """Log in through the login page and choose the page language through the switcher link."""
    page.goto(base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form[action^='/login'] button[type=submit]")
    page.wait_for_url(base_url + "/home")
    if locale != "en":
        page.goto(base_url + f"/lang/{locale}?next=/home")
        page.wait_for_url(base_url + "/home")
