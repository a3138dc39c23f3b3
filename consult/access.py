"""Who may see which consult; enforced in every service, on top of the route's scope check."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, or_, select, true

from consult.models import Consult, ConsultOffer, OfferState
from hub.auth.principal import Principal
from hub.models import Patient, Role
from hub.permissions import REGION_ROLES, REQUESTER_ROLES

CONSULTANT_ROLES = frozenset({Role.SPECIALIST, Role.RADIOLOGIST})


def consult_visibility(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on :class:`Consult` for the consults the principal may see."""
    if principal.kind == "system" or principal.has_role(Role.NATIONAL_ADMIN):
        return true()
    clauses: list[ColumnElement[bool]] = []
    if principal.facility_id is not None and principal.roles & (
        REQUESTER_ROLES | {Role.FACILITY_ADMIN}
    ):
        clauses.append(Consult.requester_facility_id == principal.facility_id)
    if principal.user_id is not None and principal.roles & CONSULTANT_ROLES:
        # Access follows the consult: the one they answer stays visible even when the same
        # patient's next consult goes to someone else; one they are offered, only while the
        # offer is open (claimed by someone else, declined or withdrawn: access ends).
        clauses.append(Consult.assigned_to_id == principal.user_id)
        clauses.append(Consult.id.in_(_open_offers(principal.user_id)))
    if principal.region_id is not None and principal.roles & REGION_ROLES:
        clauses.append(Consult.region_id == principal.region_id)
    return or_(*clauses) if clauses else false()


def _open_offers(user_id: int) -> Select[int]:
    return select(ConsultOffer.consult_id).where(
        ConsultOffer.specialist_id == user_id, ConsultOffer.state == OfferState.OPEN
    )


def patients_of_my_consults(principal: Principal) -> ColumnElement[bool] | None:
    """Patient grant: a consultant sees the patients of the consults assigned to them, and of
    those offered to them while the offer is open."""
    if principal.user_id is None or not principal.roles & CONSULTANT_ROLES:
        return None
    return Patient.id.in_(
        select(Consult.patient_id).where(
            or_(
                Consult.assigned_to_id == principal.user_id,
                Consult.id.in_(_open_offers(principal.user_id)),
            )
        )
    )
