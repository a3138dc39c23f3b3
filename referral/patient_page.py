"""The patient's booking page, opened from their booking link without an account: the clinic's
free times (in the clinic's zone, dates in the reader's calendar and language), and booking,
moving or cancelling their own appointment. It shows the patient's first name and their
appointment, nothing else of them.

Plain forms (no script needed on an old phone), each with the CSRF token. A time taken in the
meantime answers 409 with the next free times offered as the choices.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hub import db
from hub.errors import Conflict, HubError
from referral import links
from referral.models import BookingLink, Slot, VisitMode
from referral.reminders import local_parts, local_time

bp = Blueprint("referral_booking", __name__)

# The services' refusals the patient may meet, in the catalogue so that the error page shows
# them in the patient's language.
REFUSALS = (
    _l("This booking link is unknown, has expired or was withdrawn."),
    _l("Too many requests through this link; wait a few minutes."),
)
MODE_TEXT = {VisitMode.VIRTUAL: _l("Video visit"), VisitMode.IN_PERSON: _l("At the clinic")}
SHOWN = 40


def _locale() -> str:
    return str(get_locale() or "en")


def _day_groups(link: BookingLink, slots: list[Slot]) -> list[tuple[str, list[dict[str, Any]]]]:
    zone = link.clinic.facility.timezone
    locale = _locale()
    groups: dict[str, list[dict[str, Any]]] = {}
    for slot in slots[:SHOWN]:
        day, clock, _zone = local_parts(slot.starts_at, zone, locale)
        groups.setdefault(day, []).append(
            {"id": slot.id, "clock": clock, "mode": MODE_TEXT[slot.mode], "iso": slot.starts_at}
        )
    return list(groups.items())


def _page(
    link: BookingLink,
    *,
    status: int = 200,
    error: str | None = None,
    choices: list[Slot] | None = None,
) -> ResponseReturnValue:
    session = db.session()
    appt = links.current_appointment(session, link)
    free = links.free_slots(session, link) if choices is None else choices
    zone = link.clinic.facility.timezone
    html = render_template(
        "referral/book.html",
        link=link,
        token=request.view_args["token"] if request.view_args else "",
        first_name=link.patient.given_name,
        facility=link.clinic.facility,
        appointment=appt,
        appointment_text=local_time(appt.starts_at, zone, _locale()) if appt else None,
        appointment_mode=MODE_TEXT[appt.slot.mode] if appt else None,
        days=_day_groups(link, free),
        conflict=choices is not None,
        error=error,
        zone=zone or "UTC",
    )
    db.session().commit()  # the link's counter and the audit of what was shown
    return html, status, {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _slot_id() -> int:
    raw = request.form.get("slot_id", "")
    if not raw.isdigit() or len(raw) > 9:
        raise HubError(_("Choose a time first."), code="slot_required")
    return int(raw)


@bp.get("/book/<token>")
def page(token: str) -> ResponseReturnValue:
    session = db.session()
    link = links.open_link(session, token)
    links.viewed(session, link)
    return _page(link)


@bp.post("/book/<token>")
def act(token: str) -> ResponseReturnValue:
    session = db.session()
    link = links.open_link(session, token)
    action = request.form.get("action", "")
    try:
        if action == "book":
            links.book(session, link, _slot_id(), _locale())
            message = _("Your appointment is booked.")
        elif action == "move":
            links.reschedule(session, link, _slot_id(), _locale())
            message = _("Your appointment was moved.")
        elif action == "cancel":
            links.cancel(session, link)
            message = _("Your appointment was cancelled.")
        else:
            raise HubError(_("Choose what to do."), code="unknown_action")
    except Conflict as exc:
        session.rollback()
        link = links.open_link(session, token)
        offered = [s.get("id") for s in (exc.details or {}).get("next_free", [])]
        choices = list(
            session.scalars(select(Slot).where(Slot.id.in_(offered)).order_by(Slot.starts_at))
        )
        text = _("That time is no longer free. Choose one of the next free times:")
        if exc.code not in ("slot_taken", "slot_unavailable", "patient_double_booked"):
            text = _("This cannot be done through the link; please call the clinic.")
            choices = []
        return _page(link, status=409, error=text, choices=choices)
    session.commit()
    flash(message)
    return redirect(f"/book/{token}", code=303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
