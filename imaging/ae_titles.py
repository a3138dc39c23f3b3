"""The calling AE titles a facility's modalities (or its PACS proxy) send and query with.

A facility administrator keeps their own facility's titles; a national administrator keeps
every facility's. A title is never deleted: disabling it refuses its associations from then on
and keeps the row for the record (instances name the calling AE they came from). Every change
is audited.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.config import ConfigError, ae_title
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Facility, Role, utcnow
from hub.permissions import require
from imaging.models import AeKind, CallingAe

KEEPERS = frozenset({Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN})


def _national(principal: Principal) -> bool:
    return principal.has_role(Role.NATIONAL_ADMIN)


def _checked(principal: Principal, action: str) -> None:
    require(principal, "admin", roles=KEEPERS, action=action)


def _valid_title(value: str) -> str:
    try:
        return ae_title(value, "ae_title")
    except ConfigError:
        raise ValidationFailed(
            "An AE title is 1 to 16 letters, digits, spaces, '_', '-' or '.'.",
            details={"ae_title": "invalid"},
        ) from None


def _facility(session: Session, principal: Principal, facility_id: int, action: str) -> Facility:
    """A facility the principal keeps titles for."""
    facility = session.get(Facility, facility_id)
    if facility is None:
        raise ValidationFailed("Unknown facility.", details={"facility_id": facility_id})
    if not _national(principal) and facility.id != principal.facility_id:
        raise AccessDenied(
            "You keep the AE titles of your own facility only.",
            action=action,
            object_type="facility",
            object_id=facility.id,
        )
    return facility


def facilities(session: Session, principal: Principal) -> list[Facility]:
    """The facilities whose titles the principal keeps."""
    _checked(principal, "imaging:ae:listed")
    stmt = select(Facility).order_by(Facility.code)
    if not _national(principal):
        stmt = stmt.where(Facility.id == principal.facility_id)
    return list(session.scalars(stmt))


def list_titles(
    session: Session, principal: Principal, *, facility_id: int | None = None
) -> list[CallingAe]:
    """The titles the principal keeps (disabled ones too), by facility and title."""
    _checked(principal, "imaging:ae:listed")
    stmt = select(CallingAe).join(Facility, Facility.id == CallingAe.facility_id)
    if not _national(principal):
        stmt = stmt.where(CallingAe.facility_id == principal.facility_id)
    if facility_id is not None:
        stmt = stmt.where(CallingAe.facility_id == facility_id)
    return list(session.scalars(stmt.order_by(Facility.code, CallingAe.ae_title)))


def get_title(session: Session, principal: Principal, ae_id: int) -> CallingAe:
    """One title the principal keeps; another facility's is not found."""
    _checked(principal, "imaging:ae:viewed")
    row = session.get(CallingAe, ae_id)
    if row is None or (not _national(principal) and row.facility_id != principal.facility_id):
        raise NotFound("Not found.")
    return row


def _taken(session: Session, title: str, except_id: int | None = None) -> CallingAe | None:
    row = session.scalar(select(CallingAe).where(CallingAe.ae_title == title))
    return None if row is None or row.id == except_id else row


READING_URGENCIES = ("routine", "urgent", "emergency")


def _valid_urgency(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if value not in READING_URGENCIES:
        raise ValidationFailed(
            "Reading on arrival is routine, urgent, emergency, or none.",
            details={"reading_urgency": "invalid"},
        )
    return value


def add_title(
    session: Session,
    principal: Principal,
    title: str,
    facility_id: int,
    kind: AeKind,
    reading_urgency: str | None = None,
) -> CallingAe:
    """Allow a calling AE title for a facility; a disabled one of that name is taken over."""
    action = "imaging:ae:added"
    _checked(principal, action)
    title = _valid_title(title)
    urgency = _valid_urgency(reading_urgency)
    facility = _facility(session, principal, facility_id, action)
    row = _taken(session, title)
    if row is not None and row.disabled_at is None:
        raise Conflict(
            "This AE title is in use already; each modality needs a title of its own.",
            code="ae_title_taken",
            details={"ae_title": title},
        )
    if row is None:
        row = CallingAe(ae_title=title, facility_id=facility.id, kind=kind)
        session.add(row)
    row.facility_id, row.kind, row.disabled_at = facility.id, kind, None
    row.reading_urgency = urgency
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="calling_ae",
        object_id=row.id,
        details={
            "ae_title": title,
            "facility": facility.code,
            "kind": kind.value,
            "reading_urgency": urgency,
        },
    )
    return row


def update_title(
    session: Session,
    principal: Principal,
    ae_id: int,
    *,
    title: str,
    kind: AeKind,
    facility_id: int | None = None,
    reading_urgency: str | None = None,
) -> CallingAe:
    """Rename a title, change its kind, whether its studies are sent for reading on arrival,
    or (national administrators) its facility."""
    action = "imaging:ae:changed"
    _checked(principal, action)
    row = get_title(session, principal, ae_id)
    title = _valid_title(title)
    urgency = _valid_urgency(reading_urgency)
    if _taken(session, title, except_id=row.id) is not None:
        raise Conflict(
            "This AE title is in use already; each modality needs a title of its own.",
            code="ae_title_taken",
            details={"ae_title": title},
        )
    facility = _facility(session, principal, facility_id or row.facility_id, action)
    before = {
        "ae_title": row.ae_title,
        "facility_id": row.facility_id,
        "kind": row.kind.value,
        "reading_urgency": row.reading_urgency,
    }
    row.ae_title, row.kind, row.facility_id = title, kind, facility.id
    row.reading_urgency = urgency
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="calling_ae",
        object_id=row.id,
        details={
            "before": before,
            "ae_title": title,
            "facility": facility.code,
            "kind": kind.value,
            "reading_urgency": urgency,
        },
    )
    return row


def set_disabled(session: Session, principal: Principal, ae_id: int, disabled: bool) -> CallingAe:
    """Refuse (or allow again) a title's associations from now on."""
    action = "imaging:ae:disabled" if disabled else "imaging:ae:enabled"
    _checked(principal, action)
    row = get_title(session, principal, ae_id)
    if disabled == (row.disabled_at is not None):
        return row  # already so: nothing changes, nothing to audit
    row.disabled_at = utcnow() if disabled else None
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="calling_ae",
        object_id=row.id,
        details={"ae_title": row.ae_title},
    )
    return row
