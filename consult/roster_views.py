"""On-call pages: a consultant's own live status and shifts (/oncall), and the week's published
roster (/rosters), which roster administrators also edit.

The pages read through ``consult.rosters``; their scripts change things through the JSON API
(``PUT /api/v1/specialists/me/availability``, ``POST`` and ``DELETE /api/v1/roster/shifts``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult import rosters
from consult.display import STATE_LABELS, specialty_label
from consult.models import Shift, SpecialistState
from hub import db
from hub.auth.principal import Principal, user_principal
from hub.models import Facility, Role, Specialty, User, utcnow
from hub.permissions import require

bp = Blueprint("roster_pages", __name__)

CONSULTANTS = frozenset({Role.SPECIALIST, Role.RADIOLOGIST})
# The states a consultant chooses themselves; "off shift" follows from the roster.
CHOSEN_STATES = (SpecialistState.AVAILABLE, SpecialistState.BUSY, SpecialistState.ON_BREAK)
PAUSES = (0, 15, 30, 60, 120, 240)


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


# Messages the page scripts show ({name}-style fields are filled in by the script).
JS_TEXT = {
    "failed": _l("Could not complete: {error}"),
    "network": _l("No connection to the hub."),
    "availability_saved": _l("Your status is saved."),
    "shift_added": _l("Shift published."),
    "shift_removed": _l("Shift removed."),
    "confirm_remove_shift": _l("Remove this shift from the roster?"),
}


def _js_text() -> dict[str, str]:
    return {key: str(value) for key, value in JS_TEXT.items()}


def _week_start(raw: str | None) -> date:
    """The first day shown: ``?week=YYYY-MM-DD``, else today (UTC)."""
    try:
        return date.fromisoformat(raw or "")
    except ValueError:
        return utcnow().date()


def _specialties(session: Session, shifts: list[Shift]) -> dict[int, Specialty]:
    ids = {s.specialty_id for s in shifts}
    if not ids:
        return {}
    return {s.id: s for s in session.scalars(select(Specialty).where(Specialty.id.in_(ids)))}


@bp.get("/oncall")
@login_required
def oncall() -> ResponseReturnValue:
    """A consultant's live status (available, busy, on a break), pause, case limit, shifts."""
    principal = _principal()
    require(principal, "consults:read", roles=CONSULTANTS, action="consult:availability:viewed")
    assert principal.user_id is not None
    session = db.session()
    status = rosters.live_states(session, {principal.user_id}).get(principal.user_id)
    now = utcnow()
    shifts = rosters.shifts_of_specialist(session, principal.user_id, now, now + timedelta(days=7))
    state = status.state if status is not None else SpecialistState.AVAILABLE
    paused_until = status.paused_until if status is not None else None
    return render_template(
        "consult/oncall.html",
        state=state,
        chosen_states=CHOSEN_STATES,
        state_labels=STATE_LABELS,
        paused_until=paused_until if paused_until and paused_until > now else None,
        max_concurrent=status.max_concurrent
        if status is not None
        else rosters.DEFAULT_MAX_CONCURRENT,
        pauses=PAUSES,
        shifts=shifts,
        on_call_now=any(s.starts_at <= now < s.ends_at for s in shifts),
        specialties=_specialties(session, shifts),
        specialty_label=specialty_label,
        js_text=_js_text(),
    )


@bp.get("/rosters")
@login_required
def roster() -> ResponseReturnValue:
    """The published on-call roster for seven days, per specialty; editable by its admins."""
    principal = _principal()
    session = db.session()
    first = _week_start(request.args.get("week"))
    start = datetime.combine(first, time.min, tzinfo=UTC)
    end = start + timedelta(days=7)
    specialties = sorted(session.scalars(select(Specialty)), key=specialty_label)
    code = request.args.get("specialty") or None
    if code not in {s.code for s in specialties}:
        code = None
    shifts = rosters.shifts_of(session, principal, specialty_code=code, start=start, end=end)
    by_id = {s.id: s for s in specialties}
    shifts.sort(key=lambda s: (specialty_label(by_id[s.specialty_id]), s.starts_at))
    editor = bool(principal.roles & rosters.ROSTER_ADMINS)
    people: list[User] = []
    places: list[Facility] = []
    if editor:
        people, places = rosters.publishable(session, principal)
    editable = {
        s.id
        for s in shifts
        if editor
        and (principal.has_role(Role.NATIONAL_ADMIN) or s.facility_id == principal.facility_id)
    }
    html = render_template(
        "consult/rosters.html",
        first=first,
        previous_week=(first - timedelta(days=7)).isoformat(),
        next_week=(first + timedelta(days=7)).isoformat(),
        last=first + timedelta(days=6),
        specialty=code,
        specialties=specialties,
        by_id=by_id,
        shifts=shifts,
        states=rosters.live_states(session, {s.specialist_id for s in shifts}),
        state_labels=STATE_LABELS,
        now=utcnow(),
        editor=editor,
        editable=editable,
        people=people,
        places=places,
        specialty_label=specialty_label,
        js_text=_js_text(),
    )
    session.commit()  # the refusals and reads the services audited
    return html


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
