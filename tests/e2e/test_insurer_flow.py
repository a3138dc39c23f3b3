"""The insurer analyst reconciles claims in the browser, and the national administrator uploads
a tariff file: against a live demo hub, on a phone-sized screen, in English and Persian.

Signed consult outcomes of insured demo patients produce the claims (set up through the API:
the health worker's request, the specialist's claim, outcome and signature). Then
``insurer.demo`` filters the claims list, accepts one claim and rejects another with a reason
code through the page; ``admin.demo`` uploads a tariff file with an error and sees its line.
What the pages did is read back through the API only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page

from tests.support.browser import axe_violations, screenshot, wait_until
from tests.support.live import demo_env, log_in, run_hub_command
from tests.support.pki import OUTCOME_BODY
from tests.support.processes import HubProcess, free_port, running_hub

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000
LOCALES = ("en", "fa")
PKI_PASSPHRASE = "e2e-pki-passphrase-of-the-insurer-flow"  # a throwaway CA of this module
BAD_TARIFF = (
    "component,unit,amount,description\n"
    "consult:l2,service,1500000,Specialist consult\n"
    "video_minute,hour,60000,Video\n"
)


@dataclass
class Hub:
    proc: HubProcess
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        return self.proc.base_url

    def token(self, username: str) -> dict[str, str]:
        out = run_hub_command("token", "create", username, "--ttl", "1h", env=self.env)
        return {"Authorization": "Bearer " + out.strip().splitlines()[-1].strip()}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A live demo hub whose clinicians can sign: its CA is created before it starts."""
    directory: Path = tmp_path_factory.mktemp("insurer-hub")
    port = free_port()
    env = demo_env(directory, port, HUB_PKI_PASSPHRASE=PKI_PASSPHRASE)
    run_hub_command("db", "upgrade", env=env)
    assert "insurer.demo" in run_hub_command("seed-demo", env=env)
    run_hub_command("pki", "init", "--name", "E2E Hub", env=env)
    with running_hub("web", env=env, log_dir=directory / "logs", port=port) as proc:
        yield Hub(proc, env)


def api(hub: Hub, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
    resp = requests.request(
        method, hub.base_url + "/api/v1" + path, headers=headers, timeout=60, **kw
    )
    assert resp.status_code in (200, 201), f"{method} {path}: {resp.status_code} {resp.text[:400]}"
    return resp.json()


def signed_consult_claims(hub: Hub, count: int) -> list[int]:
    """``count`` signed consult outcomes of insured demo patients; the claims they produced."""
    chw, doctor = hub.token("chw.demo"), hub.token("specialist.demo")
    insurer = hub.token("insurer.demo")
    patients = api(hub, "GET", "/patients", chw, params={"limit": 20})["items"]
    assert patients, "the demo has no patients at the health post"
    before = {c["id"] for c in api(hub, "GET", "/insurer/claims/released", insurer)["items"]}
    for i in range(count):
        consult = api(
            hub,
            "POST",
            "/consults",
            chw,
            json={
                "patient_id": patients[i % len(patients)]["id"],
                "specialty": "pulmonology",
                "urgency": "routine",
                "mode": "async",
                "question": f"Cough for three weeks ({i}). Tuberculosis work-up?",
            },
        )
        api(hub, "POST", f"/consults/{consult['id']}/claim", doctor)
        api(hub, "POST", f"/consults/{consult['id']}/outcome", doctor, json=OUTCOME_BODY)
        api(hub, "POST", f"/consults/{consult['id']}/sign", doctor)
    items = api(hub, "GET", "/insurer/claims/released", insurer)["items"]
    new = sorted(c["id"] for c in items if c["id"] not in before)
    assert len(new) == count, items
    return new


def decision_of(hub: Hub, claim_id: int, status: str) -> dict[str, Any] | None:
    items = api(
        hub, "GET", "/insurer/claims/released", hub.token("insurer.demo"), params={"status": status}
    )["items"]
    return next((c for c in items if c["id"] == claim_id), None)


@pytest.fixture
def phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    locale = "fa-IR" if request.node.callspec.params.get("locale") == "fa" else "en-US"
    context = browser.new_context(locale=locale, viewport=PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def switch(page: Page, base: str, locale: str) -> None:
    if locale != "en":
        page.goto(base + f"/lang/{locale}?next=/home")
        page.wait_for_url(base + "/home")


def fits(page: Page) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def check(page: Page, name: str) -> None:
    screenshot(page, name)
    assert axe_violations(page) == [], name
    assert fits(page), f"{name}: the page is wider than the phone"


@pytest.mark.parametrize("locale", LOCALES)
def test_insurer_reconciles_and_admin_uploads_tariffs(hub: Hub, phone: Page, locale: str) -> None:
    base = hub.base_url
    accept, reject = signed_consult_claims(hub, 2)
    page = phone

    # The analyst opens the claims list from the home page.
    log_in(page, base, "insurer.demo")
    switch(page, base, locale)
    page.click("a[href='/insurance/analyst']")
    page.wait_for_url(base + "/insurance/analyst")
    assert page.locator(f"tr[data-claim='{accept}']").count() == 1
    assert page.get_attribute("html", "dir") == ("rtl" if locale == "fa" else "ltr")
    check(page, f"insurer-claims-{locale}")

    # Filter: the facility is chosen from a list; pending claims only.
    facility = page.locator("#f-facility option").nth(1).get_attribute("value")
    assert facility
    page.select_option("#f-facility", facility)
    page.select_option("#f-status", "pending")
    page.click("#claim-filter button[type=submit]")
    page.wait_for_url(lambda url: "status=pending" in url)
    shown = page.locator("tr[data-claim]")
    ids = {int(shown.nth(i).get_attribute("data-claim") or 0) for i in range(shown.count())}
    assert {accept, reject} <= ids
    check(page, f"insurer-filtered-{locale}")

    # Accept one.
    page.click(f"tr[data-claim='{accept}'] button.accept")
    wait_until(page, "document.querySelector('p.notice') !== null")
    assert page.locator(f"tr[data-claim='{accept}']").count() == 0  # no longer pending
    assert "status=pending" in page.url
    check(page, f"insurer-accepted-{locale}")

    # Reject another, with a reason code.
    row = page.locator(f"tr[data-claim='{reject}']")
    row.locator("summary").click()
    row.locator("select[name=reason_code]").select_option("not_covered")
    row.locator("textarea[name=note]").fill("Outside the contract")
    check(page, f"insurer-rejecting-{locale}")
    row.locator("button.danger").click()
    wait_until(page, "document.querySelector('p.notice') !== null")
    assert page.locator(f"tr[data-claim='{reject}']").count() == 0

    page.goto(base + "/insurance/analyst?status=rejected")
    done = page.locator(f"tr[data-claim='{reject}'] [data-role=decision]")
    assert done.count() == 1
    # The rejection shows in the chart by reason, drawn by Chart.js on its canvas.
    wait_until(
        page,
        "Array.from(document.querySelectorAll('canvas[data-bar-chart]'))"
        ".every(c => window.Chart && window.Chart.getChart(c))",
    )
    check(page, f"insurer-rejected-{locale}")

    accepted = decision_of(hub, accept, "accepted")
    rejected = decision_of(hub, reject, "rejected")
    assert accepted is not None and accepted["decision"] == "accepted"
    assert rejected is not None and rejected["reason_code"] == "not_covered"

    # The national administrator uploads a tariff file with an error and sees the line.
    page.context.clear_cookies()
    log_in(page, base, "admin.demo")
    switch(page, base, locale)
    page.click("a[href='/insurance/tariffs']")
    page.wait_for_url(base + "/insurance/tariffs")
    check(page, f"admin-tariffs-{locale}")
    schedules = page.locator("#schedules > li").count()
    page.fill("#t-label", "Tariff with an error")
    page.fill("#t-from", "2399-01-0" + ("1" if locale == "en" else "2"))
    page.set_input_files(
        "#t-file",
        files=[{"name": "tariff.csv", "mimeType": "text/csv", "buffer": BAD_TARIFF.encode()}],
    )
    page.click("#tariff-upload button[type=submit]")
    wait_until(page, "document.querySelector('#upload-errors') !== null")
    lines = page.locator("#upload-errors tbody tr")
    assert lines.count() == 1 and lines.first.get_attribute("data-line") == "3"
    check(page, f"admin-tariff-errors-{locale}")
    assert page.locator("#schedules > li").count() == schedules  # nothing imported
    stored = api(hub, "GET", "/tariffs", hub.token("admin.demo"))["items"]
    assert not any(s["label"] == "Tariff with an error" for s in stored)
