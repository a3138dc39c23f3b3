"""Referral pages: the referral lists (outgoing, incoming), refer, one referral (accept, decline,
book, check in, back-referral, acknowledgement), open loops, and a clinic's calendar.

A view reads through the services (checked and audited there) and renders; changes go through
the JSON API from ``referral.js`` with the page's CSRF token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from consult.schemas import label_of_specialty
from hub import db
from hub.auth.principal import Principal, user_principal
from hub.models import Patient, Specialty, utcnow
from hub.permissions import REQUESTER_ROLES, patient_visibility
from insurance import services as insurance
from referral import booking, links, reminders, services, visits
from referral.access import STAFF_ROLES, keeps_calendar, on_receiving_side, on_referring_side
from referral.models import (
    AppointmentStatus,
    Clinic,
    Referral,
    ReferralStatus,
    ReminderStatus,
    VisitMode,
    VisitSetting,
)
from referral.schemas import ReferralQuery

bp = Blueprint("referral_pages", __name__, url_prefix="/referrals")

STATUS_LABELS = {
    ReferralStatus.CREATED: _l("Sent, awaiting acceptance"),
    ReferralStatus.ACCEPTED: _l("Accepted"),
    ReferralStatus.DECLINED: _l("Declined"),
    ReferralStatus.SCHEDULED: _l("Appointment booked"),
    ReferralStatus.NO_SHOW: _l("Patient did not attend"),
    ReferralStatus.EVENT_CANCELLED: _l("Appointment cancelled"),
    ReferralStatus.EVENT_COMPLETED: _l("Visit done"),
    ReferralStatus.CANCELLATION_REQUESTED: _l("Cancellation requested"),
    ReferralStatus.CANCELLED: _l("Cancelled"),
    ReferralStatus.COMPLETED: _l("Completed, loop closed"),
}
APPOINTMENT_LABELS = {
    AppointmentStatus.BOOKED: _l("Booked"),
    AppointmentStatus.CHECKED_IN: _l("Checked in"),
    AppointmentStatus.NO_SHOW: _l("Did not attend"),
    AppointmentStatus.CANCELLED: _l("Cancelled"),
}
MODE_LABELS = {VisitMode.VIRTUAL: _l("Virtual visit"), VisitMode.IN_PERSON: _l("In person")}
SETTING_LABELS = {
    VisitSetting.OUTPATIENT: _l("Outpatient"),
    VisitSetting.INPATIENT: _l("Inpatient (admitted)"),
}
REMINDER_LABELS = {
    ReminderStatus.PENDING: _l("Waiting to be sent"),
    ReminderStatus.SENT: _l("Sent"),
    ReminderStatus.FAILED: _l("Could not be sent"),
    ReminderStatus.CANCELLED: _l("Not sent (cancelled)"),
}
LOOP_LABELS = {
    "no_back_referral": _l("No back-referral after the visit"),
    "tasks_overdue": _l("Follow-up tasks overdue"),
    "not_acknowledged": _l("Back-referral not acknowledged"),
}


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def _specialty_label(specialty: Specialty) -> str:
    return label_of_specialty(specialty.code, specialty.name)


def _render(template: str, **context: Any) -> str:
    html = render_template(
        template,
        status_labels=STATUS_LABELS,
        appointment_labels=APPOINTMENT_LABELS,
        mode_labels=MODE_LABELS,
        setting_labels=SETTING_LABELS,
        reminder_labels=REMINDER_LABELS,
        loop_labels=LOOP_LABELS,
        specialty_label=_specialty_label,
        **context,
    )
    db.session().commit()  # the audit rows of what the page read
    return html


def _rows(principal: Principal, **filters: Any) -> list[tuple[Referral, services.Clock]]:
    session = db.session()
    items, clocks, _ = services.list_visible(
        session, principal, ReferralQuery(limit=100, **filters)
    )
    return [(r, clocks[r.id]) for r in items]


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    outgoing = _rows(principal, side="outgoing") if principal.facility_id else []
    incoming = _rows(principal, side="incoming")
    ids = {r.patient_id for r, _ in outgoing + incoming}
    return _render(
        "referral/index.html",
        outgoing=outgoing,
        incoming=incoming,
        names=services.patient_names(session, principal, ids),
        can_refer=bool(principal.roles & REQUESTER_ROLES) and principal.facility_id is not None,
        clinics=booking.clinics(session, principal, None, None, mine=True),
    )


@bp.get("/open-loops")
@login_required
def open_loops() -> ResponseReturnValue:
    principal = _principal()
    rows = _rows(principal, open_loop=True)
    names = services.patient_names(db.session(), principal, {r.patient_id for r, _ in rows})
    return _render("referral/open_loops.html", rows=rows, names=names)


@bp.get("/new")
@login_required
def new() -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    patients = list(
        session.scalars(
            select(Patient)
            .where(patient_visibility(principal), Patient.merged_into_id.is_(None))
            .order_by(Patient.family_name, Patient.given_name)
            .limit(200)
        )
    )
    specialties = list(session.scalars(select(Specialty).order_by(Specialty.name)))
    return _render(
        "referral/new.html",
        patients=patients,
        specialties=specialties,
        chosen_patient=request.args.get("patient_id", type=int),
        chosen_specialty=request.args.get("specialty", ""),
        consult_id=request.args.get("consult_id", type=int),
        can_refer=bool(principal.roles & REQUESTER_ROLES) and principal.facility_id is not None,
    )


@bp.get("/<int:referral_id>")
@login_required
def show(referral_id: int) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    referral = services.get(session, principal, referral_id)
    clock = services.clock(session, referral)
    receiving = on_receiving_side(session, principal, referral)
    referring = on_referring_side(principal, referral)
    clinics = list(
        session.scalars(
            select(Clinic).where(
                Clinic.facility_id == referral.to_facility_id,
                Clinic.specialty_id == referral.specialty_id,
                Clinic.active.is_(True),
            )
        )
    )
    live = [a for a in referral.appointments if a.status is AppointmentStatus.BOOKED]
    visit_states = {a.id: visits.page_state(session, principal, a) for a in referral.appointments}
    back = referral.back_referral
    today = utcnow().date()
    return _render(
        "referral/show.html",
        referral=referral,
        visit_states=visit_states,
        clock=clock,
        patient_name=services.patient_names(session, principal, {referral.patient_id}).get(
            referral.patient_id, ""
        ),
        receiving=receiving,
        referring=referring,
        is_clinician=principal.user_id == referral.receiving_clinician_id,
        clinics=clinics,
        live_appointments=live,
        keeps_calendar=any(keeps_calendar(session, principal, c) for c in clinics),
        can_accept=receiving and referral.status is ReferralStatus.CREATED,
        can_decline=receiving
        and referral.status in (ReferralStatus.CREATED, ReferralStatus.ACCEPTED),
        can_book=(receiving or referring) and referral.status in booking.BOOKABLE_REFERRAL,
        can_answer=principal.user_id == referral.receiving_clinician_id
        and back is None
        and referral.status in services.ANSWERABLE,
        can_acknowledge=referring and back is not None and back.acknowledged_at is None,
        can_cancel=(referring and referral.status in services.LIVE)
        or (receiving and referral.status is ReferralStatus.CANCELLATION_REQUESTED),
        today=today,
        booking_links=[
            bl for bl in links.of_referral(session, principal, referral.id) if links.is_active(bl)
        ]
        if receiving or referring
        else [],
        can_link=(receiving or referring) and referral.status in links.OPEN_REFERRAL,
        setting_outpatient=VisitSetting.OUTPATIENT,
        setting_inpatient=VisitSetting.INPATIENT,
    )


@bp.get("/appointments/<int:appointment_id>")
@login_required
def appointment(appointment_id: int) -> ResponseReturnValue:
    """One appointment: when, where, how; check in, did not attend, cancel with a reason,
    reschedule, the patient's booking link, and its reminders."""
    principal = _principal()
    session = db.session()
    appt = booking.get(session, principal, appointment_id)
    clinic = appt.slot.clinic
    keeps = keeps_calendar(session, principal, clinic)
    referral = appt.referral
    may_change = keeps or (
        referral is not None
        and (
            on_referring_side(principal, referral)
            or on_receiving_side(session, principal, referral)
        )
    )
    booked = appt.status is AppointmentStatus.BOOKED
    visit = visits.page_state(session, principal, appt)
    return _render(
        "referral/appointment.html",
        visit_open=visit.open,
        visit_member=visit.member,
        can_start_visit=visit.can_start,
        visit_startable=visit.startable,
        appt=appt,
        clinic=clinic,
        patient_name=services.patient_names(session, principal, {appt.patient_id}).get(
            appt.patient_id, ""
        ),
        reminders=reminders.of_appointment(session, appt.id),
        keeps_calendar=keeps,
        can_check_in=keeps and booked,
        can_no_show=keeps and booked and appt.starts_at <= utcnow(),
        can_change=may_change and booked,
        can_link=may_change and booked and bool(principal.roles & STAFF_ROLES),
    )


@bp.get("/appointments/<int:appointment_id>/reschedule")
@login_required
def reschedule(appointment_id: int) -> ResponseReturnValue:
    """Move a booked appointment to another free slot of its clinic (409 offers the next)."""
    principal = _principal()
    session = db.session()
    appt = booking.get(session, principal, appointment_id)
    return _render(
        "referral/reschedule.html",
        appt=appt,
        clinic=appt.slot.clinic,
        booked=appt.status is AppointmentStatus.BOOKED,
    )


@bp.get("/clinics/<string:code>")
@login_required
def calendar(code: str) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    days = max(1, min(request.args.get("days", default=7, type=int) or 7, 31))
    start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = booking.calendar(session, principal, code, start, start + timedelta(days=days))
    clinic = booking.clinics_by_code(session, code)[0]
    names = services.patient_names(session, principal, {a.patient_id for _, a in rows if a})
    by_day: dict[str, list[Any]] = {}
    for slot, appt in rows:
        by_day.setdefault(slot.starts_at.date().isoformat(), []).append((slot, appt))
    return _render(
        "referral/calendar.html",
        clinic=clinic,
        by_day=by_day,
        names=names,
        days=days,
        virtual=services.is_virtual(clinic.facility),
        # A virtual clinic contracts insurers directly (SEEDS 001); no patient data.
        contracts=insurance.facility_contracts(session, clinic.facility_id),
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
