"""The quality figures (SEEDS 004): concordance with the final diagnosis, RADPEER agreement of
the senior reviews, and the image-quality excellent rate, per group and period. A rate over no
cases is None ("no data"), never 0."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, select, true
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.models import Facility, User, utcnow
from imaging.models import ImagingReport, Study
from imaging.reading.models import ReadingRequest
from imaging.reading.qc.access import facility_in_scope, require_qa
from imaging.reading.qc.models import Agreement, FollowUp, Grade, ImageQuality, PeerReview
from imaging.reading.qc.schemas import RADPEER_SCORES

DISCORDANT_LISTED = 500


@dataclass(frozen=True)
class Period:
    start: date | None
    end: date | None  # inclusive

    def clause(self, column: Any) -> ColumnElement[bool]:
        parts = []
        if self.start is not None:
            parts.append(column >= datetime.combine(self.start, time(), tzinfo=UTC))
        if self.end is not None:
            after = datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)
            parts.append(column < after)
        return and_(true(), *parts)


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _modality(study: Study) -> str:
    return "/".join(sorted({s.modality.upper() for s in study.series if s.modality})) or "?"


def _name(user: User | None) -> str:
    return f"{user.full_name} ({user.username})" if user is not None else "?"


def _concordance_row(key: str, counts: Counter[str]) -> dict[str, Any]:
    cases = sum(counts.values())
    return {
        "key": key,
        "cases": cases,
        "concordant": counts[Agreement.CONCORDANT.value],
        "missed": counts[Agreement.MISSED.value],
        "misdiagnosed": counts[Agreement.MISDIAGNOSED.value],
        "rate": rate(counts[Agreement.CONCORDANT.value], cases),
    }


def concordance(
    session: Session, principal: Principal, group_by: str, period: Period
) -> dict[str, Any]:
    """Concordance per radiologist, facility or modality over readings completed in the period,
    with the discordant (missed, misdiagnosed) cases for analysis."""
    action = "imaging:qc:concordance_viewed"
    require_qa(principal, action)
    rows = session.execute(
        select(FollowUp, ReadingRequest, Facility, User)
        .join(ReadingRequest, ReadingRequest.id == FollowUp.request_id)
        .join(Facility, Facility.id == ReadingRequest.facility_id)
        .outerjoin(User, User.id == ReadingRequest.assigned_to_id)
        .where(
            period.clause(ReadingRequest.completed_at),
            facility_in_scope(principal, ReadingRequest.facility_id),
        )
        .order_by(FollowUp.id)
    ).all()
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    discordant: list[dict[str, Any]] = []
    for follow_up, request, facility, reader in rows:
        modality = _modality(request.study)
        key = {
            "radiologist": _name(reader),
            "facility": f"{facility.name} ({facility.code})",
            "modality": modality,
        }[group_by]
        groups[key][follow_up.agreement.value] += 1
        total[follow_up.agreement.value] += 1
        if follow_up.agreement is not Agreement.CONCORDANT and len(discordant) < DISCORDANT_LISTED:
            report = session.scalar(
                select(ImagingReport)
                .where(ImagingReport.study_id == request.study_id)
                .order_by(ImagingReport.id.desc())
                .limit(1)
            )
            discordant.append(
                {
                    "request_id": request.id,
                    "study_instance_uid": request.study.study_instance_uid,
                    "facility": facility.code,
                    "radiologist": _name(reader),
                    "modality": modality,
                    "source": follow_up.source.value,
                    "agreement": follow_up.agreement.value,
                    "final_diagnosis": follow_up.final_diagnosis,
                    "impression": report.impression if report is not None else "",
                    "recorded_at": follow_up.recorded_at,
                }
            )
    audit.record(
        session,
        principal,
        action,
        object_type="qc_figures",
        details={
            "group_by": group_by,
            "cases": sum(total.values()),
            "request_ids": [d["request_id"] for d in discordant],
        },
    )
    return {
        "groups": [_concordance_row(k, groups[k]) for k in sorted(groups)],
        "total": _concordance_row("all", total),
        "discordant": discordant,
    }


def _quality_row(key: str, counts: Counter[str]) -> dict[str, Any]:
    rated = sum(counts.values())
    return {
        "key": key,
        "rated": rated,
        "excellent": counts[Grade.EXCELLENT.value],
        "acceptable": counts[Grade.ACCEPTABLE.value],
        "poor": counts[Grade.POOR.value],
        "rate": rate(counts[Grade.EXCELLENT.value], rated),
    }


def quality_rows(
    session: Session,
    group_by: str,
    period: Period,
    scope: ColumnElement[bool],
) -> dict[str, Any]:
    """Excellent rate per sending facility or device over grades given in the period."""
    rows = session.execute(
        select(ImageQuality.grade, ImageQuality.device, Facility.code, Facility.name)
        .join(ReadingRequest, ReadingRequest.id == ImageQuality.request_id)
        .join(Facility, Facility.id == ReadingRequest.facility_id)
        .where(period.clause(ImageQuality.graded_at), scope)
    ).all()
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    for grade, device, code, name in rows:
        key = f"{name} ({code})" if group_by == "facility" else f"{code} / {device or '?'}"
        groups[key][grade.value] += 1
        total[grade.value] += 1
    return {
        "groups": [_quality_row(k, groups[k]) for k in sorted(groups)],
        "total": _quality_row("all", total),
    }


def image_quality(
    session: Session, principal: Principal, group_by: str, period: Period
) -> dict[str, Any]:
    """The image-quality excellent rate for the QA reader's scope."""
    action = "imaging:qc:image_quality_viewed"
    require_qa(principal, action)
    figures = quality_rows(
        session, group_by, period, facility_in_scope(principal, ReadingRequest.facility_id)
    )
    audit.record(
        session,
        principal,
        action,
        object_type="qc_figures",
        details={"group_by": group_by, "rated": figures["total"]["rated"]},
    )
    return figures


def _peer_row(key: str, scores: Counter[str]) -> dict[str, Any]:
    cases = sum(scores.values())
    return {
        "key": key,
        "cases": cases,
        "scores": {s: scores[s] for s in RADPEER_SCORES},
        "significant": scores["2b"] + scores["3b"],
        "rate": rate(scores["1"], cases),
    }


def peer_review(session: Session, principal: Principal, period: Period) -> dict[str, Any]:
    """RADPEER agreement per reviewed radiologist over reviews scored in the period."""
    action = "imaging:qc:peer_review_viewed"
    require_qa(principal, action)
    scope = facility_in_scope(principal, Study.facility_id)
    base = (
        select(PeerReview, User)
        .join(ImagingReport, ImagingReport.id == PeerReview.report_id)
        .join(Study, Study.id == ImagingReport.study_id)
        .join(User, User.id == PeerReview.author_id)
        .where(scope)
    )
    scored = session.execute(
        base.where(PeerReview.scored_at.is_not(None), period.clause(PeerReview.scored_at))
    ).all()
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    for review, author in scored:
        groups[_name(author)][review.score or ""] += 1
        total[review.score or ""] += 1
    pending = session.execute(
        base.where(PeerReview.scored_at.is_(None), period.clause(PeerReview.assigned_at))
    ).all()
    now = utcnow()
    late = sum(1 for review, _author in pending if review.due_at < now)
    audit.record(
        session,
        principal,
        action,
        object_type="qc_figures",
        details={"scored": len(scored), "pending": len(pending)},
    )
    return {
        "groups": [_peer_row(k, groups[k]) for k in sorted(groups)],
        "total": _peer_row("all", total),
        "pending": len(pending),
        "overdue": late,
    }


def csv_rows(kind: str, figures: dict[str, Any]) -> Iterable[list[Any]]:
    """The figures as spreadsheet rows (header first) for the CSV export."""
    groups = [*figures["groups"], figures["total"]]
    if kind == "concordance":
        yield ["group", "cases", "concordant", "missed", "misdiagnosed", "rate"]
        for g in groups:
            yield [g["key"], g["cases"], g["concordant"], g["missed"], g["misdiagnosed"], g["rate"]]
    elif kind == "image-quality":
        yield ["group", "rated", "excellent", "acceptable", "poor", "rate"]
        for g in groups:
            yield [g["key"], g["rated"], g["excellent"], g["acceptable"], g["poor"], g["rate"]]
    else:
        yield ["radiologist", "scored", *RADPEER_SCORES, "significant", "agreement"]
        for g in groups:
            yield [g["key"], g["cases"], *g["scores"].values(), g["significant"], g["rate"]]
