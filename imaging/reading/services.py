"""The radiologist's imaging report: written as a draft, signed (PAdES) by its author, received
(countersigned) by a clinician of the facility that sent the study; kept 10 years (SEEDS 000).

The hub core renders, signs and verifies (hub.documents); this module decides who writes and
signs which report, and audits every step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit, hooks
from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents import services as documents
from hub.documents import workflow
from hub.documents.facts import patient_facts, signer_facts
from hub.documents.registry import DocumentKind, SignatureSlot
from hub.documents.text import Labels
from hub.errors import AccessDenied, Conflict, NotFound
from hub.models import Facility, Role, SignedDocument, User, utcnow
from hub.permissions import REQUESTER_ROLES, require
from imaging import services
from imaging.models import ImagingReport, ReportStatus, Study
from imaging.reading import archive_copy, fhir
from imaging.reading.models import (
    CriticalResult,
    CriticalStatus,
    ReadingRequest,
    ReadingSite,
    ReadingStatus,
)
from imaging.reading.schemas import AmendIn, ReportFacts, ReportIn, ReportVersion
from imaging.reading.text import TEXT

REPORT = DocumentKind(
    code="imaging_report",
    subject_type="study",
    template="documents/imaging_report.html",
    attachment_name="imaging-report.json",
    author=SignatureSlot("Radiologist", "sig-author"),
    countersigner=SignatureSlot("Receiver", "sig-counter"),
    title=_l("Imaging report"),
)
# An amendment is its own document (about the report version, not the study), so the signed
# original keeps its document and its verification code untouched.
AMENDMENT = DocumentKind(
    code="imaging_report_amendment",
    subject_type="imaging_report",
    template="documents/imaging_report.html",
    attachment_name="imaging-report.json",
    author=SignatureSlot("Radiologist", "sig-author"),
    countersigner=SignatureSlot("Receiver", "sig-counter"),
    title=_l("Amended imaging report"),
)
AUTHORS = frozenset({Role.RADIOLOGIST})
# Who receives the report for the sending facility: its health workers, as for consults.
RECEIVERS = REQUESTER_ROLES


def current(session: Session, study: Study) -> ImagingReport | None:
    """The study's current report, its newest version, unchecked: for a caller that has
    checked access to the study."""
    return session.scalar(
        select(ImagingReport)
        .where(ImagingReport.study_id == study.id)
        .order_by(ImagingReport.version.desc())
        .limit(1)
    )


def _versions(session: Session, study_id: int) -> list[ImagingReport]:
    return list(
        session.scalars(
            select(ImagingReport)
            .where(ImagingReport.study_id == study_id)
            .order_by(ImagingReport.version)
        )
    )


def _latest_signed(session: Session, study_id: int) -> ImagingReport | None:
    return session.scalar(
        select(ImagingReport)
        .where(ImagingReport.study_id == study_id, ImagingReport.status == ReportStatus.SIGNED)
        .order_by(ImagingReport.version.desc())
        .limit(1)
    )


def get(session: Session, principal: Principal, study_uid: str) -> ImagingReport:
    """The report of a study the caller may see; audited."""
    study = services.get_study(session, principal, study_uid, purpose="viewed", audited=False)
    report = current(session, study)
    if report is None:
        raise NotFound("This study has no report yet.", code="no_report")
    audit.record(
        session,
        principal,
        "imaging:report:viewed",
        object_type="study",
        object_id=study.id,
        details={"patient_id": study.patient_id},
    )
    return report


def write(
    session: Session, principal: Principal, study_uid: str, data: ReportIn
) -> tuple[ImagingReport, bool]:
    """Create or change the draft; only its author changes it, and never once signed."""
    action = "imaging:report:written"
    require(principal, "imaging:write", roles=AUTHORS, action=action)
    study = services.get_study(session, principal, study_uid, purpose="viewed", audited=False)
    report = current(session, study)
    created = report is None
    if report is None:
        report = ImagingReport(
            study_id=study.id, author_id=principal.user_id, status=ReportStatus.DRAFT
        )
        session.add(report)
    elif report.author_id != principal.user_id:
        raise AccessDenied(
            "Another radiologist is writing this study's report.",
            action=action,
            object_type="study",
            object_id=study.id,
        )
    elif report.status is ReportStatus.SIGNED:
        raise Conflict(
            "This report is signed; a signed report never changes. Amend it instead: the "
            "amendment is a new version and the signed report is kept.",
            code="signed",
            details={"amend": f"/api/v1/studies/{study.study_instance_uid}/report/amend"},
        )
    report.findings, report.impression, report.critical = (
        data.findings,
        data.impression,
        data.critical,
    )
    report.updated_at = utcnow()
    try:
        session.flush()
    except IntegrityError:
        # Two radiologists started the same study's report at once; the first one has it.
        raise Conflict("This study's report was just started by someone else.") from None
    audit.record(
        session,
        principal,
        action,
        object_type="study",
        object_id=study.id,
        details={"patient_id": study.patient_id, "created": created, "critical": data.critical},
    )
    return report, created


def amend(session: Session, principal: Principal, study_uid: str, data: AmendIn) -> ImagingReport:
    """Start an amendment of the signed report: a new draft version, by a radiologist who may
    read the study, with the reason; the signed version is never touched."""
    action = "imaging:report:amended"
    require(principal, "imaging:write", roles=AUTHORS, action=action)
    study = services.get_study(session, principal, study_uid, purpose="viewed", audited=False)
    newest = current(session, study)
    if newest is None:
        raise Conflict("This study has no report to amend.", code="no_report")
    if newest.status is not ReportStatus.SIGNED:
        raise Conflict(
            "The report's newest version is a draft: change or sign it instead.",
            code="draft_open",
            details={"version": newest.version},
        )
    report = ImagingReport(
        study_id=study.id,
        version=newest.version + 1,
        supersedes_id=newest.id,
        amendment_reason=data.reason,
        author_id=principal.user_id,
        status=ReportStatus.DRAFT,
        findings=data.findings if data.findings is not None else newest.findings,
        impression=data.impression if data.impression is not None else newest.impression,
        critical=data.critical if data.critical is not None else newest.critical,
    )
    session.add(report)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("Someone else has just started an amendment of this report.") from None
    audit.record(
        session,
        principal,
        action,
        object_type="study",
        object_id=study.id,
        details={"patient_id": study.patient_id, "version": report.version},
    )
    return report


def versions(session: Session, principal: Principal, study_uid: str) -> list[ReportVersion]:
    """Every version of the study's report, oldest first, with what became of it; the caller
    has read the report (``get``), which audited the read."""
    study = services.get_study(session, principal, study_uid, purpose="viewed", audited=False)
    return version_list(session, study.id)


def version_list(session: Session, study_id: int) -> list[ReportVersion]:
    """The versions of a study's report, unchecked: for a caller that has checked the study."""
    rows = _versions(session, study_id)
    out = []
    for row in rows:
        doc = documents.find(session, *_document_key(row))
        newer_signed = any(
            r.version > row.version and r.status is ReportStatus.SIGNED for r in rows
        )
        state: Literal["draft", "signed", "superseded"] = (
            "draft" if row.status is ReportStatus.DRAFT else "signed"
        )
        if state == "signed" and newer_signed:
            state = "superseded"
        out.append(
            ReportVersion(
                version=row.version,
                state=state,
                author_id=row.author_id,
                signed_at=row.signed_at,
                amendment_reason=row.amendment_reason,
                document_id=doc.public_id if doc is not None else None,
                countersigned_at=doc.countersigned_at if doc is not None else None,
            )
        )
    return out


def _document_key(report: ImagingReport) -> tuple[DocumentKind, int]:
    """The first version is the study's report document; each amendment is its own."""
    if report.version == 1:
        return REPORT, report.study_id
    return AMENDMENT, report.id


def content(session: Session, report: ImagingReport, locale: str) -> documents.Content:
    """Template context and machine-readable data of the report."""
    study = report.study
    patient = study.patient
    if patient is None:
        raise Conflict(
            "Link the study to a registered patient before its report is signed.",
            code="no_patient",
        )
    author = session.get_one(User, report.author_id)
    modalities = sorted({s.modality for s in study.series if s.modality})
    patient_data = patient_facts(patient)
    study_data = {
        "uid": study.study_instance_uid,
        "date": study.study_date.isoformat() if study.study_date else None,
        "modalities": modalities,
        "description": study.description,
        "accession": study.accession_number,
        "facility": study.facility.name,
    }
    report_data: dict[str, Any] = {
        "findings": report.findings,
        "impression": report.impression,
        "critical": report.critical,
        "version": report.version,
    }
    if report.supersedes_id is not None:
        replaced = session.get_one(ImagingReport, report.supersedes_id)
        report_data["amendment"] = {
            "reason": report.amendment_reason,
            "replaces_version": replaced.version,
            "replaces_signed_at": replaced.signed_at.isoformat() if replaced.signed_at else None,
        }
    labels = Labels(locale, TEXT)
    context: dict[str, Any] = {
        "hub_name": labels.hub_name,
        "patient": patient_data,
        "study": study_data,
        "report": report_data,
        # The receiver is known only when they countersign; the slot names the facility.
        "signers": {
            "author": signer_facts(author),
            "counter": {"name": "", "licence": None, "facility": study.facility.name},
        },
        "signature_roles": {"author": labels.radiologist, "counter": labels.receiver},
    }
    payload = {
        "patient": patient_data,
        "study": study_data,
        "report": report_data,
        "radiologist": signer_facts(author),
    }
    location = author.facility.name if author.facility else ""
    return documents.Content(
        context=context, payload=payload, labels=labels, patient_id=patient.id, location=location
    )


def _subject(session: Session, report: ImagingReport) -> workflow.Subject:
    kind, subject_id = _document_key(report)
    details: dict[str, Any] = {"patient_id": report.study.patient_id}
    if report.version > 1:
        details.update(study_id=report.study_id, version=report.version)
    return workflow.Subject(
        kind=kind,
        id=subject_id,
        object_type="study" if report.version == 1 else "imaging_report",
        audit_as="imaging:report",
        content=lambda locale: content(session, report, locale),
        audit_details=details,
    )


def sign(
    session: Session, settings: Settings, principal: Principal, study_uid: str, locale: str | None
) -> SignedDocument:
    """The report's author signs it; from then on it never changes."""
    action = "imaging:report:signed"
    require(principal, "imaging:write", roles=AUTHORS, action=action)
    study = services.get_study(session, principal, study_uid, purpose="viewed", audited=False)
    report = current(session, study)
    if report is None:
        raise Conflict("Write the report before signing it.", code="no_report")
    if report.author_id != principal.user_id:
        raise AccessDenied(
            "Only the radiologist who wrote this report signs it.",
            action=action,
            object_type="study",
            object_id=study.id,
        )
    author = session.get_one(User, principal.user_id)
    subject = _subject(session, report)
    doc = workflow.sign(
        session,
        settings,
        principal,
        subject,
        author=author,
        locale=locale,
        reader_locale=author.locale,
    )
    report.status = ReportStatus.SIGNED
    report.signed_at = doc.certified_at
    archive_copy.queue(session, report, doc)
    if report.version > 1:
        # An amendment corrects a report already billed and already returned: nothing more
        # to bill or complete, but the sending facility must see that it changed.
        workflow.audit_signed(session, principal, subject, doc)
        return doc
    # Billing (insurance) and other packages act in this same transaction.
    signed = hooks.SignedService(
        service_type=REPORT.code,
        service_id=study.id,
        document_id=doc.public_id,
        patient_id=study.patient_id,
        facility_id=author.facility_id or study.facility_id,
        service_at=doc.certified_at,
        signer_user_id=author.id,
    )
    hooks.imaging_report_signed.run(session, principal, signed)
    workflow.audit_signed(session, principal, subject, doc)
    return doc


def countersign(
    session: Session, settings: Settings, principal: Principal, study_uid: str
) -> SignedDocument:
    """A clinician of the facility that sent the study acknowledges the signed report."""
    action = "imaging:report:countersigned"
    require(principal, "imaging:write", roles=RECEIVERS, action=action)
    study = services.get_study(session, principal, study_uid, purpose="viewed", audited=False)
    if principal.facility_id != study.facility_id:
        raise AccessDenied(
            "Only a clinician of the facility that sent the study receives its report.",
            action=action,
            object_type="study",
            object_id=study.id,
        )
    report = _latest_signed(session, study.id)
    if report is None:
        raise Conflict("The radiologist has not signed this report yet.", code="not_signed")
    return workflow.countersign(
        session,
        settings,
        principal,
        _subject(session, report),
        not_signed="The radiologist has not signed this report yet.",
        location=lambda _signer: study.facility.name,
    )


def signed_pdf(session: Session, study_id: int) -> bytes | None:
    """The study's signed report as stored (latest revision), for its CD package; None if none.

    The caller has checked access to the study and audited the export."""
    report = _latest_signed(session, study_id)
    doc = documents.find(session, *_document_key(report)) if report is not None else None
    return documents.latest_revision(session, doc).pdf if doc is not None else None


def pdf(
    session: Session,
    settings: Settings,
    principal: Principal,
    study_uid: str,
    locale: str | None,
    version: int | None = None,
) -> tuple[bytes, bool]:
    """The signed report as stored, or an unsigned draft; (bytes, signed). The newest version
    unless ``version`` names an earlier one (a superseded report stays downloadable)."""
    report = get(session, principal, study_uid)
    if version is not None:
        chosen = session.scalar(
            select(ImagingReport).where(
                ImagingReport.study_id == report.study_id, ImagingReport.version == version
            )
        )
        if chosen is None:
            raise NotFound("This report has no such version.", code="no_version")
        report = chosen
    reader = session.get(User, principal.user_id) if principal.user_id else None
    return workflow.pdf(
        session,
        settings,
        principal,
        _subject(session, report),
        locale=locale,
        reader_locale=reader.locale if reader else None,
    )


def report_facts(session: Session, study_id: int) -> ReportFacts | None:
    """A study's report facts, unchecked: for the hub acting on its own (billing in the signing
    transaction or from the outbox); None when the study does not exist."""
    study = session.get(Study, study_id)
    if study is None:
        return None
    # The reading is billed once, as first signed; an amendment changes nothing for billing.
    report = session.scalar(
        select(ImagingReport)
        .where(ImagingReport.study_id == study.id)
        .order_by(ImagingReport.version)
        .limit(1)
    )
    author = session.get(User, report.author_id) if report is not None else None
    signed = report is not None and report.status is ReportStatus.SIGNED
    return ReportFacts(
        study_id=study.id,
        patient_id=study.patient_id,
        study_facility_id=study.facility_id,
        author_facility_id=author.facility_id if author is not None else None,
        signed_at=(report.signed_at or utcnow()) if report is not None and signed else None,
        modalities=tuple(s.modality for s in study.series if s.modality),
    )


# --- figures for the command centre's progress reports (counts only, no patient data) --------


class ReadingVolume(NamedTuple):
    """A facility's reading requests in a period, and its critical results: raised, and
    acknowledged within their category's window."""

    requests: int
    critical: int
    critical_in_window: int


def volume_by_facility(
    session: Session, facility_ids: list[int], start: datetime, end: datetime
) -> dict[int, ReadingVolume]:
    """Per sending facility, reading requests created and critical results raised in
    ``[start, end)``."""
    if not facility_ids:
        return {}
    requests = dict(
        session.execute(
            select(ReadingRequest.facility_id, func.count())
            .where(
                ReadingRequest.facility_id.in_(facility_ids),
                ReadingRequest.created_at >= start,
                ReadingRequest.created_at < end,
            )
            .group_by(ReadingRequest.facility_id)
        ).all()
    )
    in_window = CriticalResult.acknowledged_at.is_not(None) & (
        CriticalResult.acknowledged_at <= CriticalResult.ack_due_at
    )
    critical = {
        fid: (int(n), int(ok or 0))
        for fid, n, ok in session.execute(
            select(
                ReadingRequest.facility_id,
                func.count(),
                func.sum(case((in_window, 1), else_=0)),
            )
            .join(ReadingRequest, ReadingRequest.id == CriticalResult.request_id)
            .where(
                ReadingRequest.facility_id.in_(facility_ids),
                CriticalResult.raised_at >= start,
                CriticalResult.raised_at < end,
            )
            .group_by(ReadingRequest.facility_id)
        )
    }
    return {
        fid: ReadingVolume(int(requests.get(fid, 0)), *critical.get(fid, (0, 0)))
        for fid in set(requests) | set(critical)
    }


def licensed_reading_sites(session: Session, facility_ids: list[int]) -> set[int]:
    """The facilities licensed to read images for others (SEEDS 001 step 3, teleradiology)."""
    if not facility_ids:
        return set()
    return set(
        session.scalars(
            select(ReadingSite.facility_id).where(
                ReadingSite.facility_id.in_(facility_ids), ReadingSite.licensed.is_(True)
            )
        )
    )


def fhir_report(session: Session, principal: Principal, study_uid: str) -> dict[str, Any]:
    """The newest signed version of the report as a FHIR DiagnosticReport (with its signed
    PDF), else the draft as preliminary without a PDF; the read is audited by ``get``."""
    newest = get(session, principal, study_uid)
    report = _latest_signed(session, newest.study_id) or newest
    signed = report.status is ReportStatus.SIGNED
    doc = documents.find(session, *_document_key(report)) if signed else None
    pdf_bytes = documents.latest_revision(session, doc).pdf if doc is not None else None
    author = session.get_one(User, report.author_id)
    return fhir.diagnostic_report(
        study_uid=report.study.study_instance_uid,
        version=report.version,
        signed=signed,
        findings=report.findings,
        impression=report.impression,
        issued=report.signed_at,
        patient_id=report.study.patient_id,
        radiologist=author.full_name,
        radiologist_licence=author.licence_number,
        facility=report.study.facility.name,
        pdf=pdf_bytes,
        document_id=doc.public_id if doc is not None else None,
    )


class RegionReading(NamedTuple):
    """Counts for the command board: no patient details."""

    open_requests: int  # scheduled or in progress
    overdue_requests: int  # of those, past their reading deadline
    unacknowledged_critical: int  # raised and not yet acknowledged (open or escalated)


def region_reading(
    session: Session, region_id: int | None, now: datetime | None = None
) -> RegionReading:
    """Open reading requests and unacknowledged critical results of the facilities of a region
    (every region: None), counted by the database (read-only; the caller checks who asks)."""
    now = now or utcnow()
    in_region = Facility.region_id == region_id if region_id is not None else true()
    open_, overdue = session.execute(
        select(func.count(), func.sum(case((ReadingRequest.due_at < now, 1), else_=0)))
        .join(Facility, Facility.id == ReadingRequest.facility_id)
        .where(
            ReadingRequest.status.in_((ReadingStatus.SCHEDULED, ReadingStatus.IN_PROGRESS)),
            in_region,
        )
    ).one()
    critical = session.scalar(
        select(func.count())
        .select_from(CriticalResult)
        .join(ReadingRequest, ReadingRequest.id == CriticalResult.request_id)
        .join(Facility, Facility.id == ReadingRequest.facility_id)
        .where(CriticalResult.status != CriticalStatus.ACKNOWLEDGED, in_region)
    )
    return RegionReading(int(open_ or 0), int(overdue or 0), int(critical or 0))
