"""A sending facility's contact list for critical results (SEEDS 004: early warning to the
sending institution), beside the Socket.IO alert and the banner its on-duty staff see.

Each contact gets an e-mail through the durable outbox when a critical result is raised for one
of the facility's studies, so an SMTP server that is down delays the notice but loses nothing.
The notice names the category, the deadline and the page to acknowledge it on, never the
patient or the finding: e-mail leaves the hub. Kept by the facility's administrators (national
administrators for any facility); every change is audited."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit, notify, outbox
from hub.auth.principal import Principal
from hub.calendars import format_datetime
from hub.config import SUPPORTED_LOCALES
from hub.errors import AccessDenied, Conflict, NotFound
from hub.models import Facility, Role
from imaging.reading.models import CriticalContact, CriticalEvent, CriticalResult, CriticalStatus

TOPIC = "imaging.critical_contact"
KEEPERS = frozenset({Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN})
MAX_CONTACTS = 50


def _keeps(principal: Principal, facility: Facility) -> bool:
    if principal.has_role(Role.NATIONAL_ADMIN):
        return True
    return principal.has_role(Role.FACILITY_ADMIN) and principal.facility_id == facility.id


def kept_facility(session: Session, principal: Principal, code: str, action: str) -> Facility:
    """The facility of ``code`` if the caller keeps its list; another's is not found."""
    facility = session.scalar(select(Facility).where(Facility.code == code))
    if facility is None or not _keeps(principal, facility):
        raise AccessDenied(action=action, object_type="facility", object_id=code, hide=True)
    return facility


def of_facility(session: Session, principal: Principal, code: str) -> tuple[Facility, list[Any]]:
    action = "imaging:critical_contacts:viewed"
    facility = kept_facility(session, principal, code, action)
    rows = list(
        session.scalars(
            select(CriticalContact)
            .where(CriticalContact.facility_id == facility.id)
            .order_by(CriticalContact.name, CriticalContact.id)
        )
    )
    audit.record(session, principal, action, object_type="facility", object_id=facility.code)
    return facility, rows


def add(
    session: Session, principal: Principal, code: str, name: str, email: str, locale: str
) -> CriticalContact:
    action = "imaging:critical_contacts:added"
    facility = kept_facility(session, principal, code, action)
    count = len(
        session.scalars(
            select(CriticalContact.id).where(CriticalContact.facility_id == facility.id)
        ).all()
    )
    if count >= MAX_CONTACTS:
        raise Conflict(
            f"A facility keeps at most {MAX_CONTACTS} contacts.", code="too_many_contacts"
        )
    assert principal.user_id is not None
    row = CriticalContact(
        facility_id=facility.id,
        name=name,
        email=email.lower(),
        locale=locale if locale in SUPPORTED_LOCALES else "en",
        added_by_id=principal.user_id,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(
            "This address is already on the facility's list.", code="contact_exists"
        ) from None
    audit.record(
        session,
        principal,
        action,
        object_type="critical_contact",
        object_id=row.id,
        details={"facility": facility.code},
    )
    return row


def remove(session: Session, principal: Principal, code: str, contact_id: int) -> None:
    action = "imaging:critical_contacts:removed"
    facility = kept_facility(session, principal, code, action)
    row = session.get(CriticalContact, contact_id)
    if row is None or row.facility_id != facility.id:
        raise NotFound("Not found.")
    session.delete(row)
    audit.record(
        session,
        principal,
        action,
        object_type="critical_contact",
        object_id=contact_id,
        details={"facility": facility.code},
    )


def queue_notices(session: Session, result: CriticalResult, facility_id: int) -> int:
    """One outbox message per contact of the facility, in the raising transaction."""
    ids = session.scalars(
        select(CriticalContact.id).where(CriticalContact.facility_id == facility_id)
    ).all()
    for contact_id in ids:
        outbox.add(session, TOPIC, {"result_id": result.id, "contact_id": contact_id})
    return len(ids)


def notice(result: CriticalResult, locale: str, base_url: str) -> tuple[str, str]:
    """(subject, body) in the contact's language: the category, deadline and link only."""
    with force_locale(locale):
        subject = _("Critical result (category %(n)s) to acknowledge", n=result.category)
        lines = [
            _(
                "A teleradiology reading found a critical result (category %(n)s) in a study "
                "your facility sent.",
                n=result.category,
            ),
            _("Acknowledge it by %(when)s:", when=format_datetime(result.ack_due_at, locale)),
            f"{base_url.rstrip('/')}/reading/critical-results/{result.id}",
            _("Only the facility's staff can open this page, after logging in."),
        ]
    return subject, "\n\n".join(lines) + "\n"


def deliver(session: Session, payload: dict[str, Any]) -> None:
    """Outbox handler of ``TOPIC``: e-mail one contact, once; none after acknowledgement."""
    result = session.get(CriticalResult, int(payload["result_id"]))
    if result is None:
        raise outbox.PermanentError("the critical result is gone")
    contact = session.get(CriticalContact, int(payload["contact_id"]))
    if contact is None or result.status is CriticalStatus.ACKNOWLEDGED:
        return  # removed from the list, or already acknowledged: nothing to warn about
    settings = current_app.config["HUB_SETTINGS"]
    subject, body = notice(result, contact.locale, settings.base_url)
    try:
        notify.from_settings(settings.notify).send(contact.email, subject, body)
    except notify.DeliveryError as exc:
        if exc.permanent:
            raise outbox.PermanentError(str(exc)) from None
        raise outbox.RetryableError(str(exc)) from None
    session.add(
        CriticalEvent(
            result_id=result.id,
            kind="contact_notified",
            details={"contact": contact.name, "channel": "email"},
        )
    )
