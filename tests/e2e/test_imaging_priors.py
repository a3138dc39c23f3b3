"""The consult page's earlier studies, in a real browser against a live hub whose central archive
is a real Orthanc: the health worker asks for the patient's earlier studies, sees one the archive
got from elsewhere, fetches it into the hub (C-FIND + C-GET) and follows the page's link to it;
the hub's API and database show it stored and linked to the patient. An archive that is down is
reported in the reader's language and leaves nothing behind; the section speaks Persian."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from pydicom import dcmread
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from hub.demo import ACCOUNTS
from hub.models import AuditEvent, Patient
from hub.national_id import make_iranian
from imaging.models import ForwardItem, Instance, Study
from tests.imaging.dicomdata import write_study
from tests.imaging.peers import Orthanc, dcmtk, running_orthanc
from tests.support.live import live_demo_hub, log_in
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHW = next(a for a in ACCOUNTS if a.username == "chw.demo")  # health post A, sees its patients
NATIONAL_ID = make_iranian("001000001")  # the demo's Maryam Ahmadi, a patient of health post A
TIMEOUT_MS = 30_000  # a C-GET on a loaded two-core machine takes its time


@dataclass
class PriorsHub:
    live: HubProcess
    archive: Orthanc
    data: Path  # the live hub's data directory (its SQLite database and DICOM storage)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the live hub's own database, to check what it stored."""
        engine = create_engine(f"sqlite:///{self.data / 'hub.sqlite'}")
        try:
            with Session(engine) as sess:
                yield sess
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PriorsHub]:
    """A live demo hub whose central archive is an Orthanc that answers its C-FIND and C-GET."""
    with running_orthanc(tmp_path_factory.mktemp("archive"), allow_find=True) as archive:
        directory = tmp_path_factory.mktemp("priors-hub")
        with live_demo_hub(directory, HUB_CENTRAL_PACS=archive.peer) as live:
            yield PriorsHub(live, archive, directory / "data")


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(locale="en-US")
    made.set_default_timeout(TIMEOUT_MS)
    try:
        yield made
    finally:
        made.close()


def archive_prior(hub: PriorsHub, directory: Path, study_date: date, description: str) -> str:
    """A study of the patient that reached the central archive from elsewhere; its UID."""
    uid, paths = write_study(
        directory, patient_id=NATIONAL_ID, count=3, size=32, study_date=study_date
    )
    for path in paths:
        ds = dcmread(path)
        ds.StudyDescription = description
        ds.save_as(path)
    sent = dcmtk(
        "storescu",
        "-aet",
        "ELSEWHERE",
        "-aec",
        hub.archive.aet,
        "127.0.0.1",
        str(hub.archive.dicom_port),
        *map(str, paths),
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert len(hub.archive.instances_of(uid)) == 3
    return uid


def open_consult(page: Page, base: str) -> int:
    """Log the health worker in, request a consult for the patient, open its page; its id."""
    log_in(page, base, CHW.username)
    patients = page.request.get(base + "/api/v1/patients", params={"q": NATIONAL_ID}).json()[
        "items"
    ]
    [patient] = [p for p in patients if p["national_id"] == NATIONAL_ID]
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    created = page.request.post(
        base + "/api/v1/consults",
        data={
            "patient_id": patient["id"],
            "specialty": "pulmonology",
            "urgency": "routine",
            "question": "Cough for a month; is the old chest CT comparable?",
        },
        headers={"X-CSRFToken": token},
    )
    assert created.status == 201, created.text()
    consult_id = int(created.json()["id"])
    page.goto(f"{base}/consults/{consult_id}")
    return consult_id


def prior_row(page: Page, description: str) -> Locator:
    return page.locator("#priors tbody tr", has_text=description)


def held(hub: PriorsHub, study_uid: str) -> tuple[int | None, int]:
    """(patient id, instances) of the study in the live hub's index; (None, 0) if absent."""
    with hub.session() as sess:
        study = sess.scalar(select(Study).where(Study.study_instance_uid == study_uid))
        if study is None:
            return None, 0
        count = sess.scalar(select(func.count(Instance.id)).where(Instance.study_id == study.id))
        return study.patient_id, int(count or 0)


def stored_files(hub: PriorsHub) -> set[Path]:
    return set((hub.data / "dicom").rglob("*.dcm"))


def test_a_prior_is_fetched_from_the_consult_page(
    hub: PriorsHub, context: BrowserContext, tmp_path: Path
) -> None:
    base = hub.live.base_url
    prior = archive_prior(hub, tmp_path, date(2019, 3, 4), "CHEST FETCHED")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    refused: list[str] = []
    page.on("response", lambda r: refused.append(r.url) if r.status >= 400 else None)
    open_consult(page, base)

    section = page.locator("#consult-images")
    expect(section.locator("h2")).to_have_text("Images")
    expect(section).to_contain_text("No images are attached to this consult.")
    expect(page.locator("#priors h3")).to_have_text("Earlier studies in the central archive")
    expect(page.locator("#priors table")).to_be_hidden()  # nothing asked yet

    # Before: the hub does not hold the study; its API says so too.
    assert held(hub, prior) == (None, 0)
    assert page.request.get(f"{base}/api/v1/studies/{prior}").status == 404

    page.get_by_role("button", name="Look for earlier studies").click()
    row = prior_row(page, "CHEST FETCHED")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).to_have_text("2019-03-04")
    expect(row.locator("td").nth(1)).to_have_text("CT")
    fetch = row.get_by_role("button", name="Fetch")
    expect(fetch).to_be_enabled()
    expect(page.locator("#priors [data-role=status]")).to_have_text("")

    with page.expect_response(re.compile(r".*/api/v1/studies/priors/retrieve$")) as answer:
        fetch.click()
    assert answer.value.status == 200, answer.value.text()
    assert answer.value.json() == {
        "study_instance_uid": prior,
        "instances": 3,
        "failed": 0,
        "already_held": False,
    }
    # The page's own answer: the button gives way to a link to the study in the hub.
    link = row.get_by_role("link", name="In the hub")
    expect(link).to_have_attribute("href", f"/imaging/studies/{prior}")
    expect(row.get_by_role("button")).to_have_count(0)
    expect(page.locator("#priors [data-role=status]")).to_have_text("")

    # The hub's API and database: stored, complete, linked to the patient, not sent back.
    study = page.request.get(f"{base}/api/v1/studies/{prior}")
    assert study.status == 200, study.text()
    with hub.session() as sess:
        patient_id = sess.scalar(select(Patient.id).where(Patient.national_id == NATIONAL_ID))
        assert patient_id is not None
        assert held(hub, prior) == (patient_id, 3)
        assert study.json()["instances"] == 3 and study.json()["patient_id"] == patient_id
        forwarded = sess.scalar(
            select(func.count(ForwardItem.id))
            .join(Study, Study.id == ForwardItem.study_id)
            .where(Study.study_instance_uid == prior)
        )
        assert forwarded == 0
        retrieved = sess.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "imaging:prior:retrieved")
        ).all()
        assert {"study": prior, "instances": 3, "failed": 0} in retrieved
    listed = page.request.get(
        f"{base}/api/v1/studies", params={"patient_national_id": NATIONAL_ID}
    ).json()["items"]
    assert prior in [s["study_instance_uid"] for s in listed]

    # The link opens the study's page in the hub.
    link.click()
    page.wait_for_url(f"{base}/imaging/studies/{prior}")
    expect(page.locator("h1")).to_contain_text("CHEST FETCHED")
    expect(page.locator("main")).to_contain_text(NATIONAL_ID)

    # Asked again later, the archive's study is shown as held by the hub, with nothing to fetch.
    page.go_back()
    page.reload()
    page.get_by_role("button", name="Look for earlier studies").click()
    row = prior_row(page, "CHEST FETCHED")
    expect(row.get_by_role("link", name="In the hub")).to_be_visible()
    expect(row.get_by_role("button")).to_have_count(0)
    assert errors == []
    # The browser's own favicon request is the only page request allowed to miss.
    assert [u for u in refused if not u.endswith("/favicon.ico")] == []


def test_an_unreachable_archive_is_reported_in_persian_and_nothing_is_stored(
    hub: PriorsHub, context: BrowserContext, tmp_path: Path
) -> None:
    base = hub.live.base_url
    prior = archive_prior(hub, tmp_path, date(2017, 5, 6), "CHEST ARCHIVE DOWN")
    page = context.new_page()
    consult_id = open_consult(page, base)
    page.goto(f"{base}/lang/fa?next=/consults/{consult_id}")
    page.wait_for_url(f"{base}/consults/{consult_id}")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    status = page.locator("#priors [data-role=status]")
    ask = page.get_by_role("button", name="جستجوی مطالعات قبلی")  # "Look for earlier studies"
    unreachable = "دسترسی به بایگانی مرکزی ممکن نشد. بعداً دوباره تلاش کنید."
    files_before = stored_files(hub)

    # The archive is down when asked: the reader is told so in Persian, and may ask again.
    hub.archive.stop()
    try:
        ask.click()
        expect(status).to_have_text(unreachable)
        expect(ask).to_be_enabled()
    finally:
        hub.archive.start()
    ask.click()
    row = prior_row(page, "CHEST ARCHIVE DOWN")
    fetch = row.get_by_role("button", name="دریافت")  # "Fetch"
    expect(fetch).to_be_enabled()
    expect(status).to_have_text("")

    # It goes down between the list and the fetch: the same message; nothing is kept.
    hub.archive.stop()
    try:
        with page.expect_response(re.compile(r".*/api/v1/studies/priors/retrieve$")) as answer:
            fetch.click()
        assert answer.value.status == 503
        assert answer.value.json()["error"]["code"] == "archive_unavailable"
        expect(status).to_have_text(unreachable)
        expect(fetch).to_be_enabled()
        expect(fetch).to_have_text("دریافت")
        assert held(hub, prior) == (None, 0)
        assert page.request.get(f"{base}/api/v1/studies/{prior}").status == 404
        assert stored_files(hub) == files_before
    finally:
        hub.archive.start()

    # Once it is back, the same button fetches the study, and the old error goes away.
    with page.expect_response(re.compile(r".*/api/v1/studies/priors/retrieve$")) as answer:
        fetch.click()
    assert answer.value.status == 200, answer.value.text()
    expect(row.get_by_role("link", name="در سامانه")).to_be_visible()  # "In the hub"
    expect(status).to_have_text("")
    patient_id, instances = held(hub, prior)
    assert patient_id is not None and instances == 3


def test_a_study_gone_from_the_archive_is_reported_in_the_readers_words(
    hub: PriorsHub, context: BrowserContext, tmp_path: Path
) -> None:
    base = hub.live.base_url
    prior = archive_prior(hub, tmp_path, date(2016, 2, 3), "CHEST REMOVED LATER")
    page = context.new_page()
    open_consult(page, base)
    status = page.locator("#priors [data-role=status]")
    page.get_by_role("button", name="Look for earlier studies").click()
    fetch = prior_row(page, "CHEST REMOVED LATER").get_by_role("button", name="Fetch")
    expect(fetch).to_be_enabled()
    files_before = stored_files(hub)

    # Removed from the archive after the list was shown: the hub answers 404 with its English
    # message; the page says what happened in its own (translated) words.
    for instance in hub.archive.instances_of(prior):
        requests.delete(f"{hub.archive.url}/instances/{instance}", timeout=30).raise_for_status()
    with page.expect_response(re.compile(r".*/api/v1/studies/priors/retrieve$")) as answer:
        fetch.click()
    assert answer.value.status == 404
    expect(status).to_have_text(
        "The central archive no longer holds this study for this patient. "
        "Look for earlier studies again."
    )
    expect(fetch).to_be_enabled()
    assert held(hub, prior) == (None, 0)
    assert stored_files(hub) == files_before


# The wording of the section that must not stay English in Persian (data cells aside).
ENGLISH_WORDING = re.compile(r"[A-Za-z]{2,}")


def test_the_section_speaks_persian(
    hub: PriorsHub, context: BrowserContext, tmp_path: Path
) -> None:
    base = hub.live.base_url
    archive_prior(hub, tmp_path, date(2016, 1, 2), "CHEST PERSIAN")
    page = context.new_page()
    consult_id = open_consult(page, base)
    page.goto(f"{base}/lang/fa?next=/consults/{consult_id}")
    page.wait_for_url(f"{base}/consults/{consult_id}")
    section = page.locator("#consult-images")
    assert section.evaluate("el => getComputedStyle(el).direction") == "rtl"
    expect(section.locator("h2")).to_have_text("تصاویر")  # "Images"
    expect(section.locator("#priors h3")).to_have_text("مطالعات قبلی در بایگانی مرکزی")
    expect(section).to_contain_text("تصویری به این مشاوره پیوست نشده است.")
    page.get_by_role("button", name="جستجوی مطالعات قبلی").click()
    row = prior_row(page, "CHEST PERSIAN")
    expect(row.get_by_role("button", name="دریافت")).to_be_visible()
    headers = section.locator("#priors thead th").all_inner_texts()
    assert headers[:3] == ["تاریخ مطالعه", "روش تصویربرداری", "شرح"], headers
    # Everything the section says itself, without the archive's data (dates, CT, descriptions).
    wording = section.evaluate("""el => {
        const copy = el.cloneNode(true);
        copy.querySelectorAll("tbody td:not(:last-child)").forEach(td => td.remove());
        return copy.innerText;
    }""")
    assert not ENGLISH_WORDING.findall(wording), wording
