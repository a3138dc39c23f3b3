"""The region's assisting physicians and the transfer thread they are consulted in (SEEDS 001:
the command headquarters prioritises transfers through each region's assisting physicians).

Who designates: the region's command staff and national administrators. Who reads a thread:
everyone who may see the transfer (its sides and the assisting physician for its specialty).
Who writes: the participants — both facilities, the region's command staff and the assisting
physician; a national administrator oversees without writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Facility, MacroRegion, Role, Specialty, User, UserRole, utcnow
from hub.permissions import require
from referral.command import rules, services
from referral.command.models import AssistingPhysician, Transfer, TransferMessage
from referral.command.rules import Side

DESIGNATORS = frozenset({Role.COMMAND, Role.NATIONAL_ADMIN})
# Who may be designated: a specialist of the specialty working in the region.
DESIGNABLE = frozenset({Role.SPECIALIST})


@dataclass(frozen=True)
class Designation:
    specialty: Specialty
    physician: User | None
    designated_at: datetime | None


def _region(session: Session, principal: Principal, code: str, action: str) -> MacroRegion:
    """The region by code, if the principal works for it (else 404, as if it did not exist)."""
    require(principal, "consults:read", roles=DESIGNATORS, action=action)
    region = session.scalar(select(MacroRegion).where(MacroRegion.code == code))
    if region is None:
        raise NotFound("Region not found.")
    if not (principal.has_role(Role.NATIONAL_ADMIN) or principal.region_id == region.id):
        # Another region's: audited as a refusal, answered as if it did not exist.
        raise AccessDenied(action=action, object_type="region", object_id=region.id, hide=True)
    return region


def designations(
    session: Session, principal: Principal, region_code: str
) -> tuple[MacroRegion, list[Designation]]:
    """Every specialty with the region's assisting physician for it (or none yet)."""
    action = "command:assisting:listed"
    region = _region(session, principal, region_code, action)
    current = {
        a.specialty_id: a
        for a in session.scalars(
            select(AssistingPhysician)
            .where(AssistingPhysician.region_id == region.id)
            .options(joinedload(AssistingPhysician.user))
        )
    }
    found = [
        Designation(
            s,
            current[s.id].user if s.id in current else None,
            current[s.id].designated_at if s.id in current else None,
        )
        for s in session.scalars(select(Specialty).order_by(Specialty.code))
    ]
    audit.record(session, principal, action, object_type="region", object_id=region.id)
    return region, found


def candidates(session: Session, region: MacroRegion) -> dict[int, list[User]]:
    """Who may be designated, per specialty id: active specialists working in the region."""
    people = session.scalars(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .join(Facility, Facility.id == User.facility_id)
        .where(
            User.is_active.is_(True),
            UserRole.role.in_(DESIGNABLE),
            Facility.region_id == region.id,
        )
        .order_by(User.full_name)
    ).unique()
    found: dict[int, list[User]] = {}
    for user in people:
        for specialty in user.specialties:
            found.setdefault(specialty.id, []).append(user)
    return found


def designate(
    session: Session,
    principal: Principal,
    region_code: str,
    specialty_code: str,
    username: str | None,
) -> Designation:
    """Name (or, with None, remove) the region's assisting physician for a specialty."""
    action = "command:assisting:designated"
    region = _region(session, principal, region_code, action)
    specialty = session.scalar(select(Specialty).where(Specialty.code == specialty_code))
    if specialty is None:
        raise NotFound("Specialty not found.")
    row = session.scalar(
        select(AssistingPhysician).where(
            AssistingPhysician.region_id == region.id,
            AssistingPhysician.specialty_id == specialty.id,
        )
    )
    user: User | None = None
    if username is not None:
        user = session.scalar(select(User).where(User.username == username))
        if (
            user is None
            or not user.is_active
            or not user.role_set & DESIGNABLE
            or specialty not in user.specialties
            or user.facility is None
            or user.facility.region_id != region.id
        ):
            raise ValidationFailed(
                "The assisting physician must be an active specialist of this specialty "
                "working in the region.",
                details=[{"field": "username", "problem": "not a specialist of it in the region"}],
            )
    previous = row.user_id if row is not None else None
    if user is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        row = AssistingPhysician(
            region_id=region.id,
            specialty_id=specialty.id,
            user_id=user.id,
            designated_by_id=principal.user_id,
            designated_at=utcnow(),
        )
        session.add(row)
    else:
        row.user_id = user.id
        row.designated_by_id = principal.user_id
        row.designated_at = utcnow()
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="region",
        object_id=region.id,
        details={
            "specialty": specialty.code,
            "from_user_id": previous,
            "to_user_id": user.id if user else None,
        },
    )
    return Designation(specialty, user, row.designated_at if user and row else None)


def may_write(session: Session, principal: Principal, transfer: Transfer) -> bool:
    """A participant of the thread (a national administrator only oversees)."""
    sides = services.sides_of(principal, transfer)
    if sides & {Side.ORIGIN, Side.DESTINATION}:
        return True
    if principal.has_role(Role.COMMAND) and principal.region_id == transfer.region_id:
        return True
    return principal.user_id is not None and principal.user_id == services.assisting_physician_id(
        session, transfer
    )


def messages(
    session: Session,
    principal: Principal,
    transfer_id: int,
    *,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[TransferMessage]:
    """The thread of a transfer the principal may see (404 otherwise), oldest first."""
    transfer = services.get(session, principal, transfer_id)
    return thread_of(session, transfer, after_id=after_id, limit=limit)


def thread_of(
    session: Session, transfer: Transfer, *, after_id: int | None = None, limit: int | None = None
) -> list[TransferMessage]:
    stmt = (
        select(TransferMessage)
        .where(TransferMessage.transfer_id == transfer.id)
        .options(joinedload(TransferMessage.author))
        .order_by(TransferMessage.id)
    )
    if after_id is not None:
        stmt = stmt.where(TransferMessage.id > after_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def post_message(
    session: Session, principal: Principal, transfer_id: int, text: str
) -> TransferMessage:
    """Add a message to the thread; the participants and the assisting physician hear of it."""
    action = "command:transfer:message_posted"
    transfer = services.get(session, principal, transfer_id)
    if not may_write(session, principal, transfer):
        raise AccessDenied(
            "Only the transfer's participants write in its thread.",
            action=action,
            object_type="transfer",
            object_id=transfer.id,
        )
    if transfer.status in rules.TERMINAL:
        raise Conflict("The transfer is closed: its thread is read-only.", code="transfer_closed")
    assert principal.user_id is not None  # a participant is a person
    message = TransferMessage(
        transfer_id=transfer.id, author_id=principal.user_id, at=utcnow(), text=text.strip()
    )
    session.add(message)
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="transfer",
        object_id=transfer.id,
        details={"message_id": message.id},
    )
    services.notify(session, transfer, "transfer.message", message_id=message.id)
    return message


def consulted_on(session: Session, principal: Principal) -> list[Transfer]:
    """Open transfers on which the principal is the region's assisting physician."""
    if principal.user_id is None:
        return []
    return list(
        session.scalars(
            select(Transfer)
            .join(
                AssistingPhysician,
                (AssistingPhysician.region_id == Transfer.region_id)
                & (AssistingPhysician.specialty_id == Transfer.specialty_id),
            )
            .where(
                AssistingPhysician.user_id == principal.user_id,
                Transfer.status.not_in(rules.TERMINAL),
            )
            .order_by(Transfer.id.desc())
            .limit(20)
        )
    )
