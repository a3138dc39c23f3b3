"""The imaging report in a real browser against a live demo hub, through pages only: the
radiologist writes the report beside the study's images (from the modality's template), signs
it, the health post receives (countersigns) it on the study page, and the radiologist amends it;
the signed original stays, shown as superseded. In English on a desktop and in Persian on a
phone; axe clean on every page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from hub.national_id import make_iranian
from tests.imaging.dicomdata import write_study
from tests.support.browser import axe_violations, log_in, open_page, screenshot
from tests.support.live import DEMO_PASSWORD, demo_env, run_hub_command
from tests.support.processes import HubProcess, free_port, running_hub

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
NATIONAL_ID = make_iranian("001000001")  # the demo's Maryam Ahmadi, a patient of health post A
PASSES = [("en", DESKTOP), ("fa", PHONE)]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A live demo hub whose radiologists can sign: its CA is created before it starts."""
    directory = tmp_path_factory.mktemp("live-report-hub")
    port = free_port()
    env = demo_env(directory, port, HUB_PKI_PASSPHRASE="e2e-pki-passphrase-for-report-tests")
    run_hub_command("db", "upgrade", env=env)
    assert "radiologist.demo" in run_hub_command("seed-demo", env=env)
    run_hub_command("pki", "init", "--name", "E2E Hub", env=env)
    with running_hub("web", env=env, log_dir=directory / "logs", port=port) as proc:
        yield proc


def _clean(page: Page, name: str) -> None:
    screenshot(page, name)
    assert axe_violations(page) == [], name


@pytest.mark.parametrize(("locale", "viewport"), PASSES, ids=[p[0] for p in PASSES])
def test_write_sign_receive_and_amend(
    live: HubProcess,
    browser: Browser,
    contexts: list[BrowserContext],
    tmp_path: Path,
    locale: str,
    viewport: dict[str, int],
) -> None:
    base = live.base_url
    study_uid, files = write_study(tmp_path / "study", patient_id=NATIONAL_ID, count=2, size=64)
    worker, worker_errors = open_page(browser, contexts, locale, viewport)
    log_in(worker, base, "chw.demo", DEMO_PASSWORD, locale)
    worker.goto(base + "/imaging/upload")
    worker.set_input_files("#files", [str(p) for p in files])
    worker.click("#upload button[type=submit]")
    expect(worker.locator("#upload-studies a.study-link")).to_have_count(1)
    worker.goto(f"{base}/reading/send?study={study_uid}")
    worker.fill("#send-question", "Cough and fever; consolidation?")
    worker.select_option("#send-urgency", "urgent")
    worker.click("#send-form button[type=submit]")
    worker.wait_for_url(f"{base}/reading/requests/*")
    request_id = int(worker.url.rsplit("/", 1)[1])

    reader, reader_errors = open_page(browser, contexts, locale, viewport)
    reader.on("dialog", lambda dialog: dialog.accept())  # "sign this report?" confirmations
    log_in(reader, base, "radiologist.demo", DEMO_PASSWORD, locale)
    reader.goto(base + "/reading/worklist")
    reader.locator(f'#reading-table tr[data-request="{request_id}"] button[data-claim]').click()
    reader.wait_for_url(f"{base}/reading/requests/{request_id}")
    # The study's series are beside the editor; the CT template fills the findings.
    expect(reader.locator(".reading-images img")).to_have_count(1)
    reader.click("#report-template")
    expect(reader.locator("#report-findings")).to_have_value(
        reader.locator("#report-template").get_attribute("data-template") or "x"
    )
    reader.fill("#report-findings", "Consolidation in the right lower lobe.")
    reader.fill("#report-impression", "Right lower lobe pneumonia.")
    _clean(reader, f"report-editor-{locale}")
    reader.click("#report-save")
    expect(reader.locator("#report-state")).to_have_attribute("data-state", "draft")
    expect(reader.locator("#report-preview")).to_have_count(1)
    reader.click("#report-sign")
    expect(reader.locator("#report-state")).to_have_attribute("data-state", "signed")
    expect(reader.locator('#report-versions tr[data-version="1"]')).to_have_attribute(
        "data-state", "signed"
    )
    expect(reader.locator("#report-form")).to_have_count(0)
    _clean(reader, f"report-signed-{locale}")
    pdf = reader.request.get(f"{base}/api/v1/studies/{study_uid}/report/versions/1.pdf")
    assert pdf.ok and pdf.headers["x-document-status"] == "signed"
    original = pdf.body()

    # The health post reads and receives it on the study page.
    worker.goto(f"{base}/imaging/studies/{study_uid}")
    expect(worker.locator("#report-impression-text")).to_have_text("Right lower lobe pneumonia.")
    _clean(worker, f"report-study-page-{locale}")
    worker.click("#report-receive")
    expect(worker.locator("#report-receive")).to_have_count(0)
    expect(worker.locator('#report-versions tr[data-version="1"] time')).to_have_count(2)

    # The radiologist amends: a new version, the signed one kept and marked superseded.
    reader.reload()
    reader.fill("#amend-reason", "Small effusion missed on the first read.")
    reader.click("#amend-start")
    expect(reader.locator("#report-state")).to_have_attribute("data-state", "draft")
    expect(reader.locator("#report-impression")).to_have_value("Right lower lobe pneumonia.")
    reader.fill("#report-impression", "Right lower lobe pneumonia with a small effusion.")
    _clean(reader, f"report-amending-{locale}")
    reader.click("#report-sign")
    expect(reader.locator('#report-versions tr[data-version="1"]')).to_have_attribute(
        "data-state", "superseded"
    )
    expect(reader.locator('#report-versions tr[data-version="2"]')).to_have_attribute(
        "data-state", "signed"
    )
    worker.reload()
    expect(worker.locator("#report-impression-text")).to_have_text(
        "Right lower lobe pneumonia with a small effusion."
    )
    expect(worker.locator("#report-receive")).to_have_count(1)
    _clean(worker, f"report-amended-{locale}")
    kept = worker.request.get(f"{base}/api/v1/studies/{study_uid}/report/versions/1.pdf")
    # The receipt was an incremental update: the signed bytes are kept as they were.
    assert kept.body().startswith(original) and len(kept.body()) > len(original)
    fhir = worker.request.get(f"{base}/api/v1/studies/{study_uid}/report/fhir").json()
    assert fhir["status"] == "amended"
    assert worker_errors == [] and reader_errors == []
