"""The health worker's home panels: their open requests, the signed documents waiting for
their countersignature, and their facility's follow-up tasks (the ``home_panels`` seam)."""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult import lifecycle
from consult.models import Consult, FollowUpTask, Outcome
from consult.signing import OUTCOME, PRESCRIPTION, REFERRAL
from consult.views import SPECIALTY_LABELS, STATUS_LABELS
from hub import audit, hooks
from hub.auth.principal import Principal
from hub.models import DocumentStatus, Patient, SignedDocument
from hub.permissions import REQUESTER_ROLES, has_scope

ROWS = 10
COUNTERSIGNED_KINDS = {
    OUTCOME.code: "outcome",
    PRESCRIPTION.code: "prescription",
    REFERRAL.code: "referral",
}


def _requester(principal: Principal) -> bool:
    return (
        principal.user_id is not None
        and bool(principal.roles & REQUESTER_ROLES)
        and has_scope(principal, "consults:read")
    )


def _who(patient: Patient) -> str:
    return f"{patient.family_name}, {patient.given_name}"


def _specialty(consult: Consult) -> str:
    label = SPECIALTY_LABELS.get(consult.specialty.code)
    return str(label) if label is not None else consult.specialty.name


def _audit_listed(session: Session, principal: Principal, consults: list[Consult]) -> None:
    """The panels show consults and their patients' names: both reads are audited."""
    if not consults:
        return
    ids = sorted({c.id for c in consults})
    audit.record(
        session,
        principal,
        "consult:request:listed",
        object_type="consult",
        details={"ids": ids, "page": "home"},
    )
    audit.record(
        session,
        principal,
        "hub:patient:listed",
        object_type="patient",
        details={"ids": sorted({c.patient_id for c in consults}), "page": "home"},
    )


def open_requests(session: Session, principal: Principal) -> hooks.HomePanel | None:
    """The consults the reader requested that are not finished yet, newest first."""
    if not _requester(principal):
        return None
    consults = list(
        session.scalars(
            select(Consult)
            .where(Consult.requester_id == principal.user_id, Consult.status.in_(lifecycle.OPEN))
            .order_by(Consult.id.desc())
            .limit(ROWS)
        )
    )
    _audit_listed(session, principal, consults)
    rows = tuple(
        hooks.HomeRow(
            text=_(
                "Consult %(id)s · %(specialty)s · %(patient)s",
                id=c.id,
                specialty=_specialty(c),
                patient=_who(c.patient),
            ),
            url=url_for("consult_pages.show_consult", consult_id=c.id),
            time=c.submitted_at or c.created_at,
            detail=str(STATUS_LABELS[c.status]),
        )
        for c in consults
    )
    return hooks.HomePanel(
        title=_("My open consultation requests"),
        rows=rows,
        empty=_("No open requests."),
        more_url=url_for("consult_pages.my_consults"),
    )


def _document_title(kind: str, consult: Consult) -> str:
    noun = COUNTERSIGNED_KINDS[kind]
    who = _who(consult.patient)
    if noun == "outcome":
        return _("Outcome of consult %(id)s · %(patient)s", id=consult.id, patient=who)
    if noun == "prescription":
        return _("E-prescription of consult %(id)s · %(patient)s", id=consult.id, patient=who)
    return _("Referral letter of consult %(id)s · %(patient)s", id=consult.id, patient=who)


def to_countersign(session: Session, principal: Principal) -> hooks.HomePanel | None:
    """Signed documents of the reader's consults that wait for their countersignature."""
    if not _requester(principal):
        return None
    found = session.execute(
        select(SignedDocument, Consult)
        .join(Consult, Consult.id == SignedDocument.subject_id)
        .where(
            SignedDocument.subject_type == "consult",
            SignedDocument.kind.in_(COUNTERSIGNED_KINDS),
            SignedDocument.status == DocumentStatus.CERTIFIED,
            SignedDocument.countersigned_by_id.is_(None),
            Consult.requester_id == principal.user_id,
        )
        .order_by(SignedDocument.certified_at)
        .limit(ROWS)
    ).all()
    _audit_listed(session, principal, [consult for _doc, consult in found])
    rows = tuple(
        hooks.HomeRow(
            text=_document_title(doc.kind, consult),
            url=url_for("consult_pages.show_consult", consult_id=consult.id),
            time=doc.certified_at,
            detail=_("Signed by the specialist"),
        )
        for doc, consult in found
    )
    return hooks.HomePanel(
        title=_("Waiting for your countersignature"),
        rows=rows,
        empty=_("Nothing to countersign."),
    )


def follow_up_tasks(session: Session, principal: Principal) -> hooks.HomePanel | None:
    """Open follow-up tasks the specialists gave the reader's facility, soonest due first."""
    if not _requester(principal) or principal.facility_id is None:
        return None
    found = session.execute(
        select(FollowUpTask, Consult)
        .join(Outcome, Outcome.id == FollowUpTask.outcome_id)
        .join(Consult, Consult.id == Outcome.consult_id)
        .where(FollowUpTask.facility_id == principal.facility_id, FollowUpTask.done_at.is_(None))
        .order_by(FollowUpTask.due_on.is_(None), FollowUpTask.due_on, FollowUpTask.id)
        .limit(ROWS)
    ).all()
    _audit_listed(session, principal, [consult for _task, consult in found])
    rows = tuple(
        hooks.HomeRow(
            text=task.description,
            url=url_for("consult_pages.show_consult", consult_id=consult.id),
            day=task.due_on,
            detail=_("Consult %(id)s · %(patient)s", id=consult.id, patient=_who(consult.patient)),
        )
        for task, consult in found
    )
    return hooks.HomePanel(
        title=_("Follow-up tasks"),
        rows=rows,
        empty=_("No follow-up tasks."),
    )


def register() -> None:
    """Put the panels on the home page, in this order."""
    hooks.home_panels.register("consult_open_requests", open_requests)
    hooks.home_panels.register("consult_to_countersign", to_countersign)
    hooks.home_panels.register("consult_follow_up_tasks", follow_up_tasks)
