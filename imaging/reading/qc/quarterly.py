"""The quarterly high-risk monitoring report (SEEDS 004: high-risk factors monitored at least
quarterly; case registration checked as authentic and timely): discordant readings, critical
results acknowledged late or never, the category-1 time to acknowledge (median and 90th
centile), and registrations entered late or edited after the report; shown as a page and
signed as a PDF by a QA physician."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents import services as documents
from hub.documents import workflow
from hub.documents.facts import signer_facts
from hub.documents.registry import DocumentKind, SignatureSlot
from hub.documents.text import Labels
from hub.errors import Conflict, ValidationFailed
from hub.models import AuditEvent, Facility, MacroRegion, Patient, SignedDocument, User, utcnow
from imaging.models import ImagingReport, ReportStatus, Study
from imaging.reading.models import CriticalResult, ReadingRequest
from imaging.reading.qc.access import facility_in_scope, qa_region, require_qa
from imaging.reading.qc.models import Agreement, FollowUp, QuarterReport
from imaging.reading.qc.text import TEXT

QUARTERLY = DocumentKind(
    code="qc_quarterly_report",
    subject_type="qc_quarter",
    template="documents/qc_quarterly_report.html",
    attachment_name="qc-quarterly-report.json",
    author=SignatureSlot("QA physician", "sig-author"),
    title=_l("Quarterly high-risk monitoring report"),
)
# A registration is late when the patient was registered this long after the images arrived.
LATE_REGISTRATION = timedelta(hours=24)
LISTED = 500
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def parse_quarter(text: str) -> tuple[datetime, datetime]:
    """The instants [first day 00:00 UTC, first day of the next quarter) of ``YYYY-Qn``."""
    match = _QUARTER.match(text)
    if match is None:
        raise ValidationFailed("Give the quarter as YYYY-Qn, e.g. 2026-Q4.", code="bad_quarter")
    year, number = int(match[1]), int(match[2])
    start = date(year, 3 * number - 2, 1)
    end = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return datetime.combine(start, time(), tzinfo=UTC), datetime.combine(end, time(), tzinfo=UTC)


def quarter_of(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def centile(values: list[float], which: int) -> float | None:
    """The ``which``-th centile (inclusive method); None without values."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(cuts[which - 1], 1)


@dataclass
class Figures:
    quarter: str
    start: datetime
    end: datetime
    discordances: list[dict[str, Any]] = field(default_factory=list)
    critical_late: list[dict[str, Any]] = field(default_factory=list)
    category1_acknowledged: int = 0
    category1_p50_minutes: float | None = None
    category1_p90_minutes: float | None = None
    registrations: list[dict[str, Any]] = field(default_factory=list)

    def as_data(self) -> dict[str, Any]:
        return {
            "quarter": self.quarter,
            "from": self.start.date().isoformat(),
            "to": (self.end - timedelta(days=1)).date().isoformat(),
            "discordances": self.discordances,
            "critical_late": self.critical_late,
            "category1": {
                "acknowledged": self.category1_acknowledged,
                "p50_minutes": self.category1_p50_minutes,
                "p90_minutes": self.category1_p90_minutes,
            },
            "registrations": self.registrations,
        }


def compute(session: Session, principal: Principal, quarter: str) -> Figures:
    """The quarter's high-risk figures within the QA reader's region; audited."""
    action = "imaging:qc:quarterly_viewed"
    require_qa(principal, action)
    start, end = parse_quarter(quarter)
    out = Figures(quarter, start, end)
    scope = facility_in_scope(principal, ReadingRequest.facility_id)
    for follow_up, request, facility in session.execute(
        select(FollowUp, ReadingRequest, Facility)
        .join(ReadingRequest, ReadingRequest.id == FollowUp.request_id)
        .join(Facility, Facility.id == ReadingRequest.facility_id)
        .where(
            FollowUp.agreement != Agreement.CONCORDANT,
            FollowUp.recorded_at >= start,
            FollowUp.recorded_at < end,
            scope,
        )
        .order_by(FollowUp.recorded_at)
        .limit(LISTED)
    ):
        out.discordances.append(
            {
                "request_id": request.id,
                "facility": facility.code,
                "agreement": follow_up.agreement.value,
                "source": follow_up.source.value,
                "recorded_at": _aware(follow_up.recorded_at).isoformat(),
            }
        )
    now = utcnow()
    tta: list[float] = []
    for result, facility in session.execute(
        select(CriticalResult, Facility)
        .join(ReadingRequest, ReadingRequest.id == CriticalResult.request_id)
        .join(Facility, Facility.id == ReadingRequest.facility_id)
        .where(CriticalResult.raised_at >= start, CriticalResult.raised_at < end, scope)
        .order_by(CriticalResult.raised_at)
    ):
        due = _aware(result.ack_due_at)
        acked = _aware(result.acknowledged_at) if result.acknowledged_at else None
        if result.category == 1 and acked is not None:
            tta.append((acked - _aware(result.raised_at)).total_seconds() / 60)
        late = acked is not None and acked > due
        never = acked is None and due < now
        if (late or never) and len(out.critical_late) < LISTED:
            out.critical_late.append(
                {
                    "result_id": result.id,
                    "request_id": result.request_id,
                    "facility": facility.code,
                    "category": result.category,
                    "outcome": "late" if late else "never",
                    "minutes_late": round(((acked or now) - due).total_seconds() / 60),
                    "escalation_level": result.escalation_level,
                }
            )
    out.category1_acknowledged = len(tta)
    out.category1_p50_minutes = centile(tta, 50)
    out.category1_p90_minutes = centile(tta, 90)
    out.registrations = _registrations(session, principal, start, end)
    audit.record(
        session,
        principal,
        action,
        object_type="qc_quarter",
        object_id=quarter,
        details={
            "discordances": len(out.discordances),
            "critical_late": len(out.critical_late),
            "registrations": len(out.registrations),
        },
    )
    return out


def _registrations(
    session: Session, principal: Principal, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Readings of the quarter whose patient was registered late, or edited after the report."""
    flagged: list[dict[str, Any]] = []
    rows = session.execute(
        select(ReadingRequest, Study, Patient, ImagingReport, Facility)
        .join(Study, Study.id == ReadingRequest.study_id)
        .join(Facility, Facility.id == ReadingRequest.facility_id)
        .join(Patient, Patient.id == Study.patient_id)
        .outerjoin(ImagingReport, ImagingReport.study_id == Study.id)
        .where(
            ReadingRequest.created_at >= start,
            ReadingRequest.created_at < end,
            facility_in_scope(principal, ReadingRequest.facility_id),
        )
        .order_by(ReadingRequest.id)
    ).all()
    for request, study, patient, report, facility in rows:
        reasons = []
        if _aware(patient.created_at) > _aware(study.received_at) + LATE_REGISTRATION:
            reasons.append("registered_late")
        if report is not None and report.status is ReportStatus.SIGNED and report.signed_at:
            edited = session.scalar(
                select(AuditEvent.occurred_at)
                .where(
                    AuditEvent.action == "hub:patient:updated",
                    AuditEvent.outcome == "ok",
                    AuditEvent.object_type == "patient",
                    AuditEvent.object_id == str(patient.id),
                    AuditEvent.occurred_at > report.signed_at,
                )
                .limit(1)
            )
            if edited is not None:
                reasons.append("edited_after_report")
        if reasons and len(flagged) < LISTED:
            flagged.append(
                {"request_id": request.id, "facility": facility.code, "reasons": reasons}
            )
    return flagged


def _row(session: Session, principal: Principal, quarter: str) -> QuarterReport | None:
    region = qa_region(principal)
    return session.scalar(
        select(QuarterReport).where(
            QuarterReport.quarter == quarter,
            QuarterReport.region_id.is_(None)
            if region is None
            else QuarterReport.region_id == region,
        )
    )


def signed_document(session: Session, principal: Principal, quarter: str) -> SignedDocument | None:
    row = _row(session, principal, quarter)
    return documents.find(session, QUARTERLY, row.id) if row is not None else None


def _content(
    session: Session, principal: Principal, figures: Figures, author: User, locale: str
) -> documents.Content:
    region = qa_region(principal)
    region_row = session.get(MacroRegion, region) if region is not None else None
    labels = Labels(locale, TEXT)
    data = {**figures.as_data(), "region": region_row.code if region_row else None}
    context: dict[str, Any] = {
        "hub_name": labels.hub_name,
        "figures": data,
        "region": region_row.name if region_row else None,
        "signers": {"author": signer_facts(author)},
        "signature_roles": {"author": labels.qa_physician},
    }
    return documents.Content(
        context=context,
        payload={"report": data, "qa_physician": signer_facts(author)},
        labels=labels,
        patient_id=None,
        location=region_row.name if region_row else labels.hub_name,
    )


def _subject(
    session: Session, principal: Principal, row: QuarterReport, figures: Figures, author: User
) -> workflow.Subject:
    return workflow.Subject(
        kind=QUARTERLY,
        id=row.id,
        object_type="qc_quarter",
        audit_as="imaging:qc_quarterly",
        content=lambda locale: _content(session, principal, figures, author, locale),
        audit_details={"quarter": row.quarter},
    )


def sign(
    session: Session, settings: Settings, principal: Principal, quarter: str, locale: str | None
) -> SignedDocument:
    """A QA physician signs a finished quarter's report (PAdES); it never changes afterwards."""
    figures = compute(session, principal, quarter)
    if figures.end > utcnow():
        raise Conflict("The quarter is not over yet; sign its report after it ends.", code="open")
    row = _row(session, principal, quarter)
    if row is None:
        row = QuarterReport(
            quarter=quarter, region_id=qa_region(principal), created_by_id=principal.user_id
        )
        session.add(row)
        session.flush()
    author = session.get_one(User, principal.user_id)
    subject = _subject(session, principal, row, figures, author)
    doc = workflow.sign(
        session,
        settings,
        principal,
        subject,
        author=author,
        locale=locale,
        reader_locale=author.locale,
    )
    workflow.audit_signed(session, principal, subject, doc)
    return doc


def pdf(
    session: Session, settings: Settings, principal: Principal, quarter: str, locale: str | None
) -> tuple[bytes, bool]:
    """The quarter's signed report as stored, or an unsigned draft of the figures now."""
    figures = compute(session, principal, quarter)
    row = _row(session, principal, quarter) or QuarterReport(
        id=0, quarter=quarter, region_id=qa_region(principal), created_by_id=principal.user_id
    )
    author = session.get_one(User, principal.user_id)
    return workflow.pdf(
        session,
        settings,
        principal,
        _subject(session, principal, row, figures, author),
        locale=locale,
        reader_locale=author.locale,
    )
