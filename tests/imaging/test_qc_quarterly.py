"""The quarterly high-risk monitoring report on SQLite and PostgreSQL: its figures (category-1
time to acknowledge p50/p90, late and never acknowledged critical results, discordances,
registrations entered late or edited after the report) equal a hand count; the QA physician
signs it as a PAdES PDF once the quarter is over, once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import SYSTEM
from hub.models import Patient, Role, utcnow
from hub.pki import ca
from imaging.models import Study
from imaging.reading.models import CriticalResult, CriticalStatus
from imaging.reading.qc.models import Agreement, FollowUp, FollowUpSource
from imaging.reading.qc.quarterly import centile, parse_quarter
from tests.consult.test_pages import FORM_CSRF, log_in, page
from tests.imaging.qc_support import at, radiologist, read_study, region
from tests.support import factories as f
from tests.support.personas import World
from tests.support.pki import pdfsig, pdftotext, pki

__all__ = ["pki"]


def test_quarter_bounds_and_centiles() -> None:
    start, end = parse_quarter("2004-Q4")
    assert (start.isoformat(), end.isoformat()) == (
        "2004-10-01T00:00:00+00:00",
        "2005-01-01T00:00:00+00:00",
    )
    assert centile([], 50) is None and centile([7.0], 90) == 7.0
    # By hand, inclusive: p50 of 5, 10, 20, 40 is 15; p90 sits at 0.7 of the way 20 -> 40.
    assert centile([40, 5, 20, 10], 50) == 15.0 and centile([5, 10, 20, 40], 90) == 34.0


def _critical(
    session: Session,
    request_id: int,
    raiser: int,
    category: int,
    raised: str,
    ack_after: int | None,
) -> CriticalResult:
    when = at(raised)
    window = {1: 15, 2: 360}[category]
    row = CriticalResult(
        request_id=request_id,
        category=category,
        finding="Tension pneumothorax.",
        status=CriticalStatus.ACKNOWLEDGED if ack_after is not None else CriticalStatus.ESCALATED,
        escalation_level=0 if ack_after is not None else 2,
        raised_by_id=raiser,
        raised_at=when,
        ack_due_at=when + timedelta(minutes=window),
        acknowledged_at=when + timedelta(minutes=ack_after) if ack_after is not None else None,
    )
    session.add(row)
    session.flush()
    return row


def test_quarterly_figures_equal_a_hand_count_and_the_report_is_signed(
    app: Flask, session: Session, world: World, pki: ca.Authority, tmp_path: Path
) -> None:
    r = region(session, facilities=1)
    r.qa.licence_number = f.unique("QA")  # a signing certificate names the signer's licence
    (place,) = r.facilities
    gp = r.clinicians[place.id]
    reader = radiologist(session, world.hospital_x)
    on_time = read_study(session, place, reader, gp, completed_at=at("2004-02-10 09:00"))
    # Category 1 acknowledged after 5, 10, 20 and 40 minutes (window 15), one never; a
    # category 2 acknowledged 7 hours after (window 6 h); one category 1 of the next quarter.
    for minutes in (5, 10, 20, 40):
        _critical(session, on_time.id, reader.id, 1, "2004-02-10 10:00", minutes)
    never = _critical(session, on_time.id, reader.id, 1, "2004-03-01 08:00", None)
    slow = _critical(session, on_time.id, reader.id, 2, "2004-03-02 08:00", 7 * 60)
    _critical(session, on_time.id, reader.id, 1, "2004-04-02 08:00", 60)
    missed = read_study(session, place, reader, gp, completed_at=at("2004-02-12 09:00"))
    session.add(
        FollowUp(
            request_id=missed.id,
            source=FollowUpSource.SURGERY,
            final_diagnosis="Appendicitis.",
            agreement=Agreement.MISSED,
            recorded_by_id=gp.id,
            recorded_at=at("2004-03-05 12:00"),
        )
    )
    # Registered two days after its images arrived; and one whose patient was edited after the
    # report was signed.
    late = read_study(
        session,
        place,
        reader,
        gp,
        completed_at=at("2004-01-09 09:00"),
        received_at=at("2004-01-05 09:00"),
    )
    session.get_one(Patient, session.get_one(Study, late.study_id).patient_id).created_at = at(
        "2004-01-07 09:00"
    )
    edited = read_study(session, place, reader, gp, completed_at=at("2004-03-20 09:00"))
    edited_patient = session.get_one(Study, edited.study_id).patient_id
    for row in (on_time, missed, edited):
        session.get_one(Patient, session.get_one(Study, row.study_id).patient_id).created_at = at(
            "2003-12-01 09:00"
        )
    audit.record(
        session, SYSTEM, "hub:patient:updated", object_type="patient", object_id=edited_patient
    )
    session.commit()
    ids = {
        "never": never.id,
        "slow": slow.id,
        "late": late.id,
        "edited": edited.id,
        "missed": missed.id,
    }

    qa = log_in(app, r.qa.username)
    html = page(qa, "/reading/qc/quarterly?quarter=2004-Q1")
    assert '<dd id="cat1-count">4</dd>' in html
    assert '<dd id="cat1-p50">15.0</dd>' in html and '<dd id="cat1-p90">34.0</dd>' in html
    assert f"/reading/critical-results/{ids['never']}" in html and "never acknowledged" in html
    assert f"/reading/critical-results/{ids['slow']}" in html and "acknowledged 60 min late" in html
    assert "acknowledged 25 min late" in html and "acknowledged 5 min late" in html
    assert html.count("/reading/critical-results/") == 4
    assert f"#{ids['missed']}</bdi></a>" in html
    assert f"<bdi>#{ids['late']}</bdi>" in html and "registered late" in html
    assert f"<bdi>#{ids['edited']}</bdi>" in html and "edited after the report" in html
    assert html.count("edited after the report") == 2  # the heading and the one flagged case

    empty = page(qa, "/reading/qc/quarterly?quarter=2001-Q1")
    assert '<dd id="cat1-p50">no data</dd>' in empty
    page(qa, "/reading/qc/quarterly?quarter=2004-Q5", 422)
    page(log_in(app, gp.username), "/reading/qc/quarterly?quarter=2004-Q1", 403)

    draft = qa.get("/reading/qc/quarterly/2004-Q1.pdf")
    assert draft.status_code == 200 and draft.mimetype == "application/pdf"
    token = FORM_CSRF.search(html)
    assert token
    signed = qa.post("/reading/qc/quarterly/2004-Q1/sign", data={"csrf_token": token[1]})
    assert signed.status_code == 302, signed.get_data(as_text=True)[-800:]
    after = page(qa, "/reading/qc/quarterly?quarter=2004-Q1")
    assert "Download the signed PDF" in after and 'id="sign-quarterly"' not in after
    again = qa.post("/reading/qc/quarterly/2004-Q1/sign", data={"csrf_token": token[1]})
    assert again.status_code == 409
    now = utcnow()
    current = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    assert (
        qa.post(f"/reading/qc/quarterly/{current}/sign", data={"csrf_token": token[1]}).status_code
        == 409
    )
    pdf = qa.get("/reading/qc/quarterly/2004-Q1.pdf")
    assert pdf.status_code == 200
    path = tmp_path / "quarterly.pdf"
    path.write_bytes(pdf.get_data())
    text = pdftotext(str(path))
    assert "Quarterly high-risk monitoring report" in text and "2004-Q1" in text
    assert "34.0" in text and "15.0" in text
    assert "Signature is Valid" in pdfsig(str(path)) or "valid" in pdfsig(str(path)).lower()
    assert Role.QA_PHYSICIAN.value == "qa_physician" and f.PASSWORD
