"""Regional waiting-time targets: days from referral to first visit (and from the visit to the
back-referral) that a region sets, for all its referrals or for one specialty. The referral
clock and its breaches (``referral.services.clock``) are measured against them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, ValidationFailed
from hub.models import MacroRegion, Role, Specialty
from hub.permissions import require
from referral.models import WaitTarget
from referral.services import DEFAULT_BACK_REFERRAL_DAYS

MAX_DAYS = 365


def _region(session: Session, code: str) -> MacroRegion:
    region = session.scalar(select(MacroRegion).where(MacroRegion.code == code))
    if region is None:
        raise ValidationFailed("Unknown region.", details={"region": code})
    return region


def _specialty(session: Session, code: str | None) -> Specialty | None:
    if code is None:
        return None
    found = session.scalar(select(Specialty).where(Specialty.code == code))
    if found is None:
        raise ValidationFailed("Unknown specialty.", details={"specialty": code})
    return found


def _may_set(principal: Principal, region: MacroRegion, action: str) -> None:
    if principal.kind == "system" or principal.has_role(Role.NATIONAL_ADMIN):
        return
    if principal.has_role(Role.COMMAND) and principal.region_id == region.id:
        return
    raise AccessDenied(
        "Only the region's command staff set its targets.",
        action=action,
        object_type="region",
        object_id=region.code,
    )


def set_target(
    session: Session,
    principal: Principal,
    *,
    region: str,
    specialty: str | None,
    days: int,
    back_referral_days: int | None = None,
) -> WaitTarget:
    """Create or change a region's target (for one specialty, or the region's own)."""
    action = "referral:wait_target:set"
    require(principal, "consults:read", action=action)
    row_region = _region(session, region)
    _may_set(principal, row_region, action)
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"Give 1 to {MAX_DAYS} days.", details={"days": days})
    if back_referral_days is not None and not 1 <= back_referral_days <= MAX_DAYS:
        raise ValidationFailed(
            f"Give 1 to {MAX_DAYS} days.", details={"back_referral_days": back_referral_days}
        )
    spec = _specialty(session, specialty)
    spec_id = spec.id if spec is not None else None
    row = session.scalar(
        select(WaitTarget)
        .where(
            WaitTarget.region_id == row_region.id,
            WaitTarget.specialty_id.is_(None)
            if spec_id is None
            else WaitTarget.specialty_id == spec_id,
        )
        .with_for_update()
    )
    if row is None:
        row = WaitTarget(
            region_id=row_region.id,
            specialty_id=spec_id,
            back_referral_days=back_referral_days or DEFAULT_BACK_REFERRAL_DAYS,
        )
        session.add(row)
    row.wait_days = days
    if back_referral_days is not None:
        row.back_referral_days = back_referral_days
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="region",
        object_id=row_region.code,
        details={
            "specialty": specialty,
            "wait_days": days,
            "back_referral_days": row.back_referral_days,
        },
    )
    return row


def list_targets(session: Session, principal: Principal, region: str | None) -> list[WaitTarget]:
    """The targets set (no patient data: anyone signed in may read them)."""
    require(principal, "consults:read", action="referral:wait_target:listed")
    stmt = select(WaitTarget).join(MacroRegion, MacroRegion.id == WaitTarget.region_id)
    if region is not None:
        stmt = stmt.where(MacroRegion.id == _region(session, region).id)
    return list(session.scalars(stmt.order_by(MacroRegion.code, WaitTarget.specialty_id)))


def describe(session: Session, row: WaitTarget) -> dict[str, object]:
    region = session.get_one(MacroRegion, row.region_id)
    spec = session.get(Specialty, row.specialty_id) if row.specialty_id is not None else None
    return {
        "region": region.code,
        "specialty": spec.code if spec is not None else None,
        "wait_days": row.wait_days,
        "back_referral_days": row.back_referral_days,
    }
