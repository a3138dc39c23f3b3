"""The command centre's board: its figures equal counts made by hand from the rows the test
wrote (SQLite and PostgreSQL), other regions never count, a national administrator drills
down, and the page (charts' figures, tables, pressure grid, links) renders in English and
Persian. The queue board narrows to a facility or university and names specialties in the
reader's language."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult import services as consults
from consult.models import Consult, ConsultStatus, SpecialistState, SpecialistStatus
from hub.auth.principal import user_principal
from hub.models import AuditEvent, Role, utcnow
from hub.models.auth import UserSession
from imaging.models import Study
from imaging.reading import services as reading
from imaging.reading.models import (
    CriticalResult,
    CriticalStatus,
    ReadingRequest,
    ReadingStatus,
    Urgency,
)
from referral import services as referrals
from referral.command.board import Pressure, board, pressure
from referral.models import Referral
from tests.consult.support import Site, on_call, specialist, submit
from tests.hub.test_auth import log_in
from tests.referral.support import Network
from tests.support import factories as f


class Region:
    """A region with on-call specialists in known states, open consults (one breached) and
    teleradiology work; and the same things in a second region that must never count."""

    def __init__(self, app: Flask, client: FlaskClient, session: Session) -> None:
        now = utcnow()
        self.site = Site(app, session)
        s = self.site
        self.idle = specialist(session, s.l2)  # pulmonology L2: on call, available
        self.busy = specialist(session, s.l2)  # pulmonology L2: status busy
        session.add(SpecialistStatus(user_id=self.busy.id, state=SpecialistState.BUSY))
        self.online = specialist(session, s.l3)  # pulmonology L3: signed in a minute ago
        session.add(
            UserSession(
                user_id=self.online.id,
                key_hash=uuid.uuid4().hex * 2,
                created_at=now - timedelta(hours=1),
                last_seen_at=now - timedelta(minutes=1),
            )
        )
        self.stale = specialist(session, s.l3, "cardiology")  # session idle for an hour
        session.add(
            UserSession(
                user_id=self.stale.id,
                key_hash=uuid.uuid4().hex * 2,
                created_at=now - timedelta(hours=2),
                last_seen_at=now - timedelta(hours=1),
            )
        )
        # At their limit of one accepted consult: busy without saying so.
        session.add(
            SpecialistStatus(
                user_id=self.stale.id, state=SpecialistState.AVAILABLE, max_concurrent=1
            )
        )
        # On call twice (overlapping shifts) for the same specialty and tier: counted once.
        on_call(session, self.idle, s.l2)
        # Not on call now (a shift tomorrow): not counted.
        later = f.user(session, Role.SPECIALIST, at=s.l3, specialty="pulmonology")
        shift = on_call(session, later, s.l3)
        shift.starts_at = now + timedelta(days=1)
        shift.ends_at = now + timedelta(days=2)
        self.officer = f.user(session, Role.COMMAND, region_of=s.region)
        self.other = Site(app, session)
        specialist(session, self.other.l2)
        session.commit()
        self.ids = [submit(client, s.chw_headers, s.patient.id)["id"] for _ in range(3)]
        self.ids.append(submit(client, s.chw_headers, s.patient.id, urgency="routine")["id"])
        late = session.get_one(Consult, self.ids[0])
        late.accept_due_at = now - timedelta(hours=1)
        session.commit()  # SQLite: the app's requests below need the write lock
        # One accepted by the cardiologist makes them busy (limit 1); it stays open.
        cardio = submit(client, s.chw_headers, s.patient.id, specialty="cardiology")["id"]
        row = session.get_one(Consult, cardio)
        row.status = ConsultStatus.ACCEPTED
        row.assigned_to_id = self.stale.id
        self.ids.append(cardio)
        session.commit()
        submit(client, self.other.chw_headers, self.other.patient.id)
        # Teleradiology: two open requests (one overdue), one done; one critical result open,
        # one acknowledged; and an open request in the other region.
        for facility, status, due, critical in (
            (s.l2, ReadingStatus.SCHEDULED, now - timedelta(hours=1), CriticalStatus.OPEN),
            (s.post, ReadingStatus.IN_PROGRESS, now + timedelta(hours=4), None),
            (s.l3, ReadingStatus.COMPLETED, now - timedelta(days=1), CriticalStatus.ACKNOWLEDGED),
            (self.other.l2, ReadingStatus.SCHEDULED, now - timedelta(hours=1), CriticalStatus.OPEN),
        ):
            self._reading(session, facility, status, due, critical)
        session.commit()

    def _reading(self, session, facility, status, due, critical) -> None:  # type: ignore[no-untyped-def]
        patient = f.patient(session, facility)
        study = Study(
            study_instance_uid=f"2.25.{uuid.uuid4().int}"[:64],
            facility_id=facility.id,
            patient_id=patient.id,
            received_at=utcnow(),
        )
        session.add(study)
        session.flush()
        request = ReadingRequest(
            study_id=study.id,
            facility_id=facility.id,
            requested_by_id=self.site.chw.id,
            urgency=Urgency.URGENT,
            clinical_question="Cough?",
            status=status,
            due_at=due,
        )
        session.add(request)
        session.flush()
        if critical is not None:
            session.add(
                CriticalResult(
                    request_id=request.id,
                    category=1,
                    finding="Tension pneumothorax",
                    status=critical,
                    raised_by_id=self.site.chw.id,
                    ack_due_at=utcnow() + timedelta(minutes=30),
                )
            )
            session.flush()


def test_the_figures_equal_hand_counts(app: Flask, client: FlaskClient, session: Session) -> None:
    r = Region(app, client, session)
    s = r.site
    principal = user_principal(r.officer, "session")
    rows = {
        (x.specialty_code, x.level): (x.on_call, x.online, x.busy)
        for x in consults.staffing(session, principal, s.region.id)
    }
    assert rows == {
        ("pulmonology", 2): (2, 0, 1),  # idle (two shifts, once) and busy
        ("pulmonology", 3): (1, 1, 0),  # online
        ("cardiology", 3): (1, 0, 1),  # at their limit; their session is an hour old
    }
    grid = consults.loads(session, principal, s.region.id)
    assert len(grid) == 1 and grid[0].code == s.uni.code
    by_code = {x.code: x for x in grid[0].facilities}
    assert (by_code[s.post.code].open, by_code[s.post.code].breached) == (5, 1)
    assert (by_code[s.l2.code].open, by_code[s.l2.code].on_call) == (0, 2)
    assert by_code[s.l3.code].on_call == 2  # online + stale (the later shift is not now)
    assert r.other.post.code not in by_code

    assert reading.region_reading(session, s.region.id) == (2, 1, 1)
    assert reading.region_reading(session, r.other.region.id) == (1, 1, 1)

    b = board(session, principal)
    assert b.region is not None and b.region.id == s.region.id
    assert b.queue.total == 5 and b.queue.breached == 1
    assert b.transfers.open == 0
    tiles = {t.code: t for t in b.grid[0].facilities}
    assert tiles[s.post.code].pressure is Pressure.BREACHED
    assert tiles[s.l2.code].pressure is Pressure.CALM
    assert b.grid[0].university is not None
    assert b.grid[0].university.pressure is Pressure.BREACHED


def test_the_pressure_rule() -> None:
    assert pressure(0, 0, 0) is Pressure.CALM
    assert pressure(2, 0, 3) is Pressure.CALM
    assert pressure(3, 0, 3) is Pressure.BUSY
    assert pressure(1, 0, 0) is Pressure.BUSY
    assert pressure(1, 1, 9) is Pressure.BREACHED


def test_referral_loops_are_counted_by_region(client: FlaskClient, session: Session) -> None:
    net = Network(session)
    first = net.refer(client)["id"]
    net.refer(client, patient_id=net.patient2.id)
    assert (
        client.post(f"/api/v1/referrals/{first}/accept", headers=net.h["specialist"]).status_code
        == 200
    )
    row = session.get_one(Referral, first)
    row.first_visit_at = utcnow() - timedelta(days=10)  # no back-referral after the 7-day target
    session.commit()
    assert referrals.region_loops(session, net.region.id) == (2, 1)
    assert referrals.region_loops(session, f.region(session).id) == (0, 0)


@pytest.mark.parametrize(
    ("locale", "title", "pulmonology"),
    [("en", "Command centre", "Pulmonology"), ("fa", "مرکز فرماندهی", "ریه")],
)
def test_the_page_in_english_and_persian(
    app: Flask, client: FlaskClient, session: Session, locale: str, title: str, pulmonology: str
) -> None:
    r = Region(app, client, session)
    log_in(client, r.officer)
    client.get(f"/lang/{locale}")
    html = client.get("/command").get_data(as_text=True)
    assert title in html
    assert 'id="chart-open"' in html and 'id="chart-wait"' in html
    assert 'id="board-data"' in html and pulmonology in html
    assert f'href="/queues?facility={r.site.post.code}"' in html
    assert f'href="/queues?university={r.site.uni.code}"' in html
    assert 'data-pressure="breached"' in html
    assert r.site.patient.family_name not in html  # no patient details on a wall screen
    assert r.other.post.code not in html
    part = client.get("/command?part=sections").get_data(as_text=True)
    assert "<html" not in part and 'id="board-staffing"' in part
    # The queue board, narrowed to the health post, names specialties in the reader's language.
    queue = client.get(f"/queues?facility={r.site.post.code}").get_data(as_text=True)
    assert pulmonology in queue and f"#{r.ids[0]}<" in queue
    assert client.get(f"/queues?facility={r.other.post.code}").status_code == 404
    assert client.get("/queues?university=NOPE").status_code == 404
    assert client.get("/home").get_data(as_text=True).count('href="/command"') == 1


def test_scoping(app: Flask, client: FlaskClient, session: Session) -> None:
    r = Region(app, client, session)
    national = f.user(session, Role.NATIONAL_ADMIN)
    session.commit()
    log_in(client, r.officer)
    assert client.get(f"/command?region={r.other.region.code}").status_code == 404
    assert client.get("/command?region=NOPE").status_code == 404
    assert client.get(f"/command?region={r.site.region.code}").status_code == 200
    admin = client
    log_in(admin, national)  # a second login replaces the session
    every = admin.get("/command").get_data(as_text=True)
    for code in (r.site.region.code, r.other.region.code):  # the drill-down links
        assert f'href="/command?region={code}"' in every
    one = admin.get(f"/command?region={r.other.region.code}").get_data(as_text=True)
    assert r.other.post.code in one and r.site.post.code not in one
    worker = client
    log_in(worker, r.site.chw)
    assert worker.get("/command").status_code == 403
    assert worker.get("/command?part=sections").status_code == 403
    viewed = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "command:board:viewed")
    ).all()
    assert len(viewed) >= 4
