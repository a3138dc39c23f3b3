"""Command staff watch the queue board while a health post submits a consult: it appears
without a reload (Socket.IO), in English and Persian, on a desktop and a phone, axe-clean."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser

from tests.support.browser import axe_violations, log_in, screenshot, wait_until
from tests.support.live import DEMO_PASSWORD, demo_env, live_demo_hub, run_hub_command
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 20_000
VIEWPORTS = {"en": {"width": 1280, "height": 900}, "fa": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def queue_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, str]]:
    directory = tmp_path_factory.mktemp("queue-hub")
    with live_demo_hub(directory) as proc:
        env = demo_env(directory, int(proc.port or 0))
        token = run_hub_command("token", "create", "chw.demo", env=env).strip().splitlines()[-1]
        yield proc, token


def _submit(base: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    patients = requests.get(f"{base}/api/v1/patients", headers=headers, timeout=30)
    assert patients.status_code == 200, patients.text
    patient_id = patients.json()["items"][0]["id"]
    resp = requests.post(
        f"{base}/api/v1/consults",
        json={
            "patient_id": patient_id,
            "specialty": "pulmonology",
            "urgency": "urgent",
            "mode": "async",
            "question": "Cough for three weeks; night sweats.",
        },
        headers=headers,
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_a_new_consult_appears_on_the_board_without_a_reload(
    queue_hub: tuple[HubProcess, str], browser: Browser, locale: str
) -> None:
    live, token = queue_hub
    context = browser.new_context(locale=locale, viewport=VIEWPORTS[locale])
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        log_in(page, live.base_url, "command.demo", DEMO_PASSWORD, locale)
        assert page.locator('a[href="/queues"]').count() == 1  # the home links the board
        page.goto(live.base_url + "/queues")
        wait_until(page, "document.getElementById('queue-live').textContent.length > 0")
        assert axe_violations(page) == []
        screenshot(page, f"command-queue-before-{locale}")
        page.evaluate("window.stillTheSamePage = true")

        consult_id = _submit(live.base_url, token)

        wait_until(
            page,
            f"document.querySelector('#queue-tables a[href=\"/consults/{consult_id}\"]') !== null",
        )
        assert page.evaluate("window.stillTheSamePage === true")  # no reload happened
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        screenshot(page, f"command-queue-after-{locale}")
        assert axe_violations(page) == []

        # One click (and a choice) reassigns it to a specialist on call.
        form = page.locator(f'form.reassign[data-consult-id="{consult_id}"]')
        form.locator("select").focus()
        wait_until(
            page,
            f'document.querySelectorAll(\'form.reassign[data-consult-id="{consult_id}"] '
            "option').length > 1",
        )
        first_on_call = form.locator("select option").nth(1).get_attribute("value")
        assert first_on_call
        form.locator("select").select_option(first_on_call)
        form.locator("button[type=submit]").click()
        wait_until(
            page,
            f'document.querySelector(\'form.reassign[data-consult-id="{consult_id}"] '
            ".reassign-result').textContent.length > 0",
        )
        assert page.evaluate("document.querySelector('#queue-tables').dataset.done") in (
            form.locator(".reassign-result").text_content()
        )
        screenshot(page, f"command-queue-reassigned-{locale}")
    finally:
        context.close()


def _transfer(base: str, token: str, consult_id: int) -> int:
    """A transfer of the submitted pulmonology consult: the demo region's assisting physician
    for pulmonology (specialist.demo, seeded) is consulted on it."""
    headers = {"Authorization": f"Bearer {token}"}
    consult = requests.get(f"{base}/api/v1/consults/{consult_id}", headers=headers, timeout=30)
    assert consult.status_code == 200, consult.text
    resp = requests.post(
        f"{base}/api/v1/transfers",
        json={
            "patient_id": consult.json()["patient_id"],
            "consult_id": consult_id,
            "reason": "Hypoxia despite oxygen; needs a ward with NIV.",
            "severity": 4,
        },
        headers=headers,
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["specialty"] == "pulmonology"
    return int(resp.json()["id"])


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_the_command_centre_counts_charts_grid_and_transfer_thread(
    queue_hub: tuple[HubProcess, str], browser: Browser, locale: str
) -> None:
    live, token = queue_hub
    base = live.base_url
    consult_id = _submit(base, token)  # at least one open consult: the charts have bars
    officer_ctx = browser.new_context(locale=locale, viewport=VIEWPORTS[locale])
    helper_ctx = browser.new_context(locale=locale, viewport=VIEWPORTS[locale])
    refused: list[str] = []
    try:
        for context in (officer_ctx, helper_ctx):
            context.set_default_timeout(TIMEOUT_MS)
        page = officer_ctx.new_page()
        page.on(
            "console",
            lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        log_in(page, base, "command.demo", DEMO_PASSWORD, locale)
        assert page.locator('main a[href="/command"]').count() == 1  # the home links it
        page.goto(base + "/command")
        wait_until(page, "document.getElementById('board-live').textContent.length > 0")
        wait_until(page, "document.getElementById('board').dataset.charts === '2'")
        # Chart.js drew both charts; the tables beside them say the same figures.
        assert page.evaluate(
            "Array.from(document.querySelectorAll('#board canvas'))"
            ".every(c => c.width > 0 && c.height > 0)"
        )
        assert page.locator("#board-open tbody tr").count() >= 1
        assert page.locator("#board-staffing tbody tr").count() >= 1
        tiles = page.locator(".pressure-grid a")
        assert tiles.count() >= 5 and tiles.first.is_visible()
        assert page.locator("#pressure-legend dt").count() == 3  # the pressure said in words
        assert page.locator('.pressure-grid a[href^="/queues?facility="]').count() == tiles.count()
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        assert axe_violations(page) == []
        screenshot(page, f"command-centre-{locale}")

        # A new consult reaches the board without a reload (the open count rises).
        page.evaluate("window.stillTheSamePage = true")
        before = page.evaluate("document.getElementById('board').dataset.refreshed || ''")
        _submit(base, token)
        wait_until(
            page,
            f"(document.getElementById('board').dataset.refreshed || '') !== '{before}'",
        )
        wait_until(page, "document.getElementById('board').dataset.charts === '2'")
        assert page.evaluate("window.stillTheSamePage === true")

        # The transfer thread: command staff write, the assisting physician reads it live.
        transfer_id = _transfer(base, token, consult_id)
        helper = helper_ctx.new_page()
        log_in(helper, base, "specialist.demo", DEMO_PASSWORD, locale)
        assert helper.locator(f'main a[href="/transfers/{transfer_id}"]').count() >= 1  # home
        helper.goto(f"{base}/transfers/{transfer_id}")
        helper.wait_for_load_state("networkidle")
        helper.evaluate("window.stillTheSamePage = true")
        page.goto(f"{base}/transfers/{transfer_id}")
        text = f"NIV first, then transfer ({locale})."
        page.fill("#thread-text", text)
        page.click("#thread-form button[type=submit]")
        wait_until(page, "document.querySelectorAll('#thread-messages li').length === 1")
        wait_until(
            helper,
            "Array.from(document.querySelectorAll('#thread-messages li .text'))"
            f".some(e => e.textContent === {text!r})",
        )
        assert helper.evaluate("window.stillTheSamePage === true")
        assert helper.locator("#thread-form").count() == 1  # and may answer
        assert axe_violations(helper) == []
        screenshot(helper, f"command-transfer-thread-{locale}")
        assert refused == []
    finally:
        officer_ctx.close()
        helper_ctx.close()
