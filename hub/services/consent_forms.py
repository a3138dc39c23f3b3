"""The telemedicine consent form: a signed PDF of one recorded consent.

The health worker who recorded the consent signs the form as its witness; the patient's own
signature, where given in writing, is on the paper kept at the facility (SEEDS 001 consent rule).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents import services as documents
from hub.documents import workflow
from hub.documents.consent_text import TEXT
from hub.documents.facts import patient_facts, signer_facts
from hub.documents.registry import DocumentKind, SignatureSlot
from hub.documents.text import Labels
from hub.errors import AccessDenied, Conflict, NotFound
from hub.models import Consent, SignedDocument, User
from hub.permissions import PATIENT_WRITERS, require
from hub.services.patients import get_patient

CONSENT_FORM = DocumentKind(
    code="telemedicine_consent",
    subject_type="consent",
    template="documents/consent_form.html",
    attachment_name="consent.json",
    author=SignatureSlot("Witness", "sig-author"),
    title=_l("Telemedicine consent form"),
)


def _consent(session: Session, principal: Principal, patient_id: int, consent_id: int) -> Consent:
    patient = get_patient(session, principal, patient_id)
    consent = session.scalar(
        select(Consent).where(Consent.id == consent_id, Consent.patient_id == patient.id)
    )
    if consent is None:
        raise NotFound("Not found.")
    return consent


def content(session: Session, consent: Consent, locale: str) -> documents.Content:
    """Template context and machine-readable data of the form."""
    patient = consent.patient
    recorder = session.get_one(User, consent.recorded_by_id)
    witness = signer_facts(recorder)
    patient_data = patient_facts(patient)
    consent_data = {
        "id": consent.id,
        "scope": consent.scope.value,
        "method": consent.method.value,
        "given_by": consent.given_by_name,
        "relationship": consent.relationship_to_patient,
        "given_at": consent.given_at.isoformat(),
    }
    labels = Labels(locale, TEXT)
    context: dict[str, Any] = {
        "hub_name": labels.hub_name,
        "patient": patient_data,
        "consent": {**consent_data, "given_at": f"{consent.given_at:%Y-%m-%d %H:%M} UTC"},
        "signers": {"author": witness},
        "signature_roles": {"author": labels.witness},
    }
    payload = {"patient": patient_data, "consent": consent_data, "witness": witness}
    return documents.Content(
        context=context,
        payload=payload,
        labels=labels,
        patient_id=patient.id,
        location=witness["facility"],
    )


def _subject(session: Session, consent: Consent) -> workflow.Subject:
    return workflow.Subject(
        kind=CONSENT_FORM,
        id=consent.id,
        object_type="consent",
        audit_as="hub:consent_form",
        content=lambda locale: content(session, consent, locale),
        audit_details={"patient_id": consent.patient_id},
    )


def sign(
    session: Session,
    settings: Settings,
    principal: Principal,
    patient_id: int,
    consent_id: int,
    locale: str | None = None,
) -> SignedDocument:
    """The health worker who recorded the consent signs its form (once)."""
    action = "hub:consent_form:signed"
    require(principal, "patients:write", roles=PATIENT_WRITERS, action=action)
    consent = _consent(session, principal, patient_id, consent_id)
    if consent.recorded_by_id != principal.user_id:
        raise AccessDenied(
            "Only the health worker who recorded this consent signs its form.",
            action=action,
            object_type="consent",
            object_id=consent.id,
        )
    if consent.withdrawn_at is not None:
        raise Conflict("This consent was withdrawn; its form is not signed.", code="withdrawn")
    author = session.get_one(User, principal.user_id)
    subject = _subject(session, consent)
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
    session: Session,
    settings: Settings,
    principal: Principal,
    patient_id: int,
    consent_id: int,
    locale: str | None = None,
) -> tuple[bytes, bool]:
    """The signed form as stored, or an unsigned draft; (bytes, signed)."""
    consent = _consent(session, principal, patient_id, consent_id)
    recorder = session.get_one(User, consent.recorded_by_id)
    return workflow.pdf(
        session,
        settings,
        principal,
        _subject(session, consent),
        locale=locale,
        reader_locale=recorder.locale,
    )
