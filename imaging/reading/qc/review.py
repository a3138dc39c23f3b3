"""Weekly senior review (SEEDS 004): a share of each week's final reports, at least one per
reporting radiologist, is assigned to senior reviewers (10+ years), never to the report's
author, and scored on the RADPEER 2016 scale. Reviews left unscored past their window alert
the QA physicians of the study's region."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit, realtime
from hub.auth.principal import SYSTEM, Principal
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Facility, Role, User, utcnow
from hub.permissions import require
from hub.services.users import role_holders
from imaging.models import ImagingReport, ReportStatus, Study
from imaging.reading.qc.access import facility_in_scope, require_qa
from imaging.reading.qc.models import PeerReview, Reviewer, ReviewWeek
from imaging.reading.qc.schemas import PeerReviewIn

SENIOR_YEARS = 10
REVIEWERS = frozenset({Role.RADIOLOGIST})
EVENT = "peer_review_overdue"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Drawn:
    week: str
    reports: int  # final reports signed in the week
    assigned: list[PeerReview]
    already: bool  # the week had been drawn before: nothing changed
    unassignable: int  # reports whose only possible reviewer is their author


def parse_week(text: str) -> tuple[datetime, datetime]:
    """The instants [Monday 00:00 UTC, next Monday) of an ISO week ``YYYY-Www``."""
    match = _WEEK.match(text)
    if match is None:
        raise ValidationFailed("Give the week as YYYY-Www, e.g. 2026-W49.", code="bad_week")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ValidationFailed(f"{text} is not a week of its year.", code="bad_week") from None
    start = datetime.combine(monday, time(), tzinfo=UTC)
    return start, start + timedelta(days=7)


def week_of(moment: datetime) -> str:
    year, week, _day = moment.isocalendar()
    return f"{year}-W{week:02d}"


def seniors(session: Session) -> list[int]:
    """Active radiologists with 10 or more years of experience, by id."""
    return list(
        session.scalars(
            role_holders(Role.RADIOLOGIST)
            .join(Reviewer, Reviewer.user_id == User.id)
            .where(Reviewer.years_of_experience >= SENIOR_YEARS)
            .order_by(User.id)
        )
    )


def is_senior(session: Session, user_id: int | None) -> bool:
    row = session.get(Reviewer, user_id) if user_id is not None else None
    return row is not None and row.years_of_experience >= SENIOR_YEARS


def set_experience(session: Session, user_id: int, years: int) -> Reviewer:
    """Record a radiologist's years of experience (``hub qc reviewer``)."""
    if not 0 <= years <= 70:
        raise ValidationFailed("Years of experience are 0 to 70.", code="bad_years")
    row = session.get(Reviewer, user_id)
    if row is None:
        row = Reviewer(user_id=user_id, years_of_experience=years)
        session.add(row)
    row.years_of_experience, row.updated_at = years, utcnow()
    session.flush()
    return row


def draw(
    session: Session,
    week: str,
    *,
    share_percent: int,
    review_days: int,
    now: datetime | None = None,
) -> Drawn:
    """Assign the week's sample to senior reviewers; a week already drawn is left as it was."""
    start, end = parse_week(week)
    if not 1 <= share_percent <= 100:
        raise ValidationFailed("The review share is 1 to 100 percent.", code="bad_share")
    existing = session.get(ReviewWeek, week)
    if existing is not None:
        rows = list(session.scalars(select(PeerReview).where(PeerReview.week == week)))
        return Drawn(week, len(rows), rows, already=True, unassignable=0)
    reports = list(
        session.scalars(
            select(ImagingReport)
            .outerjoin(PeerReview, PeerReview.report_id == ImagingReport.id)
            .where(
                ImagingReport.status == ReportStatus.SIGNED,
                ImagingReport.signed_at >= start,
                ImagingReport.signed_at < end,
                PeerReview.id.is_(None),
            )
            .order_by(ImagingReport.id)
        )
    )
    pool = seniors(session)
    eligible = [r for r in reports if any(s != r.author_id for s in pool)]
    if reports and not eligible:
        raise Conflict(
            "No senior reviewer (10+ years) other than the authors is on record; record one "
            "with `hub qc reviewer` first.",
            code="no_senior_reviewer",
        )
    # The same week always draws the same sample (reproducible for an audit).
    rng = random.Random(week)  # noqa: S311 (a sample, not a secret)
    shuffled = eligible[:]
    rng.shuffle(shuffled)
    wanted = math.ceil(len(reports) * share_percent / 100)
    chosen: list[ImagingReport] = []
    for author in sorted({r.author_id for r in shuffled}):
        chosen.append(next(r for r in shuffled if r.author_id == author))
    chosen += [r for r in shuffled if r not in chosen][: max(0, wanted - len(chosen))]
    now = now or utcnow()
    session.add(ReviewWeek(week=week, share_percent=share_percent, drawn_at=now))
    session.flush()
    load = dict.fromkeys(pool, 0)
    assigned: list[PeerReview] = []
    for report in sorted(chosen, key=lambda r: r.id):
        reviewer = min((s for s in pool if s != report.author_id), key=lambda s: (load[s], s))
        load[reviewer] += 1
        row = PeerReview(
            week=week,
            report_id=report.id,
            author_id=report.author_id,
            reviewer_id=reviewer,
            assigned_at=now,
            due_at=now + timedelta(days=review_days),
        )
        session.add(row)
        assigned.append(row)
    session.flush()
    audit.record(
        session,
        SYSTEM,
        "imaging:qc:review_sample_drawn",
        object_type="review_week",
        object_id=week,
        details={"reports": len(reports), "assigned": [r.id for r in assigned]},
    )
    return Drawn(week, len(reports), assigned, False, len(reports) - len(eligible))


def _own(session: Session, principal: Principal, review_id: int, action: str) -> PeerReview:
    require(principal, "imaging:write", roles=REVIEWERS, action=action)
    review = session.get(PeerReview, review_id)
    if review is None:
        raise NotFound("Not found.")
    if review.reviewer_id != principal.user_id:
        raise AccessDenied(action=action, object_type="peer_review", object_id=review.id, hide=True)
    return review


def get(session: Session, principal: Principal, review_id: int) -> tuple[PeerReview, ImagingReport]:
    """A review assigned to the caller, with the report under review; audited."""
    action = "imaging:qc:review_viewed"
    review = _own(session, principal, review_id, action)
    report = session.get_one(ImagingReport, review.report_id)
    audit.record(
        session,
        principal,
        action,
        object_type="peer_review",
        object_id=review.id,
        details={"patient_id": report.study.patient_id},
    )
    return review, report


def score(session: Session, principal: Principal, review_id: int, data: PeerReviewIn) -> PeerReview:
    """The assigned senior reviewer scores the report (once)."""
    action = "imaging:qc:review_scored"
    review = _own(session, principal, review_id, action)
    if review.score is not None:
        raise Conflict("This review is already scored.", code="already_scored")
    review.score, review.comment, review.scored_at = data.score, data.comment, utcnow()
    report = session.get_one(ImagingReport, review.report_id)
    audit.record(
        session,
        principal,
        action,
        object_type="peer_review",
        object_id=review.id,
        details={"patient_id": report.study.patient_id, "score": data.score},
    )
    return review


def worklist(session: Session, principal: Principal) -> list[PeerReview]:
    """The caller's reviews: unscored first (earliest due), then the scored ones."""
    action = "imaging:qc:reviews_listed"
    require(principal, "imaging:read", roles=REVIEWERS, action=action)
    rows = list(
        session.scalars(
            select(PeerReview)
            .where(PeerReview.reviewer_id == principal.user_id)
            .order_by(PeerReview.scored_at.is_not(None), PeerReview.due_at, PeerReview.id)
            .limit(200)
        )
    )
    audit.record(
        session,
        principal,
        action,
        object_type="peer_review",
        details={"count": len(rows)},
    )
    return rows


def _study_facility(session: Session, review: PeerReview) -> Facility:
    report = session.get_one(ImagingReport, review.report_id)
    return report.study.facility


def overdue(
    session: Session, principal: Principal, now: datetime | None = None
) -> list[PeerReview]:
    """Unscored reviews past their due time, within the QA reader's region."""
    require_qa(principal, "imaging:qc:overdue_listed")
    return list(
        session.scalars(
            select(PeerReview)
            .join(ImagingReport, ImagingReport.id == PeerReview.report_id)
            .join(Study, Study.id == ImagingReport.study_id)
            .where(
                PeerReview.scored_at.is_(None),
                PeerReview.due_at < (now or utcnow()),
                facility_in_scope(principal, Study.facility_id),
            )
            .order_by(PeerReview.due_at)
            .limit(200)
        )
    )


def _qa_physicians(session: Session, region_id: int) -> list[int]:
    return list(session.scalars(role_holders(Role.QA_PHYSICIAN).where(User.region_id == region_id)))


def alert_overdue(session: Session, now: datetime | None = None) -> int:
    """Tell the QA physicians of each overdue review's region, once per review."""
    now = now or utcnow()
    due = list(
        session.scalars(
            select(PeerReview)
            .where(
                PeerReview.scored_at.is_(None),
                PeerReview.overdue_alerted_at.is_(None),
                PeerReview.due_at < now,
            )
            .order_by(PeerReview.id)
            .with_for_update(skip_locked=True)
        )
    )
    for review in due:
        review.overdue_alerted_at = now
        facility = _study_facility(session, review)
        rooms = [realtime.user_room(uid) for uid in _qa_physicians(session, facility.region_id)]
        if rooms:
            realtime.emit_after_commit(
                session, EVENT, {"id": review.id, "week": review.week}, rooms
            )
        audit.record(
            session,
            SYSTEM,
            "imaging:qc:review_overdue",
            object_type="peer_review",
            object_id=review.id,
            details={"region_id": facility.region_id, "reviewer_id": review.reviewer_id},
        )
    return len(due)
