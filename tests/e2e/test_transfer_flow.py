"""A transfer through pages only: the health post requests it on a phone, command staff approve
it with a destination, the destination's page announces it without a reload, its specialist
accepts, the origin moves it to completion. English and Persian, axe-clean, screenshots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page

from tests.support.browser import axe_violations, log_in, screenshot, wait_until
from tests.support.live import DEMO_PASSWORD, demo_env, live_demo_hub, run_hub_command
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 20_000
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def transfer_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, str]]:
    directory = tmp_path_factory.mktemp("transfer-hub")
    with live_demo_hub(directory) as proc:
        env = demo_env(directory, int(proc.port or 0))
        token = run_hub_command("token", "create", "chw.demo", env=env).strip().splitlines()[-1]
        yield proc, token


def _context(browser: Browser, locale: str, phone: bool = False) -> BrowserContext:
    context = browser.new_context(locale=locale, viewport=PHONE if phone else None)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def _move(page: Page, to: str, destination: str | None = None) -> None:
    if destination:
        page.select_option("#mv-destination", destination)
    with page.expect_navigation():  # the page reloads once the API has taken the move
        page.click(f'#move-form button[value="{to}"]')


def _status_is(api: str, token: str, transfer_id: int) -> str:
    resp = requests.get(
        f"{api}/api/v1/transfers/{transfer_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["status"])


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_transfer_from_request_to_arrival(
    transfer_hub: tuple[HubProcess, str], browser: Browser, locale: str
) -> None:
    live, token = transfer_hub
    base = live.base_url
    patients = requests.get(
        f"{base}/api/v1/patients", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()["items"]
    contexts = [
        _context(browser, locale, phone=True),
        _context(browser, locale),
        _context(browser, locale),
    ]
    try:
        worker, officer, receiver = (c.new_page() for c in contexts)
        log_in(worker, base, "chw.demo", DEMO_PASSWORD, locale)
        log_in(officer, base, "command.demo", DEMO_PASSWORD, locale)
        log_in(receiver, base, "specialist.demo", DEMO_PASSWORD, locale)

        # The health post requests it.
        assert worker.locator('a[href="/transfers"]').count() == 1
        worker.goto(base + "/transfers")
        assert axe_violations(worker) == []
        worker.fill("#tr-patient", str(patients[0]["id"]))
        worker.fill("#tr-reason", "Suspected meningitis; CT and neurology needed now.")
        worker.select_option("#tr-severity", "5")
        worker.check("#tr-emergency")
        screenshot(worker, f"transfer-request-{locale}")
        worker.click("#transfer-form button[type=submit]")
        worker.wait_for_url(f"{base}/transfers/*")
        transfer_id = int(worker.url.rsplit("/", 1)[1])
        assert worker.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        assert axe_violations(worker) == []

        # The destination's staff watch their transfers page.
        receiver.goto(base + "/transfers")
        receiver.evaluate("window.stillTheSamePage = true")

        # Command staff see it by priority and approve it with a destination.
        officer.goto(base + "/transfers")
        officer.click(f'a[href="/transfers/{transfer_id}"]')
        assert axe_violations(officer) == []
        screenshot(officer, f"transfer-command-{locale}")
        _move(officer, "approved", "HOSP-2A")
        assert _status_is(base, token, transfer_id) == "approved"

        # The destination is alerted without a reload and accepts.
        wait_until(receiver, "!document.getElementById('transfer-alert').hidden")
        wait_until(receiver, f"!!document.querySelector('a[href=\"/transfers/{transfer_id}\"]')")
        assert receiver.evaluate("window.stillTheSamePage === true")
        screenshot(receiver, f"transfer-destination-alert-{locale}")
        receiver.click(f'a[href="/transfers/{transfer_id}"]')
        _move(receiver, "destination_approved")

        # The origin arranges transport and completes it.
        worker.reload()
        for step in (
            "transport_to_be_arranged",
            "patient_to_be_picked_up",
            "in_transit",
            "completed",
        ):
            _move(worker, step)
        assert _status_is(base, token, transfer_id) == "completed"
        assert worker.locator("#move-form").count() == 0  # terminal: nothing left to do
        assert worker.locator("ol.timeline li").count() == 7
        screenshot(worker, f"transfer-completed-{locale}")
        assert axe_violations(worker) == []
    finally:
        for context in contexts:
            context.close()
