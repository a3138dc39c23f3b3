"""Command staff watch the queue board while a consult breaches its SLA all the way to "command
staff alerted": the alert appears without a reload (with its tone), one click takes it and it
shows who took it; the progress pages (national and the region) export CSV and a signed PDF.
In English (desktop) and Persian (phone width), axe-clean.

The SLA sweep runs in a separate process (as the beat's worker would), so the alert reaches the
browser through Redis, the way several web and worker processes share rooms in production."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser

from tests.conftest import REDIS_URL
from tests.support.browser import axe_violations, log_in, screenshot, wait_until
from tests.support.live import (
    DEMO_PASSWORD,
    demo_env,
    live_demo_hub,
    run_hub_command,
    run_in_hub,
)
from tests.support.pki import pdfsig
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 20_000
VIEWPORTS = {"en": {"width": 1280, "height": 900}, "fa": {"width": 390, "height": 844}}
# The sweep, again and again with a clock moved on, until the consult reaches the last stage.
SWEEP = """
from datetime import timedelta
from hub import create_app, db
from hub.models import utcnow
from consult.assignment import escalate_due
app = create_app()
with app.app_context():
    now = utcnow()
    for step in range(1, 9):
        with db.transaction() as session:
            escalate_due(session, now=now + timedelta(hours=3 * step))
"""


@pytest.fixture(scope="module")
def alert_hub(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[HubProcess, str, dict[str, str]]]:
    directory = tmp_path_factory.mktemp("alert-hub")
    shared = {
        "HUB_REDIS_URL": REDIS_URL,
        "HUB_SOCKETIO_CHANNEL": f"hub-{uuid.uuid4().hex}",
        "HUB_PKI_PASSPHRASE": "e2e-pki-passphrase-of-the-command-centre",  # a throwaway CA
    }
    # The PKI directory lives under the data directory, which does not depend on the port.
    run_hub_command("pki", "init", "--name", "E2E Hub", env=demo_env(directory, 1, **shared))
    with live_demo_hub(directory, **shared) as proc:
        env = demo_env(directory, int(proc.port or 0), **shared)
        token = run_hub_command("token", "create", "chw.demo", env=env).strip().splitlines()[-1]
        yield proc, token, env


def _submit(base: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    patients = requests.get(f"{base}/api/v1/patients", headers=headers, timeout=30)
    assert patients.status_code == 200, patients.text
    resp = requests.post(
        f"{base}/api/v1/consults",
        json={
            "patient_id": patients.json()["items"][0]["id"],
            "specialty": "nephrology",
            "urgency": "urgent",
            "mode": "async",
            "question": "Creatinine doubled in a week.",
        },
        headers=headers,
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def _sweep(env: dict[str, str]) -> None:
    run_in_hub(SWEEP, env)


@pytest.mark.parametrize("locale", ["en", "fa"])
def test_an_alert_arrives_live_is_taken_and_the_progress_report_exports(
    alert_hub: tuple[HubProcess, str, dict[str, str]],
    browser: Browser,
    locale: str,
    tmp_path: Path,
) -> None:
    live, token, env = alert_hub
    base = live.base_url
    context = browser.new_context(locale=locale, viewport=VIEWPORTS[locale], accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    refused: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "console",
            lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        log_in(page, base, "command.demo", DEMO_PASSWORD, locale)
        assert page.locator('main a[href="/command/alerts"]').count() == 1  # the home links
        assert page.locator('main a[href="/command/progress"]').count() == 1
        page.goto(base + "/queues")
        wait_until(page, "document.getElementById('command-alerts').dataset.live === '1'")
        wait_until(page, "!!document.getElementById('command-alerts').dataset.refreshed")
        page.click("h1")  # a user gesture: the browser may then play the tone
        page.evaluate("window.stillTheSamePage = true")
        rang = int(page.evaluate("document.getElementById('command-alerts').dataset.rang || 0"))

        consult_id = _submit(base, token)
        _sweep(env)
        row = f'#command-alerts .open-alerts li:has(a[href="/consults/{consult_id}"])'
        wait_until(page, f"document.querySelector({row!r}) !== null")
        assert page.evaluate("window.stillTheSamePage === true")  # no reload happened
        assert (
            int(page.evaluate("document.getElementById('command-alerts').dataset.rang || 0")) > rang
        )
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        assert axe_violations(page) == []
        screenshot(page, f"command-alert-raised-{locale}")

        page.locator(f"{row} button.take").click()
        taken = f'#command-alerts .taken-alerts li:has(a[href="/consults/{consult_id}"])'
        wait_until(page, f"document.querySelector({taken!r}) !== null")
        assert "Demo Command Officer" in (page.locator(taken).text_content() or "")
        assert page.locator(row).count() == 0
        assert page.evaluate("window.stillTheSamePage === true")
        screenshot(page, f"command-alert-taken-{locale}")

        # The alerts page keeps the record.
        page.goto(base + "/command/alerts")
        wait_until(page, "!!document.getElementById('command-alerts').dataset.refreshed")
        assert page.locator(taken).count() == 1
        assert axe_violations(page) == []

        # Progress: the national page (their own region only), then the region's page.
        page.goto(base + "/command/progress")
        assert page.locator("#progress-regions tbody tr").count() == 1
        assert axe_violations(page) == []
        screenshot(page, f"command-progress-national-{locale}")
        page.locator("#progress-regions tbody a").first.click()
        page.wait_for_selector("#progress-universities")
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        assert axe_violations(page) == []
        screenshot(page, f"command-progress-region-{locale}")
        for link in ("#export-csv", "#export-pdf"):
            href = page.locator(link).get_attribute("href") or ""
            answer = page.request.get(base + href)
            assert answer.status == 200, (link, answer.text()[:500])
        with page.expect_download() as csv_download:
            page.click("#export-csv")
        csv_path = tmp_path / "progress.csv"
        csv_download.value.save_as(csv_path)
        lines = csv_path.read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("period_from,period_to,region_code")
        assert len(lines) >= 2 and ",region," in lines[1]
        with page.expect_download() as pdf_download:
            page.click("#export-pdf")
        pdf_path = tmp_path / "progress.pdf"
        pdf_download.value.save_as(pdf_path)
        assert pdf_path.read_bytes().startswith(b"%PDF")
        assert pdfsig(str(pdf_path)).count("Signature is Valid") == 1
        assert refused == []
    finally:
        context.close()
