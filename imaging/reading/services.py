"""The radiologist's imaging report: written as a draft, signed (PAdES) by its author, received
(countersigned) by a clinician of the facility that sent the study; kept 10 years (SEEDS 000).

The hub core renders, signs and verifies (hub.documents); this module decides who writes and
signs which report, and audits every step.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
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
from hub.models import Role, SignedDocument, User, utcnow
from hub.permissions import REQUESTER_ROLES, require
from imaging import services
from imaging.models import ImagingReport, ReportStatus, Study
from imaging.reading.schemas import ReportFacts, ReportIn
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
AUTHORS = frozenset({Role.RADIOLOGIST})
# Who receives the report for the sending facility: its health workers, as for consults.
RECEIVERS = REQUESTER_ROLES


def _report_of(session: Session, study: Study) -> ImagingReport | None:
    return session.scalar(select(ImagingReport).where(ImagingReport.study_id == study.id))


def get(session: Session, principal: Principal, study_uid: str) -> ImagingReport:
    """The report of a study the caller may see; audited."""
    study = services.get_study(session, principal, study_uid, purpose="viewed", audited=False)
    report = _report_of(session, study)
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
    report = _report_of(session, study)
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
        raise Conflict("This report is signed; a signed report never changes.", code="signed")
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
    report_data = {
        "findings": report.findings,
        "impression": report.impression,
        "critical": report.critical,
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
    return workflow.Subject(
        kind=REPORT,
        id=report.study_id,
        object_type="study",
        audit_as="imaging:report",
        content=lambda locale: content(session, report, locale),
        audit_details={"patient_id": report.study.patient_id},
    )


def sign(
    session: Session, settings: Settings, principal: Principal, study_uid: str, locale: str | None
) -> SignedDocument:
    """The report's author signs it; from then on it never changes."""
    action = "imaging:report:signed"
    require(principal, "imaging:write", roles=AUTHORS, action=action)
    study = services.get_study(session, principal, study_uid, purpose="viewed", audited=False)
    report = _report_of(session, study)
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
    report = _report_of(session, study)
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
    doc = documents.find(session, REPORT, study_id)
    return documents.latest_revision(session, doc).pdf if doc is not None else None


def pdf(
    session: Session, settings: Settings, principal: Principal, study_uid: str, locale: str | None
) -> tuple[bytes, bool]:
    """The signed report as stored, or an unsigned draft; (bytes, signed)."""
    report = get(session, principal, study_uid)
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
    report = _report_of(session, study)
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
