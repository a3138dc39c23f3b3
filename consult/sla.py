"""SLA targets of consults (time to accept, time to answer) per urgency, nationally and per
macro-region: read by the SLA page and the ``hub sla`` commands, which both change them here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.assignment import DEFAULT_SLA
from consult.models import SlaPolicy, Urgency
from hub import audit
from hub.auth.principal import Principal
from hub.errors import NotFound, ValidationFailed
from hub.models import MacroRegion, Role
from hub.permissions import require

ACCEPT_MAX = 7 * 24 * 60  # minutes
ANSWER_MAX = 30 * 24 * 60
SLA_ADMINS = frozenset({Role.NATIONAL_ADMIN, Role.FACILITY_ADMIN})


@dataclass(frozen=True)
class Target:
    """The targets in force for one urgency in one place, and where they come from."""

    urgency: Urgency
    accept_minutes: int
    answer_minutes: int
    source: str  # "region" (its own policy), "national" (the national policy), "default"


@dataclass(frozen=True)
class Place:
    region: MacroRegion | None  # None: the national policy
    targets: list[Target]
    editable: bool


def _in_force(
    rows: dict[tuple[int | None, Urgency], SlaPolicy], region_id: int | None
) -> list[Target]:
    found = []
    for urgency in Urgency:
        own = rows.get((region_id, urgency)) if region_id is not None else None
        national = rows.get((None, urgency))
        if own is not None:
            found.append(Target(urgency, own.accept_minutes, own.answer_minutes, "region"))
        elif national is not None:
            found.append(
                Target(urgency, national.accept_minutes, national.answer_minutes, "national")
            )
        else:
            accept, answer = DEFAULT_SLA[urgency]
            found.append(Target(urgency, accept, answer, "default"))
    return found


def overview(session: Session, principal: Principal) -> list[Place]:
    """The national targets and each macro-region's, as the caller may see them: a national
    administrator sees and changes every one; a facility administrator sees the national
    targets and their own region's."""
    action = "consult:sla:viewed"
    require(principal, "admin", roles=SLA_ADMINS, action=action)
    national = principal.has_role(Role.NATIONAL_ADMIN)
    rows = {(r.region_id, r.urgency): r for r in session.scalars(select(SlaPolicy))}
    regions = select(MacroRegion).order_by(MacroRegion.number)
    if not national:
        regions = regions.where(MacroRegion.id == principal.region_id)
    places = [Place(None, _in_force(rows, None), national)]
    places += [
        Place(region, _in_force(rows, region.id), national) for region in session.scalars(regions)
    ]
    return places


def check_minutes(accept_minutes: int, answer_minutes: int) -> None:
    if not 1 <= accept_minutes <= ACCEPT_MAX:
        raise ValidationFailed(
            f"The time to accept is 1 to {ACCEPT_MAX} minutes.", details={"field": "accept"}
        )
    if not 1 <= answer_minutes <= ANSWER_MAX:
        raise ValidationFailed(
            f"The time to answer is 1 to {ANSWER_MAX} minutes.", details={"field": "answer"}
        )
    if answer_minutes < accept_minutes:
        raise ValidationFailed(
            "The time to answer cannot be shorter than the time to accept.",
            code="answer_before_accept",
        )


def find_region(session: Session, code: str) -> MacroRegion:
    region = session.scalar(select(MacroRegion).where(MacroRegion.code == code))
    if region is None:
        raise NotFound(f"Unknown region {code!r}.", code="unknown_region")
    return region


def write(
    session: Session,
    actor: Principal,
    *,
    region: MacroRegion | None,
    urgency: Urgency,
    accept_minutes: int,
    answer_minutes: int,
) -> SlaPolicy:
    """Set one urgency's targets for a region (None: nationally); audited. The caller has
    checked who may (``set_target``; the CLI runs as the system)."""
    check_minutes(accept_minutes, answer_minutes)
    region_id = region.id if region is not None else None
    row = session.scalar(
        select(SlaPolicy).where(
            SlaPolicy.region_id.is_(None)
            if region_id is None
            else SlaPolicy.region_id == region_id,
            SlaPolicy.urgency == urgency,
        )
    )
    if row is None:
        row = SlaPolicy(
            region_id=region_id,
            urgency=urgency,
            accept_minutes=accept_minutes,
            answer_minutes=answer_minutes,
        )
        session.add(row)
    row.accept_minutes, row.answer_minutes = accept_minutes, answer_minutes
    session.flush()
    audit.record(
        session,
        actor,
        "consult:sla:changed",
        object_type="sla_policy",
        object_id=row.id,
        details={
            "urgency": urgency.value,
            "region": region.code if region is not None else None,
            "accept": accept_minutes,
            "answer": answer_minutes,
        },
    )
    return row


def set_target(
    session: Session,
    principal: Principal,
    *,
    region_code: str | None,
    urgency: Urgency,
    accept_minutes: int,
    answer_minutes: int,
) -> SlaPolicy:
    """A national administrator sets one urgency's targets, nationally or for a region."""
    require(
        principal, "admin", roles=frozenset({Role.NATIONAL_ADMIN}), action="consult:sla:changed"
    )
    region = find_region(session, region_code) if region_code else None
    return write(
        session,
        principal,
        region=region,
        urgency=urgency,
        accept_minutes=accept_minutes,
        answer_minutes=answer_minutes,
    )
