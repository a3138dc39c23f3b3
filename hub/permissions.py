"""Permission = role + scope. Checked on the route and again in every service touching patients."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from hub import hooks
from hub.errors import AccessDenied
from hub.models import Facility, Membership, Patient, Role

if TYPE_CHECKING:
    # Types only: the principal module builds scopes from this one.
    from hub.auth.principal import Principal

# OAuth2 scopes a token may carry; a person's token never carries more than their roles allow.
SCOPES: dict[str, str] = {
    "profile": "Read your own identity",
    "patients:read": "Read patients within your scope",
    "patients:write": "Register and update patients, record consent",
    "consults:read": "Read consultations within your scope",
    "consults:write": "Request, claim and answer consultations",
    "consults:dispatch": "Reassign consultations and arrange transfers in your region",
    "imaging:read": "Read studies and images within your scope",
    "imaging:write": "Send and manage studies",
    "claims:read": "Pull billing records of your own members",
    "claims:reconcile": "Accept or reject billing records",
    "audit:read": "Read the audit log",
    "admin": "Administer facilities, users and clients",
}

CLINICAL_ROLES = frozenset({Role.CHW, Role.NURSE, Role.GP, Role.SPECIALIST, Role.RADIOLOGIST})
REQUESTER_ROLES = frozenset({Role.CHW, Role.NURSE, Role.GP})
REGION_ROLES = frozenset({Role.COMMAND, Role.QA_PHYSICIAN})

_ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.CHW: frozenset(
        {
            "profile",
            "patients:read",
            "patients:write",
            "consults:read",
            "consults:write",
            "imaging:read",
            "imaging:write",
        }
    ),
    Role.NURSE: frozenset(
        {
            "profile",
            "patients:read",
            "patients:write",
            "consults:read",
            "consults:write",
            "imaging:read",
            "imaging:write",
        }
    ),
    Role.GP: frozenset(
        {
            "profile",
            "patients:read",
            "patients:write",
            "consults:read",
            "consults:write",
            "imaging:read",
            "imaging:write",
        }
    ),
    Role.SPECIALIST: frozenset(
        {"profile", "patients:read", "consults:read", "consults:write", "imaging:read"}
    ),
    Role.RADIOLOGIST: frozenset(
        {"profile", "patients:read", "consults:read", "imaging:read", "imaging:write"}
    ),
    Role.COMMAND: frozenset(
        {"profile", "patients:read", "consults:read", "consults:dispatch", "imaging:read"}
    ),
    Role.INSURER: frozenset({"profile", "patients:read", "claims:read", "claims:reconcile"}),
    Role.FACILITY_ADMIN: frozenset(
        {
            "profile",
            "patients:read",
            "patients:write",
            "consults:read",
            "imaging:read",
            "imaging:write",
            "admin",
        }
    ),
    Role.QA_PHYSICIAN: frozenset(
        {"profile", "patients:read", "consults:read", "imaging:read", "audit:read"}
    ),
    Role.NATIONAL_ADMIN: frozenset(SCOPES),
}

# Roles allowed to register or change patients (permission is this AND the patients:write scope).
PATIENT_WRITERS = frozenset(
    {Role.CHW, Role.NURSE, Role.GP, Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN}
)
PATIENT_MERGERS = frozenset({Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN})


def scopes_for_roles(roles: frozenset[Role]) -> frozenset[str]:
    allowed: set[str] = set()
    for role in roles:
        allowed |= _ROLE_SCOPES[role]
    return frozenset(allowed)


def has_scope(principal: Principal, scope: str) -> bool:
    return "*" in principal.scopes or scope in principal.scopes


def require(
    principal: Principal, scope: str, *, roles: frozenset[Role] | None = None, action: str
) -> None:
    """Refuse unless the principal holds ``scope`` and, when given, one of ``roles``."""
    if not has_scope(principal, scope):
        raise AccessDenied(
            f"This needs the {scope!r} scope.", action=action, details={"missing_scope": scope}
        )
    if roles is not None and not principal.roles & roles:
        raise AccessDenied(
            "Your role does not allow this.",
            action=action,
            details={"allowed_roles": sorted(r.value for r in roles)},
        )


def patient_visibility(principal: Principal) -> ColumnElement[bool]:
    """A SQL condition on :class:`Patient` true for the patients the principal may see."""
    if principal.kind == "system" or principal.has_role(Role.NATIONAL_ADMIN):
        return true()
    clauses: list[ColumnElement[bool]] = []
    if principal.facility_id is not None and principal.roles & (
        CLINICAL_ROLES | {Role.FACILITY_ADMIN}
    ):
        clauses.append(Patient.home_facility_id == principal.facility_id)
    if principal.region_id is not None and principal.roles & REGION_ROLES:
        clauses.append(
            Patient.home_facility_id.in_(
                select(Facility.id).where(Facility.region_id == principal.region_id)
            )
        )
    if principal.insurer_id is not None and principal.has_role(Role.INSURER):
        clauses.append(
            Patient.id.in_(
                select(Membership.patient_id).where(Membership.insurer_id == principal.insurer_id)
            )
        )
    # Packages add grants (a specialist sees the patients of the consults they answer).
    for grant in hooks.patient_grants:
        extra = grant(principal)
        if extra is not None:
            clauses.append(extra)
    return or_(*clauses) if clauses else false()


def can_see_patient(session: Session, principal: Principal, patient_id: int) -> bool:
    found = session.scalar(
        select(Patient.id).where(Patient.id == patient_id, patient_visibility(principal))
    )
    return found is not None
