"""Who reads the quality figures: QA physicians (their region) and national administrators."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.auth.principal import Principal
from hub.models import Facility, Role
from hub.permissions import require

QA_ROLES = frozenset({Role.QA_PHYSICIAN, Role.NATIONAL_ADMIN})


def require_qa(principal: Principal, action: str) -> None:
    """Refuse (403, audited) anyone but a QA physician or a national administrator."""
    require(principal, "imaging:read", roles=QA_ROLES, action=action)


def qa_region(principal: Principal) -> int | None:
    """The region a QA physician oversees; None for the whole country."""
    if principal.kind == "system" or principal.has_role(Role.NATIONAL_ADMIN):
        return None
    return principal.region_id if principal.region_id is not None else -1


def facility_in_scope(
    principal: Principal, facility_id: InstrumentedAttribute[int]
) -> ColumnElement[bool]:
    """A filter keeping the facilities whose figures the QA reader may see."""
    region = qa_region(principal)
    if region is None:
        return true()
    return facility_id.in_(select(Facility.id).where(Facility.region_id == region))


def is_qa_of(session: Session, principal: Principal, facility_id: int) -> bool:
    """Whether the reader is a QA reader whose scope holds the facility."""
    if not principal.roles & QA_ROLES and principal.kind != "system":
        return False
    region = qa_region(principal)
    if region is None:
        return True
    facility = session.get(Facility, facility_id)
    return facility is not None and facility.region_id == region
