"""Signed consult documents: the outcome, the e-prescription and the referral letter, certified by
the consultant and countersigned by the requesting health worker (SEEDS 001: "signed by both
sides").

The hub core renders, signs and verifies (hub.documents); this module decides who signs what,
builds each document's content, moves the consult to ``signed`` and audits every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult import lifecycle, services
from consult.assignment import add_event, move
from consult.document_text import TEXT, VITAL_NAMES
from consult.events import consult_changed
from consult.models import Consult, ConsultStatus, Disposition, Outcome, OutcomeStatus
from hub import audit, hooks
from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents import registry, workflow
from hub.documents import services as documents
from hub.documents.facts import patient_facts, signer_facts
from hub.documents.registry import DocumentKind, SignatureSlot
from hub.documents.text import Labels
from hub.errors import AccessDenied, Conflict, NotFound
from hub.models import Role, SignedDocument, User
from hub.permissions import REQUESTER_ROLES, has_scope, require

OUTCOME = DocumentKind(
    code="consult_outcome",
    subject_type="consult",
    template="documents/consult_outcome.html",
    attachment_name="consult-outcome.json",
    author=SignatureSlot("Consultant", "sig-author"),
    countersigner=SignatureSlot("Requester", "sig-counter"),
    title=_l("Consultation outcome"),
)
PRESCRIPTION = DocumentKind(
    code="e_prescription",
    subject_type="consult",
    template="documents/e_prescription.html",
    attachment_name="e-prescription.json",
    author=SignatureSlot("Prescriber", "sig-author"),
    countersigner=SignatureSlot("Requester", "sig-counter"),
    title=_l("E-prescription"),
)
# SEEDS 001: a referral to level 2/3 goes with a letter signed by both sides.
REFERRAL = DocumentKind(
    code="referral_letter",
    subject_type="consult",
    template="documents/referral_letter.html",
    attachment_name="referral-letter.json",
    author=SignatureSlot("Consultant", "sig-author"),
    countersigner=SignatureSlot("Requester", "sig-counter"),
    title=_l("Referral letter"),
)
# The word used in audit actions and file names for each kind.
NOUNS = {OUTCOME.code: "outcome", PRESCRIPTION.code: "prescription", REFERRAL.code: "referral"}
REFERRING = frozenset({Disposition.REFER, Disposition.TRANSFER_URGENTLY})


def _not_applicable(outcome: Outcome, kind: DocumentKind) -> tuple[str, str] | None:
    """(code, message) when the outcome gives this kind nothing to say, else None."""
    if kind is PRESCRIPTION and not outcome.prescription:
        return "no_prescription", "The outcome prescribes nothing."
    if kind is REFERRAL and outcome.disposition not in REFERRING:
        return "no_referral", "The outcome does not refer the patient."
    return None


def content(consult: Consult, kind: DocumentKind, locale: str) -> documents.Content:
    """Template context and machine-readable data of ``kind`` for this consult."""
    outcome = consult.outcome
    if outcome is None:
        raise NotFound("This consult has no outcome yet.", code="no_outcome")
    patient = consult.patient
    labels = Labels(locale, TEXT)
    author, requester = signer_facts(consult.assigned_to), signer_facts(consult.requester)
    patient_data = {**patient_facts(patient), "sex": patient.sex.value}
    consult_data = {
        "id": consult.id,
        "specialty": consult.specialty.code,
        "urgency": consult.urgency.value,
        "mode": consult.mode.value,
        "requested_at": (consult.submitted_at or consult.created_at).isoformat(),
    }
    lines = list(outcome.prescription)
    context: dict[str, Any] = {
        "hub_name": labels.hub_name,
        "patient": patient_data,
        "consult": {
            **consult_data,
            "specialty": consult.specialty.name,
            "requested_at": f"{consult.submitted_at or consult.created_at:%Y-%m-%d %H:%M} UTC",
            "question": consult.question,
            "history": consult.history,
            "vitals": [(VITAL_NAMES.get(k, k), v) for k, v in consult.vitals.items()],
        },
        "outcome": {
            "assessment": outcome.assessment,
            "recommendation": outcome.recommendation,
            "disposition": outcome.disposition.value,
            "prescription": lines,
            "tasks": [{"description": t.description, "due_on": t.due_on} for t in outcome.tasks],
        },
        "referral": {
            "to": labels.referred_to_value.format(specialty=consult.specialty.name),
            "kind": labels[f"disposition_{outcome.disposition.value}"],
        },
        "signers": {"author": author, "counter": requester},
        "signature_roles": {
            "author": labels.prescriber if kind is PRESCRIPTION else labels.consultant,
            "counter": labels.requester,
        },
    }
    payload: dict[str, Any] = {
        "patient": patient_data,
        "consult": consult_data,
        "requester": requester,
        "consultant": author,
    }
    if kind is PRESCRIPTION:
        payload["prescription"] = {"lines": lines}
    elif kind is REFERRAL:
        payload["referral"] = {
            "to": {"specialty": consult.specialty.code, "levels": [2, 3]},
            "urgent": outcome.disposition is Disposition.TRANSFER_URGENTLY,
            "disposition": outcome.disposition.value,
            "reason": outcome.assessment,
            "recommendation": outcome.recommendation,
        }
    else:
        payload["outcome"] = {
            "assessment": outcome.assessment,
            "recommendation": outcome.recommendation,
            "disposition": outcome.disposition.value,
            "prescription": lines,
            "follow_up_tasks": [
                {"description": t.description, "due_on": t.due_on.isoformat() if t.due_on else None}
                for t in outcome.tasks
            ],
        }
    location = (
        consult.assigned_to.facility.name
        if consult.assigned_to and consult.assigned_to.facility
        else ""
    )
    return documents.Content(
        context=context, payload=payload, labels=labels, patient_id=patient.id, location=location
    )


def _subject(consult: Consult, kind: DocumentKind) -> workflow.Subject:
    return workflow.Subject(
        kind=kind,
        id=consult.id,
        object_type="consult",
        audit_as=f"consult:{NOUNS[kind.code]}",
        content=lambda locale: content(consult, kind, locale),
    )


def sign(
    session: Session,
    settings: Settings,
    principal: Principal,
    consult_id: int,
    kind: DocumentKind,
    locale: str | None = None,
) -> SignedDocument:
    """The assigned specialist signs; signing the outcome moves the consult to ``signed``."""
    action = f"consult:{NOUNS[kind.code]}:signed"
    require(principal, "consults:write", roles=frozenset({Role.SPECIALIST}), action=action)
    consult = services.get(session, principal, consult_id, purpose="viewed")
    if consult.assigned_to_id != principal.user_id:
        raise AccessDenied(
            "Only the assigned specialist signs this consult's documents.",
            action=action,
            object_type="consult",
            object_id=consult.id,
        )
    if consult.outcome is None:
        raise Conflict("Record the outcome before signing.", code="no_outcome")
    if documents.find(session, kind, consult.id) is not None:
        raise Conflict(
            "This document is already signed; a signed document never changes.",
            code="already_signed",
            details={"kind": kind.code},
        )
    if (absent := _not_applicable(consult.outcome, kind)) is not None:
        raise Conflict(absent[1], code=absent[0])
    if kind is OUTCOME:
        lifecycle.check(consult.status, ConsultStatus.SIGNED)  # before the costly rendering
    subject = _subject(consult, kind)
    author = session.get_one(User, principal.user_id)
    doc = workflow.sign(
        session,
        settings,
        principal,
        subject,
        author=author,
        locale=locale,
        reader_locale=consult.requester.locale,
    )
    if kind is OUTCOME:
        move(
            session,
            consult,
            ConsultStatus.SIGNED,
            actor_id=principal.user_id,
            kind="signed",
            document=doc.public_id,
        )
        consult.outcome.status = OutcomeStatus.SIGNED
        consult.outcome.signed_at = doc.certified_at
    else:
        add_event(
            session,
            consult,
            f"{NOUNS[kind.code]}_signed",
            actor_id=principal.user_id,
            document=doc.public_id,
        )
    # Billing (insurance) and other packages act in this same transaction.
    hooks.document_signed.run(session, principal, signed_service(consult, kind, doc))
    workflow.audit_signed(session, principal, subject, doc, certificate_id=doc.certificate_id)
    consult_changed(session, consult)
    return doc


def signed_service(
    consult: Consult, kind: DocumentKind, doc: SignedDocument
) -> hooks.SignedService:
    """The facts of a signed consult document that the ``document_signed`` seam carries."""
    assignee = consult.assigned_to
    outcome = consult.outcome
    return hooks.SignedService(
        service_type=kind.code,
        service_id=consult.id,
        document_id=doc.public_id,
        patient_id=consult.patient_id,
        facility_id=(
            assignee.facility_id
            if assignee is not None and assignee.facility_id
            else consult.requester_facility_id
        ),
        service_at=(
            consult.answered_at or (outcome.signed_at if outcome else None) or doc.certified_at
        ),
        signer_user_id=doc.certified_by_id,
    )


def countersign(
    session: Session, settings: Settings, principal: Principal, consult_id: int, kind: DocumentKind
) -> SignedDocument:
    """The health worker who requested the consult countersigns the signed document."""
    action = f"consult:{NOUNS[kind.code]}:countersigned"
    require(principal, "consults:write", roles=REQUESTER_ROLES, action=action)
    consult = services.get(session, principal, consult_id, purpose="viewed")
    if consult.requester_id != principal.user_id:
        raise AccessDenied(
            "Only the health worker who requested this consult countersigns.",
            action=action,
            object_type="consult",
            object_id=consult.id,
        )
    doc = workflow.countersign(
        session,
        settings,
        principal,
        _subject(consult, kind),
        not_signed="The consultant has not signed this document yet.",
        location=lambda signer: signer.facility.name if signer.facility else "",
    )
    add_event(
        session,
        consult,
        f"{NOUNS[kind.code]}_countersigned",
        actor_id=principal.user_id,
        document=doc.public_id,
    )
    consult_changed(session, consult)
    return doc


def pdf(
    session: Session,
    settings: Settings,
    principal: Principal,
    consult_id: int,
    kind: DocumentKind,
    locale: str | None = None,
) -> tuple[bytes, bool]:
    """The signed PDF as stored (latest revision), or an unsigned draft; (bytes, signed)."""
    consult = services.get(session, principal, consult_id, purpose="viewed")

    def draftable() -> None:
        if consult.outcome is None:
            raise NotFound("This consult has no outcome yet.", code="no_outcome")
        if (absent := _not_applicable(consult.outcome, kind)) is not None:
            raise NotFound(absent[1], code=absent[0])

    return workflow.pdf(
        session,
        settings,
        principal,
        _subject(consult, kind),
        locale=locale,
        reader_locale=consult.requester.locale,
        draftable=draftable,
    )


KINDS = (OUTCOME, PRESCRIPTION, REFERRAL)
KIND_BY_NOUN = {NOUNS[k.code]: k for k in KINDS}


@dataclass(frozen=True)
class DocumentState:
    """One of a consult's documents as its page shows it: signed or not, and who acts next."""

    kind: DocumentKind
    noun: str
    document: SignedDocument | None
    can_sign: bool
    can_countersign: bool


def document_states(
    session: Session, principal: Principal, consult: Consult
) -> list[DocumentState]:
    """The documents this consult's outcome calls for (none before the outcome), with what the
    caller may do with each; the routes check each step again. ``consult`` is one the caller
    was allowed to read (``services.get``)."""
    outcome = consult.outcome
    if outcome is None:
        return []
    signer = (
        consult.assigned_to_id == principal.user_id
        and principal.has_role(Role.SPECIALIST)
        and has_scope(principal, "consults:write")
    )
    requester = (
        consult.requester_id == principal.user_id
        and bool(principal.roles & REQUESTER_ROLES)
        and has_scope(principal, "consults:write")
    )
    found = []
    for kind in KINDS:
        if _not_applicable(outcome, kind) is not None:
            continue
        doc = documents.find(session, kind, consult.id)
        found.append(
            DocumentState(
                kind=kind,
                noun=NOUNS[kind.code],
                document=doc,
                can_sign=signer and doc is None,
                can_countersign=requester and doc is not None and doc.countersigned_by_id is None,
            )
        )
    return found


def signed_documents(
    session: Session, principal: Principal, consult_id: int
) -> list[SignedDocument]:
    consult = services.get(session, principal, consult_id, purpose="viewed")
    rows = list(
        session.scalars(
            select(SignedDocument)
            .where(
                SignedDocument.subject_type == "consult", SignedDocument.subject_id == consult.id
            )
            .order_by(SignedDocument.id)
        )
    )
    audit.record(
        session,
        principal,
        "consult:document:listed",
        object_type="consult",
        object_id=consult.id,
        details={"documents": [d.public_id for d in rows]},
    )
    return rows


def init_app(app: Flask) -> None:
    registry.register(OUTCOME)
    registry.register(PRESCRIPTION)
    registry.register(REFERRAL)
