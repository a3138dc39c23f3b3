"""Appointment reminders: records made when an appointment is booked (24 hours and 1 hour before
it), cancelled with the appointment, and sent by a periodic job through a :class:`Notifier`.

A reminder is ``pending`` until it is ``sent``, or ``failed`` once trying again cannot help (a
refused recipient) or after :data:`MAX_ATTEMPTS`; each attempt is counted and the last error
kept. The message names the place and time only: never the specialty, the reason for referral
or anything else clinical, since e-mail is not a confidential channel.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.calendars import format_date
from hub.config import SUPPORTED_LOCALES
from hub.models import utcnow
from hub.notify import DeliveryError, Notifier
from referral.models import (
    Appointment,
    AppointmentStatus,
    Reminder,
    ReminderStatus,
    VisitMode,
)

log = logging.getLogger(__name__)

LEADS_MINUTES = (24 * 60, 60)  # a day before, and an hour before
MAX_ATTEMPTS = 5
BATCH = 200
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_parts(value: datetime, zone_name: str | None, locale: str) -> tuple[str, str, str]:
    """(date, time, zone) of an instant in the clinic's zone, the date in the reader's
    calendar (Solar Hijri in Persian)."""
    zone = zone_of(zone_name)
    local = value.astimezone(zone)
    clock = local.strftime("%H:%M")
    if locale == "fa":
        clock = clock.translate(PERSIAN_DIGITS)
    return format_date(local, locale), clock, zone.key


def local_time(value: datetime, zone_name: str | None, locale: str) -> str:
    """e.g. "12 دی ۱۴۰۵ (2027-01-02) ۰۹:۳۰ Asia/Tehran"."""
    day, clock, zone = local_parts(value, zone_name, locale)
    return f"{day} {clock} {zone}"


def schedule(session: Session, appt: Appointment, recipient: str | None, locale: str) -> int:
    """Reminder records for a new appointment; none without an address or when the time has
    already passed. Returns how many were made."""
    if not recipient:
        return 0
    now = utcnow()
    locale = locale if locale in SUPPORTED_LOCALES else "en"
    made = 0
    for lead in LEADS_MINUTES:
        due = appt.starts_at - timedelta(minutes=lead)
        if appt.starts_at <= now:
            continue
        session.add(
            Reminder(
                appointment_id=appt.id,
                lead_minutes=lead,
                channel="email",
                recipient=recipient,
                locale=locale,
                # A reminder whose time has passed (booked at short notice) goes at once.
                due_at=max(due, now),
                status=ReminderStatus.PENDING,
                attempts=0,
            )
        )
        made += 1
    session.flush()
    return made


def cancel_for(session: Session, appointment_id: int) -> None:
    """The appointment was cancelled, moved or missed: its pending reminders are not sent."""
    for row in session.scalars(
        select(Reminder).where(
            Reminder.appointment_id == appointment_id, Reminder.status == ReminderStatus.PENDING
        )
    ):
        row.status = ReminderStatus.CANCELLED


def of_appointment(session: Session, appointment_id: int) -> list[Reminder]:
    return list(
        session.scalars(
            select(Reminder)
            .where(Reminder.appointment_id == appointment_id)
            .order_by(Reminder.lead_minutes.desc())
        )
    )


def message(appt: Appointment, locale: str) -> tuple[str, str]:
    """(subject, body) in the patient's language: the place and time, nothing clinical."""
    facility = appt.slot.clinic.facility
    with force_locale(locale):
        when = local_time(appt.starts_at, facility.timezone, locale)
        subject = _("Appointment reminder")
        lines = [
            _("You have an appointment at %(place)s.", place=facility.name),
            _("When: %(when)s", when=when),
        ]
        if appt.slot.mode is VisitMode.VIRTUAL:
            lines.append(_("This is a video visit: open the link you were given a little early."))
        else:
            lines.append(_("Please arrive ten minutes early."))
        lines.append(_("To move or cancel it, use your booking link or call the clinic."))
    return subject, "\n\n".join(lines) + "\n"


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2**attempts, 60))


def send_due(session: Session, notifier: Notifier, now: datetime | None = None) -> dict[str, int]:
    """Send the reminders that are due; counts of sent, failed, retried and cancelled."""
    now = now or utcnow()
    counts = {"sent": 0, "failed": 0, "retry": 0, "cancelled": 0}
    due = list(
        session.scalars(
            select(Reminder)
            .where(
                Reminder.status == ReminderStatus.PENDING,
                Reminder.due_at <= now,
                or_(Reminder.next_attempt_at.is_(None), Reminder.next_attempt_at <= now),
            )
            .order_by(Reminder.due_at, Reminder.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    for row in due:
        appt = row.appointment
        if appt.status is not AppointmentStatus.BOOKED or appt.starts_at <= now:
            # Cancelled or moved (also by a path that did not cancel it), or too late to help.
            row.status = ReminderStatus.CANCELLED
            counts["cancelled"] += 1
            continue
        subject, body = message(appt, row.locale)
        row.attempts += 1
        try:
            notifier.send(row.recipient, subject, body)
        except DeliveryError as exc:
            row.last_error = str(exc)[:2000]
            if exc.permanent or row.attempts >= MAX_ATTEMPTS:
                row.status = ReminderStatus.FAILED
                counts["failed"] += 1
            else:
                row.next_attempt_at = now + _backoff(row.attempts)
                counts["retry"] += 1
            log.warning("reminder %s not delivered (attempt %d): %s", row.id, row.attempts, exc)
            continue
        row.status = ReminderStatus.SENT
        row.sent_at = now
        row.channel = notifier.channel
        row.last_error = None
        counts["sent"] += 1
    session.flush()
    return counts
