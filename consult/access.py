"""Who may see which consult; enforced in every service, on top of the route's scope check."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

from consult.models import Consult, ConsultOffer
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
        # Access follows the consult: one they were offered or answered stays visible even
        # when the same patient's next consult goes to someone else.
        clauses.append(Consult.assigned_to_id == principal.user_id)
        clauses.append(
            Consult.id.in_(
                select(ConsultOffer.consult_id).where(
                    ConsultOffer.specialist_id == principal.user_id
                )
            )
        )
    if principal.region_id is not None and principal.roles & REGION_ROLES:
        clauses.append(Consult.region_id == principal.region_id)
    return or_(*clauses) if clauses else false()


def patients_of_my_consults(principal: Principal) -> ColumnElement[bool] | None:
    """Patient grant: a consultant sees the patients of consults offered or assigned to them."""
    if principal.user_id is None or not principal.roles & CONSULTANT_ROLES:
        return None
    offered = select(ConsultOffer.consult_id).where(ConsultOffer.specialist_id == principal.user_id)
    return Patient.id.in_(
        select(Consult.patient_id).where(
            or_(Consult.assigned_to_id == principal.user_id, Consult.id.in_(offered))
        )
    )
