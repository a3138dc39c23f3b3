"""Figures for the insurance pages: totals by facility and month, rejection statistics, pulls.

Aggregates only (no patient rows); still audited, as every read of billing data is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied
from hub.models import Facility, Role, utcnow
from hub.permissions import require
from insurance.models import (
    Claim,
    ClaimRelease,
    ClaimStatus,
    Decision,
    InsurerPull,
    Reconciliation,
)


@dataclass(frozen=True)
class MonthTotal:
    month: str  # YYYY-MM (UTC)
    facility_code: str
    facility_name: str
    claims: int
    total_minor: int
    share_minor: int


@dataclass(frozen=True)
class Bar:
    label: str
    value: int


def _month(session: Session, column: Any) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _since(months: int) -> datetime:
    return utcnow() - timedelta(days=31 * months)


def insurer_overview(session: Session, principal: Principal, months: int = 12) -> dict[str, Any]:
    """An insurer's totals by facility and month, its rejections by reason and its pulls."""
    action = "insurance:analytics:viewed"
    require(principal, "claims:read", roles=frozenset({Role.INSURER}), action=action)
    insurer_id = principal.insurer_id
    if insurer_id is None:
        raise AccessDenied("This account belongs to no insurer.", action=action)
    month = _month(session, Claim.service_at)
    share = func.sum(
        case((Claim.basic_insurer_id == insurer_id, Claim.basic_minor), else_=0)
        + case((Claim.supplementary_insurer_id == insurer_id, Claim.supplementary_minor), else_=0)
    )
    rows = session.execute(
        select(
            month.label("month"),
            Facility.code,
            Facility.name,
            func.count(Claim.id),
            func.sum(Claim.total_minor),
            share,
        )
        .select_from(ClaimRelease)
        .join(Claim, Claim.id == ClaimRelease.claim_id)
        .join(Facility, Facility.id == Claim.facility_id)
        .where(ClaimRelease.insurer_id == insurer_id, Claim.service_at >= _since(months))
        .group_by(month, Facility.code, Facility.name)
        .order_by(month.desc(), Facility.code)
    ).all()
    totals = [MonthTotal(m, c, n, int(k), int(t or 0), int(s or 0)) for m, c, n, k, t, s in rows]
    by_month: dict[str, int] = {}
    for t in totals:
        by_month[t.month] = by_month.get(t.month, 0) + t.share_minor
    decided = session.execute(
        select(Reconciliation.decision, Reconciliation.reason_code, func.count())
        .where(Reconciliation.insurer_id == insurer_id)
        .group_by(Reconciliation.decision, Reconciliation.reason_code)
    ).all()
    accepted = sum(int(n) for d, _, n in decided if d is Decision.ACCEPTED)
    rejected = {str(r or "other"): int(n) for d, r, n in decided if d is Decision.REJECTED}
    released = int(
        session.scalar(
            select(func.count())
            .select_from(ClaimRelease)
            .where(ClaimRelease.insurer_id == insurer_id)
        )
        or 0
    )
    pulls = list(
        session.scalars(
            select(InsurerPull)
            .where(InsurerPull.insurer_id == insurer_id)
            .order_by(InsurerPull.id.desc())
            .limit(20)
        )
    )
    audit.record(
        session, principal, action, object_type="insurer", object_id=insurer_id, details={}
    )
    return {
        "totals": totals,
        "month_bars": [Bar(m, v) for m, v in sorted(by_month.items())],
        "accepted": accepted,
        "rejected": rejected,
        "rejected_total": sum(rejected.values()),
        "released": released,
        "pending": max(0, released - accepted - sum(rejected.values())),
        "reason_bars": [Bar(k, v) for k, v in sorted(rejected.items(), key=lambda kv: -kv[1])],
        "pulls": pulls,
    }


def facility_overview(
    session: Session, principal: Principal, facility_id: int | None, months: int = 12
) -> dict[str, Any]:
    """A facility's billed totals by month, claims held for review and rejections by reason."""
    action = "insurance:billing:viewed"
    require(
        principal,
        "admin",
        roles=frozenset({Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN}),
        action=action,
    )
    if not principal.has_role(Role.NATIONAL_ADMIN):
        if facility_id is not None and facility_id != principal.facility_id:
            raise AccessDenied(action=action, object_type="facility", object_id=facility_id)
        facility_id = principal.facility_id
    where = [Claim.service_at >= _since(months)]
    if facility_id is not None:
        where.append(Claim.facility_id == facility_id)
    month = _month(session, Claim.service_at)
    rows = session.execute(
        select(month, func.count(Claim.id), func.sum(Claim.total_minor))
        .where(*where)
        .group_by(month)
        .order_by(month)
    ).all()
    held = int(
        session.scalar(
            select(func.count()).select_from(Claim).where(*where, Claim.status == ClaimStatus.HELD)
        )
        or 0
    )
    reasons = session.execute(
        select(Reconciliation.reason_code, func.count())
        .join(Claim, Claim.id == Reconciliation.claim_id)
        .where(*where, Reconciliation.decision == Decision.REJECTED)
        .group_by(Reconciliation.reason_code)
    ).all()
    audit.record(
        session, principal, action, object_type="facility", object_id=facility_id, details={}
    )
    return {
        "month_bars": [Bar(m, int(t or 0)) for m, _, t in rows],
        "month_counts": {m: int(k) for m, k, _ in rows},
        "held": held,
        "reason_bars": [Bar(str(r or "other"), int(n)) for r, n in reasons],
    }
