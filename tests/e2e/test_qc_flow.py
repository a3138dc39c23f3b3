"""Teleradiology quality control in a real browser against a live demo hub: last week's final
reports are drawn for senior review (``hub qc weekly-sample``), senior.demo scores one on the
RADPEER scale from the peer-review worklist (a 2b without comment refused on the page), and
qa.demo sees the agreement on the QA dashboard. In English and Persian at phone width; axe
clean on every page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from hub.models import Facility, User, utcnow
from imaging.reading.qc.review import week_of
from tests.imaging.qc_support import read_study
from tests.support.browser import axe_violations, log_in, open_page, screenshot
from tests.support.live import DEMO_PASSWORD, demo_env, run_hub_command
from tests.support.processes import HubProcess, free_port, running_hub

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
LOCALES = ["en", "fa"]


@pytest.fixture
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A demo hub with two of radiologist.demo's reports signed last week, drawn for review;
    one per language pass, so each pass finds both reviews waiting."""
    directory = tmp_path_factory.mktemp("qc-hub")
    env = demo_env(directory, free_port())
    run_hub_command("db", "upgrade", env=env)
    run_hub_command("seed-demo", env=env)
    # Wednesday noon of last week: both reports fall inside that ISO week on any day the test
    # runs (a week ago on a Sunday night, an hour later is the next week).
    now = utcnow()
    last_week = (now - timedelta(days=7 + now.weekday() - 2)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    engine = create_engine(env["HUB_DATABASE_URL"])
    with Session(engine) as session:
        post = session.scalars(select(Facility).where(Facility.code == "HP-A")).one()
        reader = session.scalars(select(User).where(User.username == "radiologist.demo")).one()
        worker = session.scalars(select(User).where(User.username == "chw.demo")).one()
        for hours in (1, 2):
            read_study(
                session, post, reader, worker, completed_at=last_week + timedelta(hours=hours)
            )
        session.commit()
    engine.dispose()
    drawn = run_hub_command(
        "qc", "weekly-sample", "--week", week_of(last_week), "--share", "100", env=env
    )
    assert "2 assigned" in drawn, drawn
    port = int(env["HUB_HTTP_PORT"])
    with running_hub("web", env=env, log_dir=directory / "logs", port=port) as proc:
        yield proc


def _clean(page: Page, name: str) -> None:
    screenshot(page, name)
    assert axe_violations(page) == [], name
    fits = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert fits, f"{name}: the page is wider than the phone's screen"


@pytest.mark.parametrize("locale", LOCALES)
def test_senior_review_and_qa_dashboard(
    live: HubProcess, browser: Browser, contexts: list[BrowserContext], locale: str
) -> None:
    senior, senior_errors = open_page(browser, contexts, locale, PHONE)
    log_in(senior, live.base_url, "senior.demo", DEMO_PASSWORD, locale)
    assert senior.evaluate("document.documentElement.dir") == ("rtl" if locale == "fa" else "ltr")
    senior.goto(live.base_url + "/reading/qc/reviews")
    rows = senior.locator("#reviews-table tbody tr")
    expect(rows).to_have_count(2)
    _clean(senior, f"qc-reviews-{locale}")
    # Each pass has its own hub: the English pass scores the first review, Persian the second.
    target = 0 if locale == "en" else 1
    rows.nth(target).locator("a").click()
    expect(senior.locator("#review-form")).to_be_visible()
    _clean(senior, f"qc-review-{locale}")
    senior.check("#score-2b")
    senior.click("#review-form button[type=submit]")
    expect(senior.locator('[data-role="error"]')).not_to_be_empty()
    senior.fill("#review-comment", "Small nodule in the left upper lobe not mentioned.")
    senior.click("#review-form button[type=submit]")
    expect(senior.locator("#review-score")).to_contain_text("2b")
    _clean(senior, f"qc-review-scored-{locale}")
    assert senior_errors == []

    qa, qa_errors = open_page(browser, contexts, locale, PHONE)
    log_in(qa, live.base_url, "qa.demo", DEMO_PASSWORD, locale)
    qa.click('a[href="/reading/qc/"]')
    expect(qa.locator("#peer-table")).to_be_visible()
    total = qa.locator("#peer-table tr.total td").first
    expect(total).to_have_text("1")  # each pass has its own hub and scores one review
    expect(qa.locator("#concordance-table")).to_be_visible()
    _clean(qa, f"qc-dashboard-{locale}")
    qa.click("#quarterly-link")
    expect(qa.locator("#cat1-p50")).to_be_visible()
    _clean(qa, f"qc-quarterly-{locale}")
    assert qa_errors == []
