"""Claims from signed services: what happened → components → tariff in force → insurer shares.

Rounding rule (explicit, integer minor units throughout): per line, an insurer pays
``floor(base * coverage_bp / 10000) - copay`` (never below 0, never above the line's cap or its
base); the basic insurer's base is the line amount, the supplementary insurer's base is what the
basic insurer left; the patient pays the remainder, so the shares always add up to the total.
Video is billed per started minute of connected time.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consult import services as consult_services
from consult.schemas import ConsultFacts, Mode
from hub import audit, outbox
from hub.auth.principal import SYSTEM, Principal
from hub.errors import AccessDenied, Conflict, ValidationFailed
from hub.hooks import SignedService
from hub.models import (
    Facility,
    Insurer,
    InsurerKind,
    Membership,
    Role,
    SignedDocument,
    utcnow,
)
from hub.permissions import PATIENT_WRITERS, can_see_patient, require
from imaging.reading import services as reading
from insurance import tariffs
from insurance.errors import CannotPrice, PrintNotBillable
from insurance.models import (
    Claim,
    ClaimKind,
    ClaimRelease,
    ClaimStatus,
    Contract,
    Coverage,
    Decision,
    InsurerPull,
    Reconciliation,
    TariffSchedule,
    TariffUnit,
)
from video import services as video_services

log = logging.getLogger("insurance")

# Signed document kinds that are billable services, and the component each adds.
CONSULT_OUTCOME = "consult_outcome"
SERVICE_TYPES = frozenset({CONSULT_OUTCOME, "e_prescription", "referral_letter"})
IMAGING_REPORT = "imaging_report"
CLAIM_TOPIC = "insurance.claim.create"
BILLING_ADMINS = frozenset({Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN})
REASON_CODES = {
    "not_member": "The patient is not a member on the service date",
    "not_covered": "The service is not covered by the contract",
    "duplicate": "The service was already billed",
    "tariff_mismatch": "The amount does not match the approved tariff",
    "missing_documentation": "The signed outcome or report is missing or unreadable",
    "no_contract": "No contract with the billing facility",
    "other": "Other (see note)",
}


@dataclass(frozen=True)
class Component:
    code: str
    quantity: int


@dataclass
class Priced:
    schedule: TariffSchedule
    lines: list[dict[str, Any]]
    basic: tuple[int, str] | None  # (insurer id, member id)
    supplementary: tuple[int, str] | None
    total: int = 0
    basic_minor: int = 0
    supplementary_minor: int = 0
    patient_minor: int = 0
    notes: list[str] = field(default_factory=list)


# --- what happened ----------------------------------------------------------------------------


def consult_components(
    session: Session, consult: ConsultFacts, service_type: str
) -> list[Component]:
    """The components a signed consult document bills, from the consult's own record."""
    if service_type == "e_prescription":
        return [Component("prescription", 1)]
    if service_type == "referral_letter":
        return [Component("referral", 1)]
    level = consult.assignee_facility_level or 2
    parts = [Component(f"consult:l{level}:{consult.specialty_code}", 1)]
    if consult.mode is Mode.ASYNC:
        parts.append(Component("async_review", 1))
    elif consult.mode is Mode.PHONE:
        parts.append(Component("phone_consult", 1))
    elif consult.mode is Mode.VIDEO:
        seconds = video_services.billable_seconds(session, consult.id)
        if seconds > 0:
            parts.append(Component("video_minute", math.ceil(seconds / 60)))
    return parts


# --- coverage -----------------------------------------------------------------------------------


def memberships_on(session: Session, patient_id: int, on: date) -> dict[InsurerKind, Membership]:
    """The patient's basic and supplementary memberships valid on a date (first of each kind)."""
    rows = session.scalars(
        select(Membership)
        .join(Insurer, Insurer.id == Membership.insurer_id)
        .where(
            Membership.patient_id == patient_id,
            Membership.valid_from <= on,
            (Membership.valid_to.is_(None)) | (Membership.valid_to >= on),
        )
        .order_by(Membership.id)
    )
    found: dict[InsurerKind, Membership] = {}
    for row in rows:
        found.setdefault(row.insurer.kind, row)
    return found


def contract_for(session: Session, insurer_id: int, facility_id: int, on: date) -> Contract | None:
    """The insurer's contract with the facility on a date; a facility's own beats a general one."""
    rows = session.scalars(
        select(Contract)
        .where(
            Contract.insurer_id == insurer_id,
            (Contract.facility_id == facility_id) | Contract.facility_id.is_(None),
            Contract.valid_from <= on,
            (Contract.valid_to.is_(None)) | (Contract.valid_to >= on),
        )
        .order_by(Contract.facility_id.is_(None), Contract.id)
    ).all()
    return rows[0] if rows else None


def coverage_for(contract: Contract | None, component: str) -> Coverage | None:
    if contract is None:
        return None
    by_code = {c.component: c for c in contract.coverages}
    chain = tariffs.lookup_chain(component)
    for code in [chain[0], *(f"{c}:*" for c in chain[1:]), "*"]:
        if code in by_code:
            return by_code[code]
    return None


def share(base: int, coverage: Coverage | None) -> int:
    """What an insurer pays of ``base`` minor units under a coverage (integer arithmetic)."""
    if coverage is None or base <= 0:
        return 0
    value = base * coverage.coverage_bp // 10000 - coverage.copay_minor
    if coverage.cap_minor is not None:
        value = min(value, coverage.cap_minor)
    return max(0, min(value, base))


def price(
    session: Session,
    patient_id: int,
    facility_id: int,
    components: list[Component],
    service_at: datetime,
) -> Priced:
    """Price components with the tariff in force at ``service_at`` and split the shares."""
    for part in components:
        if tariffs.is_print_component(part.code):
            raise PrintNotBillable(part.code)
        if part.quantity < 1:
            raise CannotPrice("bad_quantity", component=part.code)
    on = service_at.date()
    schedule = tariffs.in_force(session, on)
    if schedule is None:
        raise CannotPrice("no_tariff_in_force", service_date=on.isoformat())
    members = memberships_on(session, patient_id, on)
    contracts: dict[InsurerKind, Contract | None] = {
        kind: contract_for(session, m.insurer_id, facility_id, on) for kind, m in members.items()
    }
    basic_m, supp_m = members.get(InsurerKind.BASIC), members.get(InsurerKind.SUPPLEMENTARY)
    priced = Priced(
        schedule=schedule,
        lines=[],
        basic=(basic_m.insurer_id, basic_m.member_id) if basic_m else None,
        supplementary=(supp_m.insurer_id, supp_m.member_id) if supp_m else None,
    )
    for kind, member in members.items():
        if contracts[kind] is None:
            priced.notes.append(f"no_contract:{kind.value}:{member.insurer_id}")
    for part in components:
        item = tariffs.price_of(session, schedule, part.code)
        if item is None:
            raise CannotPrice("no_tariff_for_component", component=part.code)
        if item.unit is TariffUnit.SERVICE and part.quantity != 1:
            raise CannotPrice("quantity_for_service_unit", component=part.code)
        amount = item.amount_minor * part.quantity
        basic = share(amount, coverage_for(contracts.get(InsurerKind.BASIC), part.code))
        supp = share(
            amount - basic, coverage_for(contracts.get(InsurerKind.SUPPLEMENTARY), part.code)
        )
        line = {
            "component": part.code,
            "tariff_component": item.component,
            "unit": item.unit.value,
            "quantity": part.quantity,
            "unit_minor": item.amount_minor,
            "amount_minor": amount,
            "basic_minor": basic,
            "supplementary_minor": supp,
            "patient_minor": amount - basic - supp,
        }
        priced.lines.append(line)
        priced.total += amount
        priced.basic_minor += basic
        priced.supplementary_minor += supp
        priced.patient_minor += amount - basic - supp
    return priced


def components_text(lines: list[dict[str, Any]]) -> str:
    """The lines as one export column: ``code*quantity=amount`` joined by ``;``."""
    return ";".join(f"{ln['component']}*{ln['quantity']}={ln['amount_minor']}" for ln in lines)


def _apply(claim: Claim, priced: Priced) -> None:
    claim.status = ClaimStatus.READY
    claim.hold_reason = None
    claim.hold_details = {"notes": priced.notes} if priced.notes else {}
    claim.tariff_schedule_id = priced.schedule.id
    claim.currency = priced.schedule.currency
    claim.lines = priced.lines
    claim.components_text = components_text(priced.lines)
    claim.total_minor = priced.total
    claim.basic_minor = priced.basic_minor
    claim.supplementary_minor = priced.supplementary_minor
    claim.patient_minor = priced.patient_minor
    claim.basic_insurer_id, claim.basic_member_id = priced.basic or (None, None)
    claim.supplementary_insurer_id, claim.supplementary_member_id = priced.supplementary or (
        None,
        None,
    )


def _hold(claim: Claim, exc: CannotPrice) -> None:
    claim.status = ClaimStatus.HELD
    claim.hold_reason = exc.reason
    claim.hold_details = dict(exc.details)
    claim.lines = []
    claim.components_text = ""
    claim.total_minor = claim.basic_minor = claim.supplementary_minor = claim.patient_minor = 0


def release(session: Session, claim: Claim) -> None:
    """Queue a ready claim for export to each insurer it names."""
    for insurer_id in {claim.basic_insurer_id, claim.supplementary_insurer_id} - {None}:
        assert insurer_id is not None
        session.add(ClaimRelease(claim_id=claim.id, insurer_id=insurer_id))
    session.flush()


# --- claims from signed services ----------------------------------------------------------------


def _existing(session: Session, service_type: str, service_id: int) -> Claim | None:
    return session.scalar(
        select(Claim).where(
            Claim.service_type == service_type,
            Claim.service_id == service_id,
            Claim.kind == ClaimKind.ORIGINAL,
        )
    )


def _bill(
    session: Session,
    principal: Principal,
    claim: Claim,
    components: Callable[[], list[Component]],
    details: dict[str, Any],
) -> Claim:
    """Price and store a new original claim (HELD with its reason when it cannot be priced)."""
    try:
        _apply(
            claim,
            price(session, claim.patient_id, claim.facility_id, components(), claim.service_at),
        )
    except CannotPrice as exc:
        _hold(claim, exc)
    session.add(claim)
    session.flush()
    if claim.status is ClaimStatus.READY:
        release(session, claim)
    audit.record(
        session,
        principal,
        "insurance:claim:created",
        object_type="claim",
        object_id=claim.id,
        details={
            **details,
            "service_type": claim.service_type,
            "status": claim.status.value,
            "hold_reason": claim.hold_reason,
        },
    )
    return claim


def bill_consult_document(
    session: Session,
    principal: Principal,
    consult: ConsultFacts,
    service_type: str,
    document_public_id: str | None,
) -> Claim:
    """The claim of a signed consult document; the existing one if it was billed already.

    A service that cannot be priced gets a HELD claim naming why, never an exception.
    """
    existing = _existing(session, service_type, consult.id)
    if existing is not None:
        return existing
    if not consult.outcome_signed:
        raise Conflict("No claim without a signed outcome.", code="not_signed")
    claim = Claim(
        service_type=service_type,
        service_id=consult.id,
        consult_id=consult.id,
        document_public_id=document_public_id,
        kind=ClaimKind.ORIGINAL,
        revision=0,
        status=ClaimStatus.HELD,
        patient_id=consult.patient_id,
        facility_id=consult.billing_facility_id,
        service_at=consult.answered_at or consult.outcome_signed_at or utcnow(),
    )
    return _bill(
        session,
        principal,
        claim,
        lambda: consult_components(session, consult, service_type),
        {"consult": consult.id},
    )


def report_components(session: Session, study_id: int) -> list[Component]:
    """A signed imaging report: one reading per modality of the study, and the report."""
    facts = reading.report_facts(session, study_id)
    found = facts.modalities if facts is not None else ()
    modalities = sorted({m.strip().lower() for m in found if m.strip()})
    parts = [Component(f"image_reading:{m}", 1) for m in modalities if m.isalnum()]
    return [*parts, Component("report", 1)]


def bill_imaging_report(
    session: Session, principal: Principal, study_id: int, document_public_id: str | None
) -> Claim:
    """The claim of a signed imaging report (teleradiology); the existing one if billed."""
    existing = _existing(session, IMAGING_REPORT, study_id)
    if existing is not None:
        return existing
    report = reading.report_facts(session, study_id)
    if report is None or not report.signed:
        raise Conflict("No claim without a signed report.", code="not_signed")
    if report.patient_id is None:
        # Billed once the study is matched to a patient (the outbox retries until then).
        raise CannotPrice("study_without_patient")
    claim = Claim(
        service_type=IMAGING_REPORT,
        service_id=report.study_id,
        consult_id=None,
        document_public_id=document_public_id,
        kind=ClaimKind.ORIGINAL,
        revision=0,
        status=ClaimStatus.HELD,
        patient_id=report.patient_id,
        facility_id=report.author_facility_id or report.study_facility_id,
        service_at=report.signed_at or utcnow(),
    )
    return _bill(
        session,
        principal,
        claim,
        lambda: report_components(session, report.study_id),
        {"study": report.study_id},
    )


def on_report_signed(session: Session, principal: Principal, signed: SignedService) -> None:
    """``imaging_report_signed`` seam: bill the signed report in the signing transaction (never
    fails it)."""
    study_id, public_id = signed.service_id, signed.document_id
    try:
        with session.begin_nested():
            bill_imaging_report(session, principal, study_id, public_id)
    except Exception as exc:
        log.warning("claim for study %s deferred to the outbox: %s", study_id, type(exc).__name__)
        outbox.add(
            session,
            CLAIM_TOPIC,
            {"service_type": IMAGING_REPORT, "study_id": study_id, "document": public_id},
        )


def on_document_signed(session: Session, principal: Principal, signed: SignedService) -> None:
    """``document_signed`` seam: bill the signed consult service in the signing transaction.

    Whatever goes wrong here never fails the signing: the claim is retried from the outbox,
    which is written in the same transaction, so no signed service is left unbilled.
    """
    if signed.service_type not in SERVICE_TYPES:
        return
    consult = consult_services.facts(session, signed.service_id)
    if consult is None or not consult.outcome_signed:
        return  # billed when the outcome is signed: no claim without a signed outcome
    due = [(signed.service_type, signed.document_id)]
    if signed.service_type == CONSULT_OUTCOME:
        # Documents signed before the outcome are billed now.
        due += [
            (doc.kind, doc.public_id)
            for doc in session.scalars(
                select(SignedDocument).where(
                    SignedDocument.subject_type == "consult",
                    SignedDocument.subject_id == consult.id,
                    SignedDocument.kind.in_(SERVICE_TYPES - {CONSULT_OUTCOME}),
                )
            )
        ]
    for service_type, document in due:
        try:
            with session.begin_nested():
                bill_consult_document(session, principal, consult, service_type, document)
        except Exception as exc:
            log.warning(
                "claim for consult %s deferred to the outbox: %s", consult.id, type(exc).__name__
            )
            outbox.add(
                session,
                CLAIM_TOPIC,
                {"service_type": service_type, "consult_id": consult.id, "document": document},
            )


def deliver_claim(session: Session, payload: dict[str, Any]) -> None:
    """Outbox handler of ``CLAIM_TOPIC``: bill a signed service whose claim was deferred."""
    if payload.get("service_type") == IMAGING_REPORT:
        bill_imaging_report(session, SYSTEM, int(payload["study_id"]), payload.get("document"))
        return
    consult = consult_services.facts(session, int(payload["consult_id"]))
    if consult is None:
        raise outbox.PermanentError("consult not found")
    bill_consult_document(
        session, SYSTEM, consult, str(payload["service_type"]), payload.get("document")
    )


# --- reading claims -----------------------------------------------------------------------------


def claim_for_billing(session: Session, principal: Principal, claim_id: int, action: str) -> Claim:
    """A claim for its facility's administrators or a national administrator."""
    require(principal, "admin", roles=BILLING_ADMINS, action=action)
    claim = session.get(Claim, claim_id)
    if claim is None or not (
        principal.has_role(Role.NATIONAL_ADMIN) or claim.facility_id == principal.facility_id
    ):
        raise AccessDenied(action=action, object_type="claim", object_id=claim_id, hide=True)
    return claim


def facility_claims(
    session: Session,
    principal: Principal,
    *,
    facility_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[Claim]:
    """Claims billed by a facility (the caller's own; any facility for national administrators)."""
    action = "insurance:claims:listed"
    require(principal, "admin", roles=BILLING_ADMINS, action=action)
    if not principal.has_role(Role.NATIONAL_ADMIN):
        if facility_id is not None and facility_id != principal.facility_id:
            raise AccessDenied(action=action, object_type="facility", object_id=facility_id)
        facility_id = principal.facility_id
    stmt = select(Claim).order_by(Claim.id.desc()).limit(limit)
    if facility_id is not None:
        stmt = stmt.where(Claim.facility_id == facility_id)
    if status == "rejected":
        stmt = stmt.where(
            Claim.id.in_(
                select(Reconciliation.claim_id).where(Reconciliation.decision == Decision.REJECTED)
            )
        )
    elif status is not None:
        stmt = stmt.where(Claim.status == ClaimStatus(status))
    if before_id is not None:
        stmt = stmt.where(Claim.id < before_id)
    rows = list(session.scalars(stmt))
    audit.record(
        session,
        principal,
        action,
        object_type="facility",
        object_id=facility_id,
        details={"claims": [c.id for c in rows]},
    )
    return rows


def reconciliations_of(session: Session, claim_ids: list[int]) -> dict[int, list[Reconciliation]]:
    out: dict[int, list[Reconciliation]] = {}
    if not claim_ids:
        return out
    for row in session.scalars(
        select(Reconciliation)
        .where(Reconciliation.claim_id.in_(claim_ids))
        .order_by(Reconciliation.id)
    ):
        out.setdefault(row.claim_id, []).append(row)
    return out


def is_exported(session: Session, claim_id: int) -> bool:
    """Whether any insurer has pulled the claim (then it never changes)."""
    return (
        session.scalar(
            select(InsurerPull.id)
            .join(ClaimRelease, ClaimRelease.insurer_id == InsurerPull.insurer_id)
            .where(
                ClaimRelease.claim_id == claim_id,
                ClaimRelease.id > InsurerPull.after_release_id,
                ClaimRelease.id <= InsurerPull.upto_release_id,
            )
            .limit(1)
        )
        is not None
    )


# --- corrections --------------------------------------------------------------------------------


def _latest_revision(session: Session, claim: Claim) -> int:
    return int(
        session.scalar(
            select(func.max(Claim.revision)).where(
                Claim.service_type == claim.service_type, Claim.service_id == claim.service_id
            )
        )
        or 0
    )


def _negated(claim: Claim) -> list[dict[str, Any]]:
    keys = ("amount_minor", "basic_minor", "supplementary_minor", "patient_minor")
    return [
        {**line, **{k: -int(line[k]) for k in keys}, "quantity": -int(line["quantity"])}
        for line in claim.lines
    ]


def _recorded_components(session: Session, claim: Claim) -> list[Component]:
    """What the claim's service was, from its owner's record (a correction without components)."""
    if claim.service_type == IMAGING_REPORT:
        return report_components(session, claim.service_id)
    if claim.consult_id is None:
        raise ValidationFailed("Give the components of this service.")
    consult = consult_services.facts(session, claim.consult_id)
    if consult is None:
        raise ValidationFailed("The consult of this claim no longer exists.")
    try:
        return consult_components(session, consult, claim.service_type)
    except CannotPrice as exc:
        raise ValidationFailed(
            "The service cannot be priced.", code=exc.reason, details=exc.details
        ) from None


def correct(
    session: Session,
    principal: Principal,
    claim_id: int,
    *,
    reason: str,
    components: list[Component] | None = None,
) -> list[Claim]:
    """Correct a claim: a held one is priced again in place (it was never released); a released
    one gets a CREDIT (unless every insurer rejected it, so nothing was owed) and a REBILL, both
    referencing the original. Returns the records written (or the re-priced claim)."""
    action = "insurance:claim:corrected"
    claim = claim_for_billing(session, principal, claim_id, action)
    if claim.kind is ClaimKind.CREDIT:
        raise Conflict("A credit record is not corrected; correct the rebill.", code="is_credit")
    if claim.revision != _latest_revision(session, claim):
        raise Conflict(
            "A newer record of this service exists; correct that one.", code="superseded"
        )
    if components is not None:
        for part in components:
            if tariffs.is_print_component(part.code):
                raise PrintNotBillable(part.code)
    if components is None:
        components = _recorded_components(session, claim)
    try:
        priced = price(session, claim.patient_id, claim.facility_id, components, claim.service_at)
    except CannotPrice as exc:
        raise ValidationFailed(
            "The corrected service cannot be priced.", code=exc.reason, details=exc.details
        ) from None
    written: list[Claim] = []
    if claim.status is ClaimStatus.HELD:
        _apply(claim, priced)
        claim.correction_reason = reason
        claim.corrected_by_id = principal.user_id
        session.flush()
        release(session, claim)
        written.append(claim)
    else:
        root = claim.original_id or claim.id
        revision = claim.revision + 1
        decisions = [
            r.decision
            for r in session.scalars(
                select(Reconciliation).where(Reconciliation.claim_id == claim.id)
            )
        ]
        rejected_by_all = bool(decisions) and all(d is Decision.REJECTED for d in decisions)
        common = {
            "service_type": claim.service_type,
            "service_id": claim.service_id,
            "consult_id": claim.consult_id,
            "document_public_id": claim.document_public_id,
            "revision": revision,
            "original_id": root,
            "patient_id": claim.patient_id,
            "facility_id": claim.facility_id,
            "service_at": claim.service_at,
            "correction_reason": reason,
            "corrected_by_id": principal.user_id,
        }
        if not rejected_by_all:
            lines = _negated(claim)
            credit = Claim(
                kind=ClaimKind.CREDIT,
                status=ClaimStatus.READY,
                hold_details={"credits": claim.id},
                tariff_schedule_id=claim.tariff_schedule_id,
                currency=claim.currency,
                lines=lines,
                components_text=components_text(lines),
                total_minor=-claim.total_minor,
                basic_minor=-claim.basic_minor,
                supplementary_minor=-claim.supplementary_minor,
                patient_minor=-claim.patient_minor,
                basic_insurer_id=claim.basic_insurer_id,
                basic_member_id=claim.basic_member_id,
                supplementary_insurer_id=claim.supplementary_insurer_id,
                supplementary_member_id=claim.supplementary_member_id,
                **common,
            )
            session.add(credit)
            written.append(credit)
        rebill = Claim(kind=ClaimKind.REBILL, status=ClaimStatus.READY, **common)
        _apply(rebill, priced)
        rebill.hold_details = {**rebill.hold_details, "replaces": claim.id}
        session.add(rebill)
        written.append(rebill)
        session.flush()
        for row in written:
            release(session, row)
    audit.record(
        session,
        principal,
        action,
        object_type="claim",
        object_id=claim.id,
        details={"written": [c.id for c in written], "kinds": [c.kind.value for c in written]},
    )
    return written


# --- reconciliation -----------------------------------------------------------------------------


def reconcile(
    session: Session,
    principal: Principal,
    claim_id: int,
    *,
    decision: Decision,
    reason_code: str | None,
    note: str | None,
) -> Reconciliation:
    """The insurer accepts or rejects its share of a claim released to it; once only."""
    action = "insurance:claim:reconciled"
    require(principal, "claims:reconcile", roles=frozenset({Role.INSURER}), action=action)
    insurer_id = principal.insurer_id
    released = (
        insurer_id is not None
        and session.scalar(
            select(ClaimRelease.id).where(
                ClaimRelease.claim_id == claim_id, ClaimRelease.insurer_id == insurer_id
            )
        )
        is not None
    )
    if not released:
        raise AccessDenied(action=action, object_type="claim", object_id=claim_id, hide=True)
    assert insurer_id is not None
    if decision is Decision.REJECTED and reason_code not in REASON_CODES:
        raise ValidationFailed(
            "A rejection needs a reason code.",
            details={"reason_code": sorted(REASON_CODES)},
        )
    if decision is Decision.ACCEPTED and reason_code is not None:
        raise ValidationFailed("An acceptance takes no reason code.")
    existing = session.scalar(
        select(Reconciliation).where(
            Reconciliation.claim_id == claim_id, Reconciliation.insurer_id == insurer_id
        )
    )
    if existing is not None:
        raise Conflict(
            "This claim is already reconciled.",
            code="already_reconciled",
            details={"decision": existing.decision.value},
        )
    row = Reconciliation(
        claim_id=claim_id,
        insurer_id=insurer_id,
        decision=decision,
        reason_code=reason_code,
        note=note,
        client_id=principal.client_id,
        user_id=principal.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="claim",
        object_id=claim_id,
        details={"decision": decision.value, "reason_code": reason_code},
    )
    return row


# --- contracts (administration) -----------------------------------------------------------------


@dataclass(frozen=True)
class CoverageIn:
    component: str
    coverage_bp: int
    copay_minor: int = 0
    cap_minor: int | None = None


def add_contract(
    session: Session,
    principal: Principal,
    *,
    insurer: Insurer,
    code: str,
    facility: Facility | None,
    valid_from: date,
    valid_to: date | None,
    coverages: list[CoverageIn],
) -> Contract:
    """Record an insurer's contract (a virtual clinic contracts directly: SEEDS 001)."""
    action = "insurance:contract:created"
    require(principal, "admin", roles=frozenset({Role.NATIONAL_ADMIN}), action=action)
    for cov in coverages:
        if tariffs.is_print_component(cov.component.rstrip("*").rstrip(":") or "x"):
            raise PrintNotBillable(cov.component)
    if session.scalar(select(Contract.id).where(Contract.code == code)):
        raise Conflict("A contract with this code exists.", code="contract_exists")
    contract = Contract(
        code=code,
        insurer_id=insurer.id,
        facility_id=facility.id if facility else None,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    session.add(contract)
    session.flush()
    for cov in coverages:
        session.add(
            Coverage(
                contract_id=contract.id,
                component=cov.component,
                coverage_bp=cov.coverage_bp,
                copay_minor=cov.copay_minor,
                cap_minor=cov.cap_minor,
            )
        )
    session.flush()
    audit.record(session, principal, action, object_type="contract", object_id=contract.id)
    return contract


# --- memberships ----------------------------------------------------------------------------------


def _visible_patient(session: Session, principal: Principal, patient_id: int, action: str) -> None:
    if not can_see_patient(session, principal, patient_id):
        raise AccessDenied(action=action, object_type="patient", object_id=patient_id, hide=True)


def add_membership(
    session: Session,
    principal: Principal,
    patient_id: int,
    *,
    insurer_code: str,
    member_id: str,
    valid_from: date,
    valid_to: date | None,
) -> Membership:
    """Record a patient's membership of a basic or supplementary insurer."""
    action = "insurance:membership:created"
    require(principal, "patients:write", roles=PATIENT_WRITERS, action=action)
    _visible_patient(session, principal, patient_id, action)
    insurer = session.scalar(select(Insurer).where(Insurer.code == insurer_code))
    if insurer is None:
        raise ValidationFailed("Unknown insurer.", details={"insurer": insurer_code})
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed("valid_to is before valid_from.", details={"valid_to": "early"})
    taken = session.scalar(
        select(Membership.id).where(
            Membership.insurer_id == insurer.id, Membership.member_id == member_id
        )
    )
    if taken is not None:
        raise Conflict("This insurer already has this member id.", code="member_id_taken")
    row = Membership(
        patient_id=patient_id,
        insurer_id=insurer.id,
        member_id=member_id,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="patient",
        object_id=patient_id,
        details={"membership": row.id, "insurer": insurer.id},
    )
    return row


def memberships_of(
    session: Session,
    principal: Principal,
    patient_id: int,
    *,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[Membership]:
    """A patient's memberships by id (an insurer sees only its own); ``after_id`` and ``limit``
    give one page of them."""
    action = "insurance:membership:viewed"
    require(principal, "patients:read", action=action)
    _visible_patient(session, principal, patient_id, action)
    stmt = select(Membership).where(Membership.patient_id == patient_id)
    if principal.has_role(Role.INSURER) and not principal.has_role(Role.NATIONAL_ADMIN):
        stmt = stmt.where(Membership.insurer_id == principal.insurer_id)
    if after_id is not None:
        stmt = stmt.where(Membership.id > after_id)
    rows = list(session.scalars(stmt.order_by(Membership.id).limit(limit)))
    audit.record(session, principal, action, object_type="patient", object_id=patient_id)
    return rows


# --- a facility's own contracts (read by the virtual clinic's page and demo) ---------------------


def insurer_by_code(session: Session, code: str) -> Insurer | None:
    return session.scalar(select(Insurer).where(Insurer.code == code))


def facility_contracts(
    session: Session, facility_id: int, on: date | None = None
) -> list[Contract]:
    """The contracts insurers made with this facility itself (a virtual clinic contracts
    directly: SEEDS 001) that are in force on ``on`` or start later; no patient data."""
    on = on or utcnow().date()
    return list(
        session.scalars(
            select(Contract)
            .where(
                Contract.facility_id == facility_id,
                (Contract.valid_to.is_(None)) | (Contract.valid_to >= on),
            )
            .order_by(Contract.valid_from, Contract.id)
        )
    )
