"""Referral JSON API under /api/v1: the facility directory, referrals and back-referrals,
clinic slots and calendars, appointments."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from hub import db
from hub.api.core import api_route
from hub.api.pagination import next_cursor
from hub.auth.principal import Principal
from referral import booking, fhir, links, reminders, services, targets, visits
from referral.models import Appointment, BookingLink, Referral, Slot
from referral.schemas import (
    AcceptQuery,
    AppointmentCancelIn,
    AppointmentIn,
    AppointmentOut,
    BackReferralIn,
    BackReferralOut,
    BookingLinkIn,
    BookingLinkOut,
    CalendarEntry,
    CalendarList,
    CancelIn,
    ClinicBrief,
    ClinicList,
    ClinicOut,
    ClinicQuery,
    DeclineIn,
    DirectoryEntry,
    DirectoryList,
    DirectoryQuery,
    FhirBundle,
    ReferralIn,
    ReferralList,
    ReferralOut,
    ReferralQuery,
    ReminderList,
    ReminderOut,
    RescheduleIn,
    SlotList,
    SlotOut,
    SlotQuery,
    TaskOut,
    VisitOut,
    WaitTargetIn,
    WaitTargetList,
    WaitTargetOut,
    WaitTargetQuery,
)

TAG = "referrals"


def referral_out(
    session: Session,
    principal: Principal,
    referral: Referral,
    clock: services.Clock | None = None,
    names: dict[int, str] | None = None,
) -> ReferralOut:
    """The referral with its back-referral, appointments, waiting clock and loop state."""
    out = ReferralOut.model_validate(referral)
    c = clock or services.clock(session, referral)
    out.waiting_days, out.wait_target_days = c.waiting_days, c.wait_target_days
    out.wait_breached, out.open_loop = c.wait_breached, list(c.open_loop)
    if names is None:
        names = services.patient_names(session, principal, {referral.patient_id})
    out.patient_name = names.get(referral.patient_id, "")
    if out.back_referral is not None and referral.back_referral is not None:
        today = services.utcnow().date()
        out.back_referral.tasks = [
            TaskOut.model_validate(t).model_copy(
                update={"overdue": t.due is not None and t.done_at is None and t.due < today}
            )
            for t in referral.back_referral.tasks
        ]
    return out


def slot_out(slot: Slot, free: bool) -> SlotOut:
    return SlotOut(
        id=slot.id,
        clinic=slot.clinic.code,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        mode=slot.mode,
        provider_id=slot.provider_id,
        free=free,
    )


# --- directory --------------------------------------------------------------------------------


@api_route(
    "/facilities",
    summary="The facility directory the referral form uses: facilities with a clinic for a "
    "specialty (?offers=pulmonology), with their clinics",
    scope="profile",
    tag=TAG,
    query=DirectoryQuery,
    response=DirectoryList,
)
def list_facilities(principal: Principal, query: DirectoryQuery) -> DirectoryList:
    rows = services.directory(db.session(), query.offers, query)
    items = [
        DirectoryEntry(
            id=fac.id,
            code=fac.code,
            name=fac.name,
            kind=fac.kind,
            level=fac.level,
            region=fac.region.code,
            timezone=fac.timezone,
            virtual_clinic=services.is_virtual(fac),
            clinics=[ClinicBrief.model_validate(c) for c in clinics],
        )
        for fac, clinics in rows
    ]
    return DirectoryList(items=items, next_cursor=next_cursor(items, query.limit, lambda e: e.id))


# --- referrals --------------------------------------------------------------------------------


@api_route(
    "/referrals",
    "POST",
    summary="Refer a patient to a facility that offers the specialty (422 if it does not; 409 "
    "with the live referral's id when the patient already has one for the specialty)",
    scope="consults:write",
    tag=TAG,
    body=ReferralIn,
    response=ReferralOut,
    status=201,
    errors=(404, 409),
)
def create_referral(principal: Principal, body: ReferralIn) -> ReferralOut:
    session = db.session()
    return referral_out(session, principal, services.create(session, principal, body))


@api_route(
    "/referrals",
    summary="Referrals you may see, newest first: ?open_loop=true for open loops (no "
    "back-referral within the region's target after the visit, or tasks overdue), "
    "?side=incoming|outgoing, ?patient_id=&specialty=&live=true (a live referral)",
    scope="consults:read",
    tag=TAG,
    query=ReferralQuery,
    response=ReferralList,
)
def list_referrals(principal: Principal, query: ReferralQuery) -> ReferralList:
    session = db.session()
    items, clocks, rows = services.list_visible(session, principal, query)
    names = services.patient_names(session, principal, {r.patient_id for r in items})
    return ReferralList(
        items=[referral_out(session, principal, r, clocks[r.id], names) for r in items],
        next_cursor=next_cursor(rows, query.limit, lambda r: r.id),
    )


@api_route(
    "/referrals/<int:referral_id>",
    summary="One referral with its back-referral, appointments and waiting time",
    scope="consults:read",
    tag=TAG,
    response=ReferralOut,
    errors=(404,),
)
def get_referral(principal: Principal, referral_id: int) -> ReferralOut:
    session = db.session()
    return referral_out(session, principal, services.get(session, principal, referral_id))


@api_route(
    "/referrals/<int:referral_id>/accept",
    "POST",
    summary="The receiving facility or clinic accepts; the receiving clinician is the caller "
    "or ?clinician=username",
    scope="consults:write",
    tag=TAG,
    query=AcceptQuery,
    response=ReferralOut,
    errors=(404, 409),
)
def accept_referral(principal: Principal, referral_id: int, query: AcceptQuery) -> ReferralOut:
    session = db.session()
    row = services.accept(session, principal, referral_id, query.clinician)
    return referral_out(session, principal, row)


@api_route(
    "/referrals/<int:referral_id>/decline",
    "POST",
    summary="The receiving facility or clinic declines, with a reason",
    scope="consults:write",
    tag=TAG,
    body=DeclineIn,
    response=ReferralOut,
    errors=(404, 409),
)
def decline_referral(principal: Principal, referral_id: int, body: DeclineIn) -> ReferralOut:
    session = db.session()
    row = services.decline(session, principal, referral_id, body.reason)
    return referral_out(session, principal, row)


@api_route(
    "/referrals/<int:referral_id>/cancel",
    "POST",
    summary="Cancel: the referring side cancels a new referral or requests the cancellation of "
    "an accepted one, which the receiving side confirms",
    scope="consults:write",
    tag=TAG,
    body=CancelIn,
    response=ReferralOut,
    errors=(404, 409),
)
def cancel_referral(principal: Principal, referral_id: int, body: CancelIn) -> ReferralOut:
    session = db.session()
    row = services.cancel(session, principal, referral_id, body.reason)
    return referral_out(session, principal, row)


@api_route(
    "/referrals/<int:referral_id>/back-referral",
    "POST",
    summary="The receiving clinician returns the back-referral: summary, findings, treatment, "
    "medication and follow-up tasks with due dates (403 for anyone else)",
    scope="consults:write",
    tag=TAG,
    body=BackReferralIn,
    response=BackReferralOut,
    status=201,
    errors=(404, 409),
)
def create_back_referral(
    principal: Principal, referral_id: int, body: BackReferralIn
) -> BackReferralOut:
    back = services.back_refer(db.session(), principal, referral_id, body)
    return BackReferralOut.model_validate(back)


@api_route(
    "/referrals/<int:referral_id>/back-referral/acknowledge",
    "POST",
    summary="The referring health post acknowledges the back-referral: the loop closes and "
    "the referral is completed (409 without a back-referral)",
    scope="consults:write",
    tag=TAG,
    response=ReferralOut,
    errors=(404, 409),
)
def acknowledge_back_referral(principal: Principal, referral_id: int) -> ReferralOut:
    session = db.session()
    row = services.acknowledge(session, principal, referral_id)
    return referral_out(session, principal, row)


@api_route(
    "/referrals/<int:referral_id>/tasks/<int:task_id>/done",
    "POST",
    summary="The referring health post marks a follow-up task of the back-referral done",
    scope="consults:write",
    tag=TAG,
    response=TaskOut,
    errors=(404,),
)
def complete_task(principal: Principal, referral_id: int, task_id: int) -> TaskOut:
    return TaskOut.model_validate(
        services.complete_task(db.session(), principal, referral_id, task_id)
    )


@api_route(
    "/referrals/<int:referral_id>/fhir",
    summary="The referral as FHIR R4: a ServiceRequest and its BSeR Task in a collection Bundle",
    scope="consults:read",
    tag=TAG,
    response=FhirBundle,
    errors=(404,),
)
def referral_fhir(principal: Principal, referral_id: int) -> FhirBundle:
    session = db.session()
    row = services.get(session, principal, referral_id, purpose="exported")
    return FhirBundle(entry=fhir.bundle_entries(row))


# --- clinics and appointments -----------------------------------------------------------------


@api_route(
    "/clinics",
    summary="Active clinics (a facility's calendar for a specialty); ?mine=true for the "
    "calendars you keep",
    scope="consults:read",
    tag=TAG,
    query=ClinicQuery,
    response=ClinicList,
)
def list_clinics(principal: Principal, query: ClinicQuery) -> ClinicList:
    rows = booking.clinics(db.session(), principal, query.facility, query.specialty, query.mine)
    return ClinicList(items=[ClinicOut.model_validate(c) for c in rows])


@api_route(
    "/clinics/<string:code>/slots",
    summary="A clinic's slots (a clinic code, or a facility code for all its clinics) "
    "?from=&to= (RFC 3339, at most 62 days), each free or taken",
    scope="consults:read",
    tag=TAG,
    query=SlotQuery,
    response=SlotList,
    errors=(404,),
)
def list_slots(principal: Principal, code: str, query: SlotQuery) -> SlotList:
    rows = booking.slots(
        db.session(), principal, code, query.start, query.end, query.mode, query.free
    )
    return SlotList(items=[slot_out(s, free) for s, free in rows])


@api_route(
    "/clinics/<string:code>/calendar",
    summary="A clinic's slots with their appointments ?from=&to=, for the clinic's staff",
    scope="consults:read",
    tag=TAG,
    query=SlotQuery,
    response=CalendarList,
    errors=(404,),
)
def clinic_calendar(principal: Principal, code: str, query: SlotQuery) -> CalendarList:
    session = db.session()
    rows = booking.calendar(session, principal, code, query.start, query.end)
    names = services.patient_names(session, principal, {a.patient_id for _, a in rows if a})
    return CalendarList(
        items=[
            CalendarEntry(
                slot=slot_out(s, a is None),
                appointment=AppointmentOut.model_validate(a) if a else None,
                patient_name=names.get(a.patient_id) if a else None,
            )
            for s, a in rows
        ]
    )


@api_route(
    "/appointments",
    "POST",
    summary="Book a slot for a patient, for a referral or directly; 409 with details.next_free "
    "when the slot is taken, the patient is booked then or the clinician is",
    scope="consults:write",
    tag=TAG,
    body=AppointmentIn,
    response=AppointmentOut,
    status=201,
    errors=(404, 409),
)
def book_appointment(principal: Principal, body: AppointmentIn) -> AppointmentOut:
    # Reminders go in the hub's default language: the patient's own is not on record.
    locale = current_app.config["HUB_SETTINGS"].default_locale
    return _appointment_out(booking.book(db.session(), principal, body, locale=locale))


def _appointment_out(appt: Appointment) -> AppointmentOut:
    return AppointmentOut.model_validate(appt)


@api_route(
    "/appointments/<int:appointment_id>",
    summary="One appointment",
    scope="consults:read",
    tag=TAG,
    response=AppointmentOut,
    errors=(404,),
)
def get_appointment(principal: Principal, appointment_id: int) -> AppointmentOut:
    return _appointment_out(booking.get(db.session(), principal, appointment_id))


@api_route(
    "/appointments/<int:appointment_id>/reschedule",
    "POST",
    summary="Move a booked appointment to another slot (409 with next free slots)",
    scope="consults:write",
    tag=TAG,
    body=RescheduleIn,
    response=AppointmentOut,
    status=201,
    errors=(404, 409),
)
def reschedule_appointment(
    principal: Principal, appointment_id: int, body: RescheduleIn
) -> AppointmentOut:
    return _appointment_out(
        booking.reschedule(db.session(), principal, appointment_id, body.slot_id)
    )


@api_route(
    "/appointments/<int:appointment_id>/cancel",
    "POST",
    summary="Cancel a booked appointment, with a reason",
    scope="consults:write",
    tag=TAG,
    body=AppointmentCancelIn,
    response=AppointmentOut,
    errors=(404, 409),
)
def cancel_appointment(
    principal: Principal, appointment_id: int, body: AppointmentCancelIn
) -> AppointmentOut:
    return _appointment_out(booking.cancel(db.session(), principal, appointment_id, body.reason))


@api_route(
    "/appointments/<int:appointment_id>/check-in",
    "POST",
    summary="The clinic records that the patient came (or joined the virtual visit)",
    scope="consults:write",
    tag=TAG,
    response=AppointmentOut,
    errors=(404, 409),
)
def check_in_appointment(principal: Principal, appointment_id: int) -> AppointmentOut:
    return _appointment_out(booking.check_in(db.session(), principal, appointment_id))


@api_route(
    "/appointments/<int:appointment_id>/video-visit",
    "POST",
    summary="The clinician starts a virtual appointment's video visit (or rejoins its open "
    "session): a video-mode consult is opened for it, requested by the referring health "
    "worker, and its video session with both of them in it",
    scope="consults:write",
    tag=TAG,
    response=VisitOut,
    status=201,
    errors=(403, 404, 409),
)
def start_video_visit(principal: Principal, appointment_id: int) -> VisitOut:
    visit = visits.start(db.session(), principal, appointment_id)
    return VisitOut(
        appointment_id=visit.appointment.id,
        consult_id=visit.consult_id,
        video_session_id=visit.video_session_id,
        join_url=visit.join_url,
    )


@api_route(
    "/appointments/<int:appointment_id>/no-show",
    "POST",
    summary="The clinic records that the patient did not come",
    scope="consults:write",
    tag=TAG,
    response=AppointmentOut,
    errors=(404, 409),
)
def no_show_appointment(principal: Principal, appointment_id: int) -> AppointmentOut:
    return _appointment_out(booking.no_show(db.session(), principal, appointment_id))


@api_route(
    "/appointments/<int:appointment_id>/reminders",
    summary="The appointment's reminders: when each is due, and whether it was sent "
    "(pending, sent, failed with its last error after its attempts, or cancelled)",
    scope="consults:read",
    tag=TAG,
    response=ReminderList,
    errors=(404,),
)
def appointment_reminders(principal: Principal, appointment_id: int) -> ReminderList:
    session = db.session()
    appt = booking.get(session, principal, appointment_id)
    rows = reminders.of_appointment(session, appt.id)
    return ReminderList(items=[ReminderOut.model_validate(r) for r in rows])


# --- the patient's booking links ----------------------------------------------------------------


def link_out(link: BookingLink, token: str | None = None) -> BookingLinkOut:
    return BookingLinkOut(
        id=link.id,
        url=f"/book/{token}" if token else None,
        clinic=link.clinic.code,
        referral_id=link.referral_id,
        patient_id=link.patient_id,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
    )


@api_route(
    "/booking-links",
    "POST",
    summary="Give the patient a link to book, move or cancel their appointment without an "
    "account: for a referral (its clinic), or for a patient at a clinic whose calendar you "
    "keep; the url is shown once",
    scope="consults:write",
    tag=TAG,
    body=BookingLinkIn,
    response=BookingLinkOut,
    status=201,
    errors=(404, 409),
)
def create_booking_link(principal: Principal, body: BookingLinkIn) -> BookingLinkOut:
    minted = links.mint(
        db.session(),
        principal,
        referral_id=body.referral_id,
        patient_id=body.patient_id,
        clinic_code=body.clinic,
        days=body.days,
    )
    return link_out(minted.link, minted.token)


@api_route(
    "/booking-links/<int:link_id>/revoke",
    "POST",
    summary="Withdraw a booking link: it never opens again (the appointment stays booked)",
    scope="consults:write",
    tag=TAG,
    response=BookingLinkOut,
    errors=(404, 409),
)
def revoke_booking_link(principal: Principal, link_id: int) -> BookingLinkOut:
    return link_out(links.revoke(db.session(), principal, link_id))


# --- regional waiting-time targets ---------------------------------------------------------------


@api_route(
    "/referral-targets",
    summary="The regions' waiting-time targets (days to first visit, and to the "
    "back-referral), per specialty or for all; ?region=CODE",
    scope="consults:read",
    tag=TAG,
    query=WaitTargetQuery,
    response=WaitTargetList,
)
def list_wait_targets(principal: Principal, query: WaitTargetQuery) -> WaitTargetList:
    session = db.session()
    rows = targets.list_targets(session, principal, query.region)
    return WaitTargetList(
        items=[WaitTargetOut.model_validate(targets.describe(session, r)) for r in rows]
    )


@api_route(
    "/referral-targets",
    "POST",
    summary="Set a region's waiting-time target (its command staff or a national "
    "administrator), for one specialty or for all; the referral clock measures breaches by it",
    scope="consults:read",
    tag=TAG,
    body=WaitTargetIn,
    response=WaitTargetOut,
    errors=(404,),
)
def set_wait_target(principal: Principal, body: WaitTargetIn) -> WaitTargetOut:
    session = db.session()
    row = targets.set_target(
        session,
        principal,
        region=body.region,
        specialty=body.specialty,
        days=body.days,
        back_referral_days=body.back_referral_days,
    )
    return WaitTargetOut.model_validate(targets.describe(session, row))
