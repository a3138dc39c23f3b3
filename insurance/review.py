"""The insurer analyst's claims list: claims released to the caller's insurer, with that
insurer's share and decision, filtered by decision, facility, period of service and member id.

The insurer sees its members' ids, never their names: that is what its own records hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, ValidationFailed
from hub.models import Facility, Role
from hub.permissions import require
from insurance.models import Claim, ClaimRelease, Decision, Reconciliation

ReviewStatus = Literal["pending", "accepted", "rejected"]
REVIEW_STATUSES: tuple[ReviewStatus, ...] = ("pending", "accepted", "rejected")
INSURERS = frozenset({Role.INSURER})


@dataclass(frozen=True)
class ReviewFilter:
    status: ReviewStatus | None = None
    facility_id: int | None = None
    service_from: date | None = None  # inclusive, UTC dates
    service_to: date | None = None  # inclusive
    member_id: str | None = None


@dataclass(frozen=True)
class ReviewRow:
    """One claim as its insurer sees it."""

    claim: Claim
    facility: Facility
    member_id: str | None
    share_minor: int  # what this insurer is asked to pay
    decision: Reconciliation | None


def insurer_of(principal: Principal, action: str) -> int:
    require(principal, "claims:read", roles=INSURERS, action=action)
    if principal.insurer_id is None:
        raise AccessDenied("This account belongs to no insurer.", action=action)
    return principal.insurer_id


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def released_claims(
    session: Session,
    principal: Principal,
    flt: ReviewFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[ReviewRow]:
    """Claims released to the caller's insurer, newest first; ``before_id`` pages on."""
    action = "insurance:claims:reviewed"
    insurer_id = insurer_of(principal, action)
    if flt.service_from and flt.service_to and flt.service_to < flt.service_from:
        raise ValidationFailed(
            "The period ends before it starts.", details={"service_to": "before service_from"}
        )
    mine = and_(Reconciliation.claim_id == Claim.id, Reconciliation.insurer_id == insurer_id)
    stmt = (
        select(Claim, Facility, Reconciliation)
        .join(ClaimRelease, ClaimRelease.claim_id == Claim.id)
        .join(Facility, Facility.id == Claim.facility_id)
        .outerjoin(Reconciliation, mine)
        .where(ClaimRelease.insurer_id == insurer_id)
        .order_by(Claim.id.desc())
        .limit(limit)
    )
    if flt.status == "pending":
        stmt = stmt.where(Reconciliation.id.is_(None))
    elif flt.status is not None:
        stmt = stmt.where(Reconciliation.decision == Decision(flt.status))
    if flt.facility_id is not None:
        stmt = stmt.where(Claim.facility_id == flt.facility_id)
    if flt.service_from is not None:
        stmt = stmt.where(Claim.service_at >= _start(flt.service_from))
    if flt.service_to is not None:
        stmt = stmt.where(Claim.service_at < _start(flt.service_to + timedelta(days=1)))
    if flt.member_id:
        stmt = stmt.where(
            or_(
                and_(Claim.basic_insurer_id == insurer_id, Claim.basic_member_id == flt.member_id),
                and_(
                    Claim.supplementary_insurer_id == insurer_id,
                    Claim.supplementary_member_id == flt.member_id,
                ),
            )
        )
    if before_id is not None:
        stmt = stmt.where(Claim.id < before_id)
    rows = []
    for claim, facility, decision in session.execute(stmt):
        basic = claim.basic_insurer_id == insurer_id
        supp = claim.supplementary_insurer_id == insurer_id
        rows.append(
            ReviewRow(
                claim=claim,
                facility=facility,
                member_id=claim.basic_member_id if basic else claim.supplementary_member_id,
                share_minor=(claim.basic_minor if basic else 0)
                + (claim.supplementary_minor if supp else 0),
                decision=decision,
            )
        )
    audit.record(
        session,
        principal,
        action,
        object_type="insurer",
        object_id=insurer_id,
        details={"claims": [r.claim.id for r in rows]},
    )
    return rows


def facilities_billing(session: Session, principal: Principal) -> list[Facility]:
    """The facilities whose claims were released to the caller's insurer, by name (the filter's
    choices)."""
    insurer_id = insurer_of(principal, "insurance:claims:reviewed")
    billing = (
        select(Claim.facility_id)
        .join(ClaimRelease, ClaimRelease.claim_id == Claim.id)
        .where(ClaimRelease.insurer_id == insurer_id)
        .distinct()
    )
    return list(
        session.scalars(
            select(Facility).where(Facility.id.in_(billing)).order_by(Facility.name, Facility.code)
        )
    )
