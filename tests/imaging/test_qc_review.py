"""Weekly senior review on SQLite and PostgreSQL: the sample's rules (at least one report per
reporting radiologist, never to its author, only senior reviewers, the configured share, the
same week drawn once), RADPEER 2016 scores with their comment rule, the agreement figures
against a hand count, and overdue reviews alerting the QA physician."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db, realtime
from hub.auth.principal import user_principal
from hub.models import User, utcnow
from imaging.models import ImagingReport
from imaging.reading.qc import review
from imaging.reading.qc.models import PeerReview, Reviewer, ReviewWeek
from tests.consult.support import bearer
from tests.consult.test_pages import log_in, page
from tests.imaging.qc_support import at, radiologist, read_study, region
from tests.support import factories as f
from tests.support.personas import World


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client keeping no request context (see tests/consult/test_pages.py)."""
    return app.test_client()


def _senior_ids(session: Session) -> set[int]:
    return set(session.scalars(select(Reviewer.user_id).where(Reviewer.years_of_experience >= 10)))


def test_the_weekly_sample_follows_its_rules(app: Flask, session: Session, world: World) -> None:
    r = region(session, facilities=1)
    (place,) = r.facilities
    gp = r.clinicians[place.id]
    a = radiologist(session, world.hospital_x, years=3)
    b = radiologist(session, world.hospital_x)  # no experience on record: not senior
    c = radiologist(session, world.hospital_x, years=15)  # senior, and an author this week
    s1 = radiologist(session, world.hospital_x, years=12)
    junior = radiologist(session, world.hospital_x, years=9)
    monday = at("2003-03-03 00:00")  # ISO week 2003-W10
    for n in range(30):
        read_study(session, place, a, gp, completed_at=monday + timedelta(hours=n))
    read_study(session, place, b, gp, completed_at=monday + timedelta(days=6, hours=23))
    for n in range(2):
        read_study(session, place, c, gp, completed_at=monday + timedelta(days=2, minutes=n))
    # Not this week's final reports: a draft, and one signed the next Monday.
    read_study(session, place, a, gp, completed_at=monday + timedelta(days=3), signed=False)
    next_week = read_study(session, place, b, gp, completed_at=monday + timedelta(days=7))
    session.commit()

    with app.app_context(), db.transaction() as s:
        drawn = review.draw(s, "2003-W10", share_percent=10, review_days=7)
        seniors = _senior_ids(s)
        rows = [
            (p.id, p.report_id, p.author_id, p.reviewer_id, p.due_at, p.assigned_at)
            for p in drawn.assigned
        ]
    # By hand: 33 final reports; 10 % is 3.3, so 4; one each for A, B and C, one more.
    assert drawn.reports == 33 and not drawn.already
    assert len(rows) == 4
    assert {author for _i, _r, author, _v, _d, _a in rows} == {a.id, b.id, c.id}
    for _id, _report, author, reviewer, due, assigned in rows:
        assert reviewer != author
        assert reviewer in seniors
        assert reviewer not in (a.id, b.id, junior.id)
        assert due - assigned == timedelta(days=7)
    with app.app_context(), db.transaction() as s:
        weeks = {
            s.get_one(ImagingReport, report_id).signed_at.isocalendar()[1]  # type: ignore[union-attr]
            for _i, report_id, *_rest in rows
        }
    assert weeks == {10}

    # The same week again: nothing changes, from the service or the command.
    with app.app_context(), db.transaction() as s:
        again = review.draw(s, "2003-W10", share_percent=50, review_days=7)
        assert again.already and sorted(p.id for p in again.assigned) == sorted(i for i, *_ in rows)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["qc", "weekly-sample", "--week", "2003-W10"])
    assert out.exit_code == 0 and "already drawn" in out.output, out.output
    with app.app_context(), db.transaction() as s:
        assert len(list(s.scalars(select(PeerReview).where(PeerReview.week == "2003-W10")))) == 4

    # The next week through the command, everything (100 %): its one report, not to its author.
    out = runner.invoke(args=["qc", "weekly-sample", "--week", "2003-W11", "--share", "100"])
    assert out.exit_code == 0 and "1 final report(s), 1 assigned" in out.output, out.output
    with app.app_context(), db.transaction() as s:
        (only,) = s.scalars(select(PeerReview).where(PeerReview.week == "2003-W11"))
        assert only.author_id == b.id and only.reviewer_id != b.id
        assert only.reviewer_id in _senior_ids(s)
        assert s.get_one(ImagingReport, only.report_id).study_id == next_week.study_id
    # A week without reports is drawn (empty) too; a malformed week is refused.
    out = runner.invoke(args=["qc", "weekly-sample", "--week", "1999-W02"])
    assert out.exit_code == 0 and "0 final report(s), 0 assigned" in out.output
    for bad in ("2003-W54", "2003-10", "week"):
        out = runner.invoke(args=["qc", "weekly-sample", "--week", bad])
        assert out.exit_code != 0
        assert "YYYY-Www" in out.output or "not a week" in out.output
    with app.app_context(), db.transaction() as s:
        assert s.get(ReviewWeek, "2003-W54") is None
    assert s1.id in seniors


def test_reviewer_command_records_experience(app: Flask, session: Session, world: World) -> None:
    who = radiologist(session, world.hospital_x)
    session.commit()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["qc", "reviewer", who.username, "--years", "11"])
    assert out.exit_code == 0 and "senior reviewer" in out.output
    with app.app_context(), db.transaction() as s:
        assert review.is_senior(s, who.id)
    out = runner.invoke(args=["qc", "reviewer", "nobody-here", "--years", "11"])
    assert out.exit_code != 0
    out = runner.invoke(args=["qc", "reviewer", who.username, "--years", "-1"])
    assert out.exit_code != 0


def _assign(session: Session, week: str, reports: list[ImagingReport], reviewer: User) -> list[int]:
    """Reviews assigned directly (the draw is tested above), due in a week from now."""
    session.add(ReviewWeek(week=week, share_percent=5))
    session.flush()
    rows = [
        PeerReview(
            week=week,
            report_id=rep.id,
            author_id=rep.author_id,
            reviewer_id=reviewer.id,
            due_at=utcnow() + timedelta(days=7),
        )
        for rep in reports
    ]
    session.add_all(rows)
    session.flush()
    return [p.id for p in rows]


def _report(session: Session, study_id: int) -> ImagingReport:
    return session.scalars(select(ImagingReport).where(ImagingReport.study_id == study_id)).one()


def test_radpeer_scores_and_agreement_equal_a_hand_count(
    app: Flask, client: FlaskClient, session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = region(session, facilities=1)
    (place,) = r.facilities
    gp = r.clinicians[place.id]
    a = radiologist(session, world.hospital_x)
    b = radiologist(session, world.hospital_x)
    senior = radiologist(session, world.hospital_x, years=20)
    other = radiologist(session, world.hospital_x, years=30)
    when = at("2002-05-07 10:00")
    studies_a = [read_study(session, place, a, gp, completed_at=when).study_id for _ in range(5)]
    studies_b = [read_study(session, place, b, gp, completed_at=when).study_id for _ in range(3)]
    ids = _assign(
        session,
        "2002-W19",
        [_report(session, s) for s in studies_a + studies_b],
        senior,
    )
    headers = {
        "senior": bearer(session, senior),
        "other": bearer(session, other),
        "gp": bearer(session, gp),
    }
    session.commit()
    url = "/api/v1/peer-reviews/{}"
    # Bad paths first: nothing is scored by them.
    assert (
        client.post(url.format(ids[0]), json={"score": "2b"}, headers=headers["senior"]).status_code
        == 422
    )
    assert (
        client.post(
            url.format(ids[0]), json={"score": "3a", "comment": "  "}, headers=headers["senior"]
        ).status_code
        == 422
    )
    assert (
        client.post(
            url.format(ids[0]), json={"score": "3b", "comment": ""}, headers=headers["senior"]
        ).status_code
        == 422
    )
    assert (
        client.post(url.format(ids[0]), json={"score": "4"}, headers=headers["senior"]).status_code
        == 422
    )
    assert (
        client.post(url.format(ids[0]), json={"score": 1}, headers=headers["senior"]).status_code
        == 422
    )
    assert (
        client.post(url.format(ids[0]), json={"score": "1"}, headers=headers["other"]).status_code
        == 404
    )
    assert (
        client.post(url.format(ids[0]), json={"score": "1"}, headers=headers["gp"]).status_code
        == 403
    )
    assert (
        client.post(
            url.format(999999999), json={"score": "1"}, headers=headers["senior"]
        ).status_code
        == 404
    )

    # A: 1, 1, 2a, 3b (+ one left unscored); B: 1, 1, 2b.
    scores = [
        ("1", None),
        ("1", None),
        ("2a", None),
        ("3b", "Missed the fracture."),
        ("1", None),
        ("1", "Agree."),
        ("2b", "Subtle nodule missed."),
    ]
    for review_id, (score, comment) in zip(ids[:4] + ids[5:], scores, strict=True):
        body = {"score": score} | ({"comment": comment} if comment else {})
        done = client.post(url.format(review_id), json=body, headers=headers["senior"])
        assert done.status_code == 200, done.get_json()
        assert done.get_json()["score"] == score
    twice = client.post(url.format(ids[0]), json={"score": "2a"}, headers=headers["senior"])
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "already_scored"

    figures = client.get("/api/v1/qc/peer-review", headers=r.headers["qa"]).get_json()
    key = {a.id: f"{a.full_name} ({a.username})", b.id: f"{b.full_name} ({b.username})"}
    by = {g["key"]: g for g in figures["groups"]}
    assert by[key[a.id]]["cases"] == 4 and by[key[a.id]]["rate"] == 0.5
    assert by[key[a.id]]["scores"] == {"1": 2, "2a": 1, "2b": 0, "3a": 0, "3b": 1}
    assert by[key[a.id]]["significant"] == 1
    assert by[key[b.id]]["cases"] == 3 and by[key[b.id]]["rate"] == 0.6667
    assert by[key[b.id]]["significant"] == 1
    assert figures["total"]["cases"] == 7 and figures["total"]["rate"] == 0.5714
    assert figures["pending"] == 1 and figures["overdue"] == 0
    empty = client.get(
        "/api/v1/qc/peer-review?from=1990-01-01&to=1990-12-31", headers=r.headers["qa"]
    ).get_json()
    assert empty["groups"] == [] and empty["total"]["rate"] is None
    assert client.get("/api/v1/qc/peer-review", headers=headers["senior"]).status_code == 403

    # The unscored one goes overdue: the region's QA physician is told once, and sees it.
    emitted: list[tuple[str, dict[str, object], str]] = []
    monkeypatch.setattr(
        realtime.socketio, "emit", lambda name, data, to: emitted.append((name, data, to))
    )
    later = utcnow() + timedelta(days=8)
    with app.app_context(), db.transaction() as s:
        assert review.alert_overdue(s, later) >= 1
    assert (
        "peer_review_overdue",
        {"id": ids[4], "week": "2002-W19"},
        realtime.user_room(r.qa.id),
    ) in emitted
    with app.app_context(), db.transaction() as s:
        row = s.get_one(PeerReview, ids[4])
        assert row.overdue_alerted_at is not None
        count = len(emitted)
        review.alert_overdue(s, later + timedelta(hours=1))
    assert not any(data.get("id") == ids[4] for _n, data, _t in emitted[count:])
    with app.app_context(), db.transaction() as s:
        s.get_one(PeerReview, ids[4]).due_at = utcnow() - timedelta(minutes=1)
    with app.app_context(), db.transaction() as s:
        qa_principal = user_principal(s.get_one(User, r.qa.id), "session")
        assert ids[4] in [p.id for p in review.overdue(s, qa_principal)]
    assert client.get("/api/v1/qc/peer-review", headers=r.headers["qa"]).get_json()["overdue"] == 1


def test_review_pages_for_the_reviewer_and_the_qa_physician(
    app: Flask, session: Session, world: World
) -> None:
    r = region(session, facilities=1)
    (place,) = r.facilities
    author = radiologist(session, world.hospital_x)
    senior = radiologist(session, world.hospital_x, years=14)
    other = radiologist(session, world.hospital_x)
    study = read_study(
        session, place, author, r.clinicians[place.id], completed_at=at("2002-09-02 09:00")
    ).study_id
    (pending, late) = _assign(
        session,
        "2002-W36",
        [
            _report(session, study),
            _report(
                session,
                read_study(
                    session,
                    place,
                    author,
                    r.clinicians[place.id],
                    completed_at=at("2002-09-03 09:00"),
                ).study_id,
            ),
        ],
        senior,
    )
    late_row = session.get_one(PeerReview, late)
    late_row.due_at = utcnow() - timedelta(days=1)
    late_report = late_row.report_id
    gp_name = r.clinicians[place.id].username
    session.commit()  # from here the test's session stays idle (SQLite: no open write lock)
    reviewer = log_in(app, senior.username)
    assert "Peer reviews to score" in page(reviewer, "/home")
    listed = page(reviewer, "/reading/qc/reviews")
    assert f'data-review="{pending}"' in listed
    form = page(reviewer, f"/reading/qc/reviews/{pending}")
    assert 'id="review-form"' in form and "Opacity in the right lower lobe." in form
    page(log_in(app, other.username), f"/reading/qc/reviews/{pending}", 404)
    assert "Peer reviews go to senior radiologists" in page(
        log_in(app, other.username), "/reading/qc/reviews"
    )
    qa = log_in(app, r.qa.username)
    home = page(qa, "/home")
    assert "Overdue peer reviews" in home and "/reading/qc/" in home
    dash = page(qa, "/reading/qc/")
    assert f"Review of report #{late_report}" in dash
    page(log_in(app, gp_name), "/reading/qc/reviews", 403)


def test_the_jobs_are_on_the_beat(app: Flask) -> None:
    schedule = app.extensions["celery"].conf.beat_schedule
    assert schedule["reading-qc-weekly-sample"]["task"] == "imaging.reading.qc.weekly_sample"
    assert schedule["reading-qc-overdue"]["task"] == "imaging.reading.qc.overdue_reviews"
    assert f.PASSWORD
