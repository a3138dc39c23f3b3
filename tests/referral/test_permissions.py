"""Permission matrix of the referral API (the rows for its routes; see tests/hub)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.auth.principal import user_principal
from hub.models import Specialty, User, utcnow
from referral import booking, links, services
from referral.models import (
    Appointment,
    AppointmentStatus,
    BackReferralTask,
    Slot,
    VisitMode,
)
from referral.schemas import AppointmentIn, ReferralIn
from tests.referral.support import clinic
from tests.support import factories as f
from tests.support.matrix import Rule, run_matrix
from tests.support.personas import World

EVERYONE = frozenset(
    {
        "hw_a",
        "hw_b",
        "gp_a",
        "specialist",
        "command_x",
        "command_y",
        "admin_a",
        "national",
        "insurer_a",
        "insurer_b",
    }
)
READERS = EVERYONE - {"insurer_a", "insurer_b"}  # consults:read
# The probe referrals go from facility A to the hospital of region X, whose pulmonology clinic
# has the world's specialist.
SEE_REFERRAL = frozenset({"hw_a", "gp_a", "admin_a", "specialist", "command_x", "national"})
REFERRING = frozenset({"hw_a", "gp_a"})
RECEIVING = frozenset({"specialist"})
CALENDAR = frozenset({"specialist", "national"})


@dataclass(frozen=True)
class Probe:
    referral_id: int = 0  # accepted, back-referred and acknowledged by the rules in turn
    decline_id: int = 0
    cancel_id: int = 0
    new_patient_id: int = 0  # for the create rule
    book_patient_id: int = 0
    free_slot_id: int = 0
    move_slot_id: int = 0
    clinic_code: str = "X"
    seen_id: int = 0  # appointments: one to read, one each to move, cancel, check in, no-show
    move_id: int = 0
    cancel_appt_id: int = 0
    check_in_id: int = 0
    no_show_id: int = 0
    link_patient_id: int = 0
    link_id: int = 0  # a booking link the specialist gave, withdrawn by the first allowed
    task_id: Callable[[], int] = field(default=lambda: 0)


def rules(p: Probe) -> list[Rule]:
    ref = f"/api/v1/referrals/{p.referral_id}"
    appt = "/api/v1/appointments"
    return [
        Rule(
            "GET", "/api/v1/facilities", lambda w: "/api/v1/facilities?offers=pulmonology", EVERYONE
        ),
        # hw_a creates it, gp_a then gets 409 (live referral); hw_b cannot see the patient: 422.
        Rule(
            "POST",
            "/api/v1/referrals",
            lambda w: "/api/v1/referrals",
            REFERRING,
            lambda w: {
                "patient_id": p.new_patient_id,
                "specialty": "pulmonology",
                "to_facility": w.hospital_x.code,
                "reason": "Matrix probe",
            },
            expect=(("hw_b", 422),),
        ),
        Rule("GET", "/api/v1/referrals", lambda w: "/api/v1/referrals", READERS),
        Rule("GET", "/api/v1/referrals/{referral_id}", lambda w: ref, SEE_REFERRAL),
        Rule("GET", "/api/v1/referrals/{referral_id}/fhir", lambda w: ref + "/fhir", SEE_REFERRAL),
        Rule(
            "POST", "/api/v1/referrals/{referral_id}/accept", lambda w: ref + "/accept", RECEIVING
        ),
        Rule(
            "POST",
            "/api/v1/referrals/{referral_id}/decline",
            lambda w: f"/api/v1/referrals/{p.decline_id}/decline",
            RECEIVING,
            lambda w: {"reason": "Matrix probe"},
        ),
        # hw_a cancels it; gp_a and the specialist then get 409.
        Rule(
            "POST",
            "/api/v1/referrals/{referral_id}/cancel",
            lambda w: f"/api/v1/referrals/{p.cancel_id}/cancel",
            REFERRING | RECEIVING,
            lambda w: {"reason": "Matrix probe"},
        ),
        Rule(
            "POST",
            "/api/v1/referrals/{referral_id}/back-referral",
            lambda w: ref + "/back-referral",
            RECEIVING,
            lambda w: {"summary": "Matrix probe", "tasks": [{"text": "Spirometry", "due": None}]},
        ),
        Rule(
            "POST",
            "/api/v1/referrals/{referral_id}/back-referral/acknowledge",
            lambda w: ref + "/back-referral/acknowledge",
            REFERRING,
        ),
        Rule(
            "POST",
            "/api/v1/referrals/{referral_id}/tasks/{task_id}/done",
            lambda w: f"{ref}/tasks/{p.task_id()}/done",
            REFERRING,
        ),
        Rule("GET", "/api/v1/clinics", lambda w: "/api/v1/clinics", READERS),
        Rule(
            "GET",
            "/api/v1/appointments/{appointment_id}/reminders",
            lambda w: f"{appt}/{p.seen_id}/reminders",
            SEE_REFERRAL,
        ),
        # Without a referral: only who keeps the clinic's calendar (and is a facility's staff).
        Rule(
            "POST",
            "/api/v1/booking-links",
            lambda w: "/api/v1/booking-links",
            RECEIVING,
            lambda w: {"patient_id": p.link_patient_id, "clinic": p.clinic_code},
            # Who cannot see the patient is told nothing more than "unknown patient".
            expect=(("national", 403),),
        ),
        Rule(
            "POST",
            "/api/v1/booking-links/{link_id}/revoke",
            lambda w: f"/api/v1/booking-links/{p.link_id}/revoke",
            CALENDAR,
        ),
        Rule("GET", "/api/v1/referral-targets", lambda w: "/api/v1/referral-targets", READERS),
        Rule(
            "POST",
            "/api/v1/referral-targets",
            lambda w: "/api/v1/referral-targets",
            frozenset({"command_x", "national"}),
            lambda w: {"region": w.region_x.code, "specialty": "pulmonology", "days": 21},
        ),
        Rule(
            "GET",
            "/api/v1/clinics/{code}/slots",
            lambda w: f"/api/v1/clinics/{p.clinic_code}/slots",
            READERS,
        ),
        Rule(
            "GET",
            "/api/v1/clinics/{code}/calendar",
            lambda w: f"/api/v1/clinics/{p.clinic_code}/calendar",
            CALENDAR,
        ),
        # hw_a books it; gp_a and the national administrator then get 409 (taken); hw_b and the
        # specialist cannot see the patient: 422.
        Rule(
            "POST",
            "/api/v1/appointments",
            lambda w: appt,
            REFERRING | {"national"},
            lambda w: {"patient_id": p.book_patient_id, "slot_id": p.free_slot_id},
            expect=(("hw_b", 422), ("specialist", 422)),
        ),
        Rule(
            "GET",
            "/api/v1/appointments/{appointment_id}",
            lambda w: f"{appt}/{p.seen_id}",
            SEE_REFERRAL,
        ),
        Rule(
            "POST",
            "/api/v1/appointments/{appointment_id}/reschedule",
            lambda w: f"{appt}/{p.move_id}/reschedule",
            REFERRING | RECEIVING | {"national"},
            lambda w: {"slot_id": p.move_slot_id},
        ),
        Rule(
            "POST",
            "/api/v1/appointments/{appointment_id}/cancel",
            lambda w: f"{appt}/{p.cancel_appt_id}/cancel",
            REFERRING | RECEIVING | {"national"},
            lambda w: {"reason": "Matrix probe"},
        ),
        Rule(
            "POST",
            "/api/v1/appointments/{appointment_id}/check-in",
            lambda w: f"{appt}/{p.check_in_id}/check-in",
            CALENDAR,
        ),
        Rule(
            "POST",
            "/api/v1/appointments/{appointment_id}/no-show",
            lambda w: f"{appt}/{p.no_show_id}/no-show",
            CALENDAR,
        ),
        # Only the visit's clinician starts its video session (the receiving specialist here;
        # a 409 for the patient's missing video consent is not a refusal).
        Rule(
            "POST",
            "/api/v1/appointments/{appointment_id}/video-visit",
            lambda w: f"{appt}/{p.seen_id}/video-visit",
            RECEIVING,
        ),
    ]


@pytest.fixture(scope="session")
def probe(app: Flask, world: World) -> Probe:
    with app.app_context(), db.transaction() as sess:
        spec = sess.scalar(select(Specialty).where(Specialty.code == "pulmonology"))
        assert spec is not None
        cl = clinic(sess, world.hospital_x.id, spec.id, (world["specialist"].user_id or 0,))
        hw = user_principal(sess.get_one(User, world["hw_a"].user_id), "session")
        patients = [f.patient(sess, world.facility_a) for _ in range(6)]

        def refer(patient_id: int) -> int:
            data = ReferralIn(
                patient_id=patient_id,
                specialty="pulmonology",
                to_facility=world.hospital_x.code,
                reason="Matrix probe",
            )
            return services.create(sess, hw, data).id

        main, decline, cancel = (refer(pt.id) for pt in patients[:3])
        start = utcnow() + timedelta(days=3)
        booking.ensure_slots(sess, cl, start, start + timedelta(days=1))
        slots = list(
            sess.scalars(select(Slot).where(Slot.clinic_id == cl.id).order_by(Slot.starts_at))
        )
        booked = [
            booking.book(sess, hw, AppointmentIn(patient_id=patients[4].id, slot_id=s.id)).id
            for s in slots[:4]
        ]
        past = Slot(
            clinic_id=cl.id,
            starts_at=utcnow() - timedelta(hours=2),
            ends_at=utcnow() - timedelta(hours=1, minutes=30),
            mode=VisitMode.VIRTUAL,
        )
        sess.add(past)
        sess.flush()
        missed = Appointment(
            slot_id=past.id,
            live_slot_id=past.id,
            patient_id=patients[5].id,
            status=AppointmentStatus.BOOKED,
            starts_at=past.starts_at,
            ends_at=past.ends_at,
            booked_by_id=world["hw_a"].user_id or 0,
        )
        sess.add(missed)
        sess.flush()

        specialist = user_principal(sess.get_one(User, world["specialist"].user_id), "session")
        link = links.mint(
            sess,
            specialist,
            referral_id=None,
            patient_id=patients[0].id,  # the receiving side sees the referred patient
            clinic_code=cl.code,
        ).link.id

        def task_id() -> int:
            with app.app_context(), db.transaction() as s:
                found = s.scalar(
                    select(BackReferralTask.id)
                    .join(BackReferralTask.back_referral)
                    .where(BackReferralTask.back_referral.has(referral_id=main))
                )
                return found or 0

        return Probe(
            referral_id=main,
            decline_id=decline,
            cancel_id=cancel,
            new_patient_id=patients[3].id,
            book_patient_id=patients[5].id,
            free_slot_id=slots[10].id,
            move_slot_id=slots[11].id,
            clinic_code=cl.code,
            seen_id=booked[0],
            move_id=booked[1],
            cancel_appt_id=booked[2],
            check_in_id=booked[3],
            no_show_id=missed.id,
            link_patient_id=patients[0].id,
            link_id=link,
            task_id=task_id,
        )


def test_referral_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, world: World, probe: Probe
) -> None:
    assert run_matrix(app, client, world, rules(probe)) == []
