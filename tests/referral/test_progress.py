"""Progress reports: every figure equals a hand count of seeded data (consults and their SLA,
reading requests and critical results, referrals and their loops, transfers, the steps in
operation) per university and region; CSV cells are safe and right; the PDF is signed; region
scoping answers 404; the nightly snapshot is idempotent per day."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consult.models import Consult
from hub import db
from hub.auth.principal import user_principal
from hub.documents.services import verify_bytes
from hub.errors import AccessDenied
from hub.models import AuditEvent, Facility, FacilityKind, Role, Specialty, University, utcnow
from hub.pki import ca
from imaging.models import Study
from imaging.reading.cli import set_site
from imaging.reading.models import (
    CriticalResult,
    CriticalStatus,
    ReadingRequest,
    ReadingStatus,
    Urgency,
)
from referral.command import progress, snapshots
from referral.command.models import Transfer
from referral.command.monitoring_models import ProgressExport, ProgressSnapshot
from referral.models import Clinic, Referral, ReferralStatus, Slot, VisitMode
from tests.consult.support import Site, bearer, consent, specialist, submit
from tests.imaging.support import ingest
from tests.referral.support import log_in
from tests.support import factories as f
from tests.support.pki import pdfsig, pki, settings_of

__all__ = ["pki"]


@dataclass
class Seeded:
    site: Site
    region_code: str
    region_id: int
    uni1_code: str
    uni1_id: int
    post_id: int
    uni2_code: str
    officer: dict[str, str]
    officer_name: str
    officer_username: str
    other_officer: dict[str, str]
    other_region: str
    admin: dict[str, str]
    gp: dict[str, str]
    today: date


def _consult(
    client: FlaskClient, who: tuple[dict[str, str], int], session: Session, **fields: object
) -> int:
    cid = int(submit(client, who[0], who[1])["id"])
    consult = session.get_one(Consult, cid)
    for key, value in fields.items():
        setattr(consult, key, value)
    session.commit()  # SQLite: the next request writes too
    return cid


def _seed(app: Flask, client: FlaskClient, session: Session) -> Seeded:
    """One region, two universities, and a hand-countable mix of everything the report counts;
    plus one of each kind outside the period, which must not count."""
    site = Site(app, session)
    doctor = specialist(session, site.l2)  # pulmonology on the roster now
    uni2 = f.university(session, site.region)
    post2 = f.facility(session, uni2)
    chw2 = f.user(session, Role.CHW, at=post2)
    patient2 = f.patient(session, post2)
    officer_user = f.user(session, Role.COMMAND, region_of=site.region)
    other = f.region(session)
    session.commit()
    now = utcnow()
    old = now - timedelta(days=40)

    # Consults of university 1 (4 in the period, 1 before it) and university 2 (1).
    first = (site.chw_headers, site.patient.id)
    _consult(client, first, session, accepted_at=now, escalation_stage=0)  # met
    _consult(client, first, session, accepted_at=now, escalation_stage=2)  # decided, breached
    _consult(client, first, session, accepted_at=now, answer_alerted=True)  # decided, late
    _consult(client, first, session)  # waiting within its target: not decided
    _consult(client, first, session, submitted_at=old, accepted_at=old)  # outside the period
    consent(session, patient2.id)
    second = (bearer(session, chw2), patient2.id)
    session.commit()
    _consult(client, second, session, accepted_at=now)  # university 2: met
    session.commit()

    # Referrals from the health post: completed, accepted (open loop), declined (no loop),
    # and an old one.
    spec = session.scalar(select(Specialty).where(Specialty.code == "pulmonology"))
    assert spec is not None
    for status, created in (
        (ReferralStatus.COMPLETED, now),
        (ReferralStatus.ACCEPTED, now),
        (ReferralStatus.DECLINED, now),
        (ReferralStatus.COMPLETED, old),
    ):
        session.add(
            Referral(
                patient_id=site.patient.id,
                specialty_id=spec.id,
                from_facility_id=site.post.id,
                to_facility_id=site.l2.id,
                requester_id=site.chw.id,
                reason="Chronic cough",
                status=status,
                created_at=created,
            )
        )
    # Transfers: two from the post, one from university 2's post, one old.
    for origin, created in ((site.post, now), (site.post, now), (post2, now), (site.post, old)):
        session.add(
            Transfer(
                patient_id=site.patient.id,
                origin_facility_id=origin.id,
                region_id=site.region.id,
                reason="Needs a CT",
                severity=3,
                created_by_id=site.chw.id,
                created_at=created,
                updated_at=created,
            )
        )
    # Teleradiology: the level-3 hospital is licensed to read and has a radiologist.
    set_site(session, site.l3.id, True)
    f.user(session, Role.RADIOLOGIST, at=site.l3)
    # A virtual clinic of the region (no university) with a bookable slot.
    virtual = f.facility(session, uni2, FacilityKind.VIRTUAL_CLINIC, 2)
    virtual.university_id = None
    clinic = Clinic(
        code=f.unique("VC"), name="Virtual", facility_id=virtual.id, specialty_id=spec.id
    )
    session.add(clinic)
    session.flush()
    session.add(
        Slot(
            clinic_id=clinic.id,
            starts_at=now + timedelta(days=1),
            ends_at=now + timedelta(days=1, minutes=20),
            mode=VisitMode.VIRTUAL,
        )
    )
    session.commit()

    # Reading requests from university 1's post: three in the period, one old; critical results
    # acknowledged in time, late, and never.
    study = ingest(app, site.post, site.patient.national_id, images=1).study_uid
    study_id = session.scalar(select(Study.id).where(Study.study_instance_uid == study))
    assert study_id is not None
    requests = []
    for created in (now, now, now, old):
        row = ReadingRequest(
            study_id=study_id,
            facility_id=site.post.id,
            requested_by_id=site.chw.id,
            urgency=Urgency.URGENT,
            clinical_question="Pain?",
            status=ReadingStatus.SCHEDULED,
            due_at=created + timedelta(hours=4),
            created_at=created,
        )
        session.add(row)
        requests.append(row)
    session.flush()
    due = now + timedelta(minutes=15)
    for request_row, acked in (
        (requests[0], now + timedelta(minutes=5)),  # in the window
        (requests[1], now + timedelta(minutes=30)),  # late
        (requests[2], None),  # never
    ):
        session.add(
            CriticalResult(
                request_id=request_row.id,
                category=1,
                finding="Pneumothorax",
                status=CriticalStatus.ACKNOWLEDGED if acked else CriticalStatus.OPEN,
                raised_by_id=doctor.id,
                raised_at=now,
                ack_due_at=due,
                acknowledged_at=acked,
            )
        )
    admin = f.user(session, Role.NATIONAL_ADMIN)
    gp = f.user(session, Role.GP, at=site.post)
    other_officer = f.user(session, Role.COMMAND, region_of=other)
    session.commit()
    seeded = Seeded(
        site=site,
        region_code=site.region.code,
        region_id=site.region.id,
        uni1_code=site.uni.code,
        uni1_id=site.uni.id,
        post_id=site.post.id,
        uni2_code=uni2.code,
        officer=bearer(session, officer_user),
        officer_name=officer_user.full_name,
        officer_username=officer_user.username,
        other_officer=bearer(session, other_officer),
        other_region=other.code,
        admin=bearer(session, admin),
        gp=bearer(session, gp),
        today=now.date(),
    )
    session.commit()  # the tokens
    return seeded


@pytest.fixture
def seeded(app: Flask, session: Session) -> Seeded:
    # A client that keeps no request context open (SQLite: it would hold the write lock).
    return _seed(app, app.test_client(), session)


def _figures(region: dict[str, object]) -> dict[str, object]:
    figures = region["figures"]
    assert isinstance(figures, dict)
    return figures


def test_figures_equal_a_hand_count(client: FlaskClient, seeded: Seeded) -> None:
    code = seeded.region_code
    resp = client.get(f"/api/v1/progress-reports?region={code}", headers=seeded.officer)
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()
    assert data["period"]["to"] == seeded.today.isoformat()
    assert data["period"]["from"] == (seeded.today - timedelta(days=29)).isoformat()
    [region] = data["regions"]
    total = _figures(region)
    assert total["volumes"] == {
        "consults": 5,
        "reading_requests": 3,
        "referrals": 3,
        "transfers": 3,
    }
    assert total["sla"] == {"decided": 4, "met": 2, "pct": 50.0}
    assert total["referral_loops"] == {"opened": 2, "closed": 1, "pct": 50.0}
    assert total["critical_results"] == {"raised": 3, "acknowledged_in_window": 1, "pct": 33.3}
    steps = total["steps"]
    assert steps["headquarters"] is True
    assert steps["teleradiology"] is True
    assert steps["virtual_clinics"] is True
    clinics = steps["specialty_clinics"]
    assert len(clinics) >= 10 and [c for c, on in clinics.items() if on] == ["pulmonology"]

    by_code = {u["code"]: u["figures"] for u in region["universities"]}
    uni1 = by_code[seeded.uni1_code]
    uni2 = by_code[seeded.uni2_code]
    assert uni1["volumes"] == {"consults": 4, "reading_requests": 3, "referrals": 3, "transfers": 2}
    assert uni1["sla"] == {"decided": 3, "met": 1, "pct": 33.3}
    assert uni1["steps"]["teleradiology"] is True and uni1["steps"]["virtual_clinics"] is False
    assert uni2["volumes"] == {"consults": 1, "reading_requests": 0, "referrals": 0, "transfers": 1}
    assert uni2["sla"] == {"decided": 1, "met": 1, "pct": 100.0}
    assert uni2["referral_loops"]["pct"] is None  # nothing to close: no percentage
    assert uni2["steps"]["teleradiology"] is False
    assert uni2["steps"]["specialty_clinics"]["pulmonology"] is False

    # A period that ends before today's data counts only the old rows.
    past = (seeded.today - timedelta(days=45)).isoformat(), (seeded.today - timedelta(days=35))
    old = client.get(
        f"/api/v1/progress-reports?region={code}&from={past[0]}&to={past[1].isoformat()}",
        headers=seeded.officer,
    ).get_json()
    assert _figures(old["regions"][0])["volumes"] == {
        "consults": 1,
        "reading_requests": 1,
        "referrals": 1,
        "transfers": 1,
    }


def test_region_scoping_and_bad_input(client: FlaskClient, seeded: Seeded) -> None:
    code = seeded.region_code
    url = "/api/v1/progress-reports"
    # Command staff of another region: not found, in every format; the national view shows
    # them their own region only.
    for fmt in ("json", "csv", "pdf"):
        resp = client.get(f"{url}?region={code}&format={fmt}", headers=seeded.other_officer)
        assert resp.status_code == 404, (fmt, resp.get_json())
    own = client.get(url, headers=seeded.other_officer).get_json()
    assert [r["code"] for r in own["regions"]] == [seeded.other_region]
    # A national administrator sees every region, this one among them.
    every = client.get(url, headers=seeded.admin).get_json()
    assert code in [r["code"] for r in every["regions"]] and len(every["regions"]) >= 2
    # Not command staff: refused (the scope), unknown region: 404, bad periods: 422.
    assert client.get(url, headers=seeded.gp).status_code == 403
    assert client.get(f"{url}?region=NOPE", headers=seeded.admin).status_code == 404
    for query in (
        "from=2026-02-01&to=2026-01-01",
        "from=2024-01-01&to=2026-01-01",
        "from=yesterday",
        "format=xlsx",
        "colour=red",
    ):
        resp = client.get(f"{url}?{query}", headers=seeded.officer)
        assert resp.status_code == 422, (query, resp.get_json())
        assert resp.get_json()["error"]["code"]


def test_service_refuses_other_roles_and_regions(
    app: Flask, session: Session, seeded: Seeded
) -> None:
    gp = f.user(session, Role.GP, at=session.get_one(Facility, seeded.post_id))
    other = f.user(session, Role.COMMAND, region_of=f.region(session))
    session.commit()
    with app.app_context(), app.test_request_context():
        with pytest.raises(AccessDenied):
            progress.report(
                session, user_principal(gp, "s"), region_code=None, first=None, last=None
            )
        with pytest.raises(AccessDenied) as hidden:
            progress.report(
                session,
                user_principal(other, "s"),
                region_code=seeded.region_code,
                first=None,
                last=None,
            )
        assert hidden.value.status == 404  # another region: as if it did not exist


def test_csv_is_correct_and_safe(client: FlaskClient, session: Session, seeded: Seeded) -> None:
    uni = session.get_one(University, seeded.uni1_id)
    uni.name = '=HYPERLINK("http://evil")'
    session.commit()
    code = seeded.region_code
    resp = client.get(f"/api/v1/progress-reports?region={code}&format=csv", headers=seeded.officer)
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["scope"] for r in rows] == ["region", "university", "university"]
    region = rows[0]
    assert region["region_code"] == code
    assert (region["consults"], region["sla_compliance_pct"]) == ("5", "50.0")
    assert region["critical_acknowledged_pct"] == "33.3"
    assert region["headquarters"] == "yes" and region["clinic_pulmonology"] == "yes"
    evil = next(r for r in rows if r["code"] == seeded.uni1_code)
    assert evil["name"] == '\'=HYPERLINK("http://evil")'  # never a formula
    assert evil["consults"] == "4"
    empty = next(r for r in rows if r["code"] == seeded.uni2_code)
    assert empty["referral_loop_closure_pct"] == ""  # no loops: no figure, not 0


def test_pdf_is_signed_and_recorded(
    app: Flask,
    client: FlaskClient,
    session: Session,
    seeded: Seeded,
    pki: ca.Authority,
    tmp_path: Path,
) -> None:
    code = seeded.region_code
    resp = client.get(
        f"/api/v1/progress-reports?region={code}&format=pdf&locale=fa", headers=seeded.officer
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "application/pdf"
    data = resp.get_data()
    path = tmp_path / "progress.pdf"
    path.write_bytes(data)
    assert pdfsig(str(path)).count("Signature is Valid") == 1
    with app.app_context():
        report = verify_bytes(session, settings_of(app), data)
    assert report.ok, report.reason
    [sig] = report.signatures
    assert sig.trusted and sig.intact and sig.timestamped and sig.certifying
    assert sig.signer == seeded.officer_name
    export = session.scalar(select(ProgressExport).order_by(ProgressExport.id.desc()).limit(1))
    assert export is not None and export.locale == "fa" and export.region_id == seeded.region_id
    assert export.certificate_serial == sig.serial
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "command:progress:exported",
                AuditEvent.object_id == str(export.id),
            )
        )
        == 1
    )


def test_snapshot_is_idempotent_per_day(
    app: Flask, client: FlaskClient, session: Session, seeded: Seeded
) -> None:
    today = seeded.today
    region_id, region_code = seeded.region_id, seeded.region_code

    def rows() -> list[tuple[str, dict[str, object]]]:
        session.expire_all()
        found = [
            (s.scope_key, s.figures)
            for s in session.scalars(
                select(ProgressSnapshot)
                .where(ProgressSnapshot.day == today, ProgressSnapshot.region_id == region_id)
                .order_by(ProgressSnapshot.scope_key)
            )
        ]
        session.rollback()  # SQLite: the job writes next
        return found

    with app.app_context(), db.transaction() as sess:
        snapshots.take(sess, today)
    first = rows()
    assert len(first) == 3  # the region and its two universities
    region = dict(first)[f"region:{region_id}"]
    assert region["volumes"] == {
        "consults": 5,
        "reading_requests": 3,
        "referrals": 3,
        "transfers": 3,
    }
    # Again (the CLI, the same day): the same rows, not a second set.
    result: Result = app.test_cli_runner().invoke(
        args=["command", "snapshot", "--date", today.isoformat()]
    )
    assert result.exit_code == 0, result.output
    assert rows() == first
    # The beat's job takes yesterday once, then leaves it.
    with app.app_context(), db.transaction() as sess:
        assert snapshots.take_missing(sess, today - timedelta(days=299)) > 0
    with app.app_context(), db.transaction() as sess:
        assert snapshots.take_missing(sess, today - timedelta(days=299)) == 0
    bad = app.test_cli_runner().invoke(args=["command", "snapshot", "--date", "2999-01-01"])
    assert bad.exit_code != 0
    # The region page shows the day's snapshot.
    browser = log_in(app, seeded.officer_username)
    page = browser.get(f"/command/progress/{region_code}")
    assert page.status_code == 200
    assert 'id="progress-history"' in page.get_data(as_text=True)


def test_pages_answer_their_readers(app: Flask, session: Session, seeded: Seeded) -> None:
    officer = log_in(app, seeded.officer_username)
    national = officer.get("/command/progress")
    assert national.status_code == 200
    html = national.get_data(as_text=True)
    assert seeded.region_code in html and 'id="export-csv"' in html
    region = officer.get(f"/command/progress/{seeded.region_code}?from=2026-01-01&to=2026-01-31")
    assert region.status_code == 200
    assert officer.get(f"/command/progress/{seeded.other_region}").status_code == 404
    assert officer.get("/command/progress?from=nonsense").status_code in (400, 422)
    assert officer.get("/command/progress?from=2026-02-01&to=2026-01-01").status_code == 422
    gp = f.user(session, Role.GP, at=session.get_one(Facility, seeded.post_id))
    session.commit()
    assert log_in(app, gp.username).get("/command/progress").status_code == 403
