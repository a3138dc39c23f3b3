"""The consult pages as their readers see them: signing from the consult page (preview, sign,
download, countersign) and its bad paths, the escalation notice, translated timeline and
routing trace, the on-call and roster pages and the SLA targets page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult import display
from consult.models import Consult, ConsultStatus, Shift, SlaPolicy, Urgency
from consult.signing import OUTCOME, PRESCRIPTION
from hub import db
from hub.documents import services as documents
from hub.models import AuditEvent, DocumentStatus, Role
from tests.consult.support import consent, consult_body, hospital, on_call
from tests.support import factories as f
from tests.support.pki import OUTCOME_BODY, answered_consult, pdfsig, pki

__all__ = ["pki"]  # the fixture, imported so pytest finds it

FORM_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client that keeps no request context between calls (the shared fixture's does, and
    the login form of a second client would then get the first one's CSRF token)."""
    return app.test_client()


def log_in(app: Flask, username: str) -> FlaskClient:
    """A client with the person's session cookie, logged in through the login form."""
    client = app.test_client()
    token = FORM_CSRF.search(client.get("/login").get_data(as_text=True))
    assert token
    resp = client.post(
        "/login", data={"csrf_token": token[1], "username": username, "password": f.PASSWORD}
    )
    assert resp.status_code == 302, re.sub(r"\s+", " ", resp.get_data(as_text=True))[-1500:]
    return client


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    resp = client.get(path)
    assert resp.status_code == status, (path, resp.status_code)
    return resp.get_data(as_text=True)


def api_post(client: FlaskClient, path: str, csrf_from: str) -> tuple[int, dict]:
    """POST to the API as the page's script does: session cookie and the page's CSRF token."""
    token = META_CSRF.search(page(client, csrf_from))
    assert token
    resp = client.post("/api/v1" + path, headers={"X-CSRFToken": token[1]})
    return resp.status_code, resp.get_json() or {}


def test_sign_preview_download_countersign_from_the_pages(
    app: Flask, client: FlaskClient, session: Session, pki: object, tmp_path: Path
) -> None:
    case = answered_consult(app, client, session)
    cid = case.consult_id
    specialist = log_in(app, case.specialist.username)
    requester = log_in(app, case.site.chw.username)

    # Before signing: the specialist sees a preview and a Sign button for each document the
    # outcome calls for (a prescription, no referral); the requester waits.
    body = page(specialist, f"/consults/{cid}")
    assert 'id="doc-outcome"' in body and 'id="doc-prescription"' in body
    assert 'id="doc-referral"' not in body  # the outcome refers nobody
    assert body.count('data-doc-action="sign"') == 2
    assert f'src="/consults/{cid}/documents/outcome.pdf"' in body
    waiting = page(requester, f"/consults/{cid}")
    assert 'data-doc-action="sign"' not in waiting
    assert "Waiting for the consultant" in waiting

    preview = specialist.get(f"/consults/{cid}/documents/outcome.pdf")
    assert preview.status_code == 200 and preview.data.startswith(b"%PDF-")
    assert preview.headers["X-Document-Status"] == "draft"
    assert preview.headers["Content-Disposition"].startswith("inline;")
    assert "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]
    draft = tmp_path / "draft.pdf"
    draft.write_bytes(preview.data)
    assert "Signature is Valid" not in pdfsig(str(draft))

    # Signed (as the page's script does): the download link appears, the PDF carries the
    # signature, and the requester is asked to countersign.
    status, signed = api_post(specialist, f"/consults/{cid}/sign", f"/consults/{cid}")
    assert status == 201, signed
    after = page(specialist, f"/consults/{cid}")
    assert 'data-state="certified"' in after
    assert f'href="/consults/{cid}/documents/outcome.pdf?download=1"' in after
    assert f"/verify/{signed['id']}" in after
    download = specialist.get(f"/consults/{cid}/documents/outcome.pdf?download=1")
    assert download.headers["X-Document-Status"] == "signed"
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="consult-{cid}-outcome.pdf"'
    )
    one = tmp_path / "signed.pdf"
    one.write_bytes(download.data)
    assert pdfsig(str(one)).count("Signature is Valid") == 1
    asked = page(requester, f"/consults/{cid}")
    assert asked.count('data-doc-action="countersign"') == 1  # the prescription is not signed
    assert 'data-doc-action="countersign" data-noun="outcome"' in asked

    status, counter = api_post(requester, f"/consults/{cid}/countersign", f"/consults/{cid}")
    assert status == 200 and counter["status"] == "countersigned", counter
    both = page(requester, f"/consults/{cid}")
    assert 'data-state="countersigned"' in both and "Signed by both sides" in both
    assert 'data-doc-action="countersign" data-noun="outcome"' not in both
    two = tmp_path / "both.pdf"
    two.write_bytes(requester.get(f"/consults/{cid}/documents/outcome.pdf?download=1").data)
    assert pdfsig(str(two)).count("Signature is Valid") == 2
    # The timeline names both steps in words.
    assert "Outcome signed by the consultant" in both
    assert "Outcome countersigned by the requester" in both


def test_signing_by_the_wrong_person_is_refused_and_signs_nothing(
    app: Flask, client: FlaskClient, session: Session, pki: object
) -> None:
    case = answered_consult(app, client, session)
    cid = case.consult_id
    other = f.user(session, Role.SPECIALIST, at=case.site.l2, specialty="pulmonology")
    other.licence_number = f.unique("LIC")
    colleague = f.user(session, Role.CHW, at=case.site.post)  # same health post, not requester
    session.commit()
    requester = log_in(app, case.site.chw.username)
    specialist = log_in(app, case.specialist.username)

    # The requester cannot sign; another specialist cannot either.
    status, refused = api_post(requester, f"/consults/{cid}/sign", f"/consults/{cid}")
    assert status == 403, refused
    stranger = log_in(app, other.username)
    assert stranger.get(f"/consults/{cid}").status_code in (403, 404)
    status, refused = api_post(stranger, f"/consults/{cid}/prescription/sign", "/home")
    assert status in (403, 404), refused
    with app.app_context(), db.transaction() as sess:
        assert documents.find(sess, OUTCOME, cid) is None
        assert documents.find(sess, PRESCRIPTION, cid) is None
        assert sess.get_one(Consult, cid).status is ConsultStatus.ANSWERED

    # Countersigning before the consultant signed: a clear 409.
    status, early = api_post(requester, f"/consults/{cid}/countersign", f"/consults/{cid}")
    assert status == 409 and early["error"]["code"] == "not_signed"

    status, _signed = api_post(specialist, f"/consults/{cid}/sign", f"/consults/{cid}")
    assert status == 201
    # A colleague at the same health post sees the consult but may not countersign it.
    mate = log_in(app, colleague.username)
    body = page(mate, f"/consults/{cid}")
    assert 'data-doc-action="countersign"' not in body
    status, refused = api_post(mate, f"/consults/{cid}/countersign", f"/consults/{cid}")
    assert status == 403
    assert refused["error"]["message"] == (
        "Only the health worker who requested this consult countersigns."
    )
    # The specialist may not countersign their own document either.
    status, _refused = api_post(specialist, f"/consults/{cid}/countersign", f"/consults/{cid}")
    assert status == 403
    with app.app_context(), db.transaction() as sess:
        doc = documents.find(sess, OUTCOME, cid)
        assert doc is not None and doc.status is DocumentStatus.CERTIFIED
        assert doc.countersigned_by_id is None
        denied = sess.scalars(
            select(AuditEvent.action).where(
                AuditEvent.object_id == str(cid), AuditEvent.outcome == "denied"
            )
        ).all()
        assert "consult:outcome:countersigned" in denied

    # Unknown documents and readers outside the consult are refused.
    assert specialist.get(f"/consults/{cid}/documents/contract.pdf").status_code == 404
    assert stranger.get(f"/consults/{cid}/documents/outcome.pdf").status_code in (403, 404)


def test_documents_follow_the_outcome(
    app: Flask, client: FlaskClient, session: Session, pki: object
) -> None:
    referring = {**OUTCOME_BODY, "disposition": "refer", "prescription": []}
    case = answered_consult(app, client, session, outcome=referring)
    body = page(log_in(app, case.specialist.username), f"/consults/{case.consult_id}")
    assert 'id="doc-referral"' in body and 'id="doc-prescription"' not in body


def test_escalated_consult_says_what_it_means_and_what_to_do(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    site_post = f.facility(session, f.university(session, f.region(session)))
    chw = f.user(session, Role.CHW, at=site_post)
    patient = f.patient(session, site_post)
    consent(session, patient.id)
    session.commit()
    requester = log_in(app, chw.username)
    token = META_CSRF.search(page(requester, "/consults/new"))
    assert token
    # Nobody is on call for this specialty in the new region: escalated at submission.
    resp = requester.post(
        "/api/v1/consults",
        json=consult_body(patient.id, specialty="psychiatry"),
        headers={"X-CSRFToken": token[1]},
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["status"] == "escalated"
    body = page(requester, f"/consults/{resp.get_json()['id']}")
    assert 'id="escalation"' in body
    assert "What to do next" in body and "command centre" in body
    # The system's reason is said in words, the routing trace line by line.
    assert "nobody on call was available when it was submitted" in body
    assert "the consult is escalated" in body
    assert "Routing at stage 0" in body


def test_routing_trace_and_timeline_are_translated(app: Flask) -> None:
    lines = [
        "[2026-01-02T03:04:05+00:00] routing at stage 1",
        "skip dr.a: already offered or declined",
        "skip dr.b: status busy",
        "skip dr.c: at capacity (5/5)",
        "university pool, level 2: nobody eligible",
        "region pool, level 3: 2 eligible; chose dr.d (1 active cases, least loaded then "
        "longest idle)",
        "emergency: offered at once to all 2 eligible specialists of the region (a, b); "
        "first claim wins",
        "no eligible specialist (3 skipped); escalation needed",
        "... 40 more skipped",
        "something new",
    ]
    with app.test_request_context(headers={"Accept-Language": "en"}):
        english = display.trace_lines(lines)
    assert english[0].at == "2026-01-02T03:04:05+00:00"
    assert english[0].text == "Routing at stage 1"
    assert english[2].text == "Passed over dr.b: status: Busy"
    assert english[3].text == "Passed over dr.c: at capacity (5 of 5 cases)"
    assert english[5].text.startswith("same macro-region, level 3: 2 eligible; chose dr.d")
    assert english[-1].text == "something new"  # unknown lines are shown as stored
    with app.test_request_context(headers={"Accept-Language": "fa"}):
        persian = display.trace_lines(lines)
        label = display.event_label("signed")
        claimed = display.event_label("claimed")
    assert all(p.text != e.text for p, e in zip(persian[:-1], english[:-1], strict=True))
    assert "dr.d" in persian[5].text  # names and numbers stay as they are
    assert label != "Outcome signed by the consultant"
    assert claimed != "Claimed by a specialist"


def test_oncall_page_for_consultants_only(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    uni = f.university(session, f.region(session))
    l2 = hospital(session, uni)
    doctor = f.user(session, Role.SPECIALIST, at=l2, specialty="pulmonology")
    on_call(session, doctor, l2)
    chw = f.user(session, Role.CHW, at=f.facility(session, uni))
    session.commit()
    mine = log_in(app, doctor.username)
    body = page(mine, "/oncall")
    assert 'data-state="available"' in body and 'id="my-shifts"' in body
    assert "You are on the roster now" in body
    token = META_CSRF.search(body)
    assert token
    resp = mine.put(
        "/api/v1/specialists/me/availability",
        json={"state": "on_break"},
        headers={"X-CSRFToken": token[1]},
    )
    assert resp.status_code == 200
    assert 'data-state="on_break"' in page(mine, "/oncall")
    # The roster shows everyone's live status; a health worker reads it but cannot edit.
    reader = log_in(app, chw.username)
    assert page(reader, "/oncall", 403)
    roster = page(reader, "/rosters?specialty=pulmonology")
    assert doctor.full_name in roster and "On a break" in roster
    assert 'id="shift-form"' not in roster and "data-remove-shift" not in roster


def test_roster_admins_publish_and_remove_their_own_shifts(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    uni = f.university(session, f.region(session))
    mine, theirs = hospital(session, uni), hospital(session, uni)
    doctor = f.user(session, Role.SPECIALIST, at=mine, specialty="pulmonology")
    own = on_call(session, doctor, mine)
    other = on_call(session, f.user(session, Role.SPECIALIST, at=theirs), theirs)
    admin = f.user(session, Role.FACILITY_ADMIN, at=mine)
    session.commit()
    own_id, other_id = own.id, other.id
    manager = log_in(app, admin.username)
    body = page(manager, "/rosters")
    assert 'id="shift-form"' in body
    assert f'value="{doctor.username}"' in body  # their facility's consultants to choose from
    assert f'data-remove-shift="{own_id}"' in body
    assert f'data-remove-shift="{other_id}"' not in body
    token = META_CSRF.search(body)
    assert token
    headers = {"X-CSRFToken": token[1]}
    refused = manager.delete(f"/api/v1/roster/shifts/{other_id}", headers=headers)
    assert refused.status_code == 403
    assert manager.delete(f"/api/v1/roster/shifts/{own_id}", headers=headers).status_code == 204
    assert manager.delete(f"/api/v1/roster/shifts/{own_id}", headers=headers).status_code == 404
    with app.app_context(), db.transaction() as sess:
        assert sess.get(Shift, own_id) is None and sess.get(Shift, other_id) is not None
        assert sess.scalar(
            select(AuditEvent.id).where(
                AuditEvent.action == "consult:shift:removed", AuditEvent.object_id == str(own_id)
            )
        )


def test_sla_targets_page(app: Flask, client: FlaskClient, session: Session) -> None:
    region = f.region(session)
    national = f.user(session, Role.NATIONAL_ADMIN)
    local = f.user(
        session, Role.FACILITY_ADMIN, at=hospital(session, f.university(session, region))
    )
    chw = f.user(session, Role.CHW, at=f.facility(session, f.university(session, region)))
    session.commit()
    code = region.code
    admin = log_in(app, national.username)
    body = page(admin, "/sla-targets")
    assert f'id="sla-{code}"' in body and 'id="sla-national"' in body
    token = FORM_CSRF.search(body)
    assert token

    def change(who: FlaskClient, **form: str) -> int:
        resp = who.post("/sla-targets", data={"csrf_token": token[1], "region": code, **form})
        return resp.status_code

    assert change(admin, urgency="urgent", accept_minutes="45", answer_minutes="600") == 302
    saved = page(admin, "/sla-targets")
    assert "Targets saved." in saved
    with app.app_context(), db.transaction() as sess:
        row = sess.scalar(
            select(SlaPolicy).where(
                SlaPolicy.region_id == region.id, SlaPolicy.urgency == Urgency.URGENT
            )
        )
        assert row is not None and (row.accept_minutes, row.answer_minutes) == (45, 600)

    # Bad values: said in words, nothing written.
    assert change(admin, urgency="urgent", accept_minutes="90", answer_minutes="30") == 302
    assert "Not saved: the time to answer cannot be shorter" in page(admin, "/sla-targets")
    assert change(admin, urgency="urgent", accept_minutes="-1", answer_minutes="30") == 302
    assert "Not saved: Give whole minutes." in page(admin, "/sla-targets")
    assert change(admin, urgency="soon", accept_minutes="5", answer_minutes="30") == 302
    assert "Not saved: Choose an urgency." in page(admin, "/sla-targets")
    with app.app_context(), db.transaction() as sess:
        row = sess.scalar(
            select(SlaPolicy).where(
                SlaPolicy.region_id == region.id, SlaPolicy.urgency == Urgency.URGENT
            )
        )
        assert row is not None and (row.accept_minutes, row.answer_minutes) == (45, 600)

    # A facility administrator reads their region's targets and changes none.
    reader = log_in(app, local.username)
    shown = page(reader, "/sla-targets")
    assert f'id="sla-{code}"' in shown and "sla-form" not in shown
    assert "this region" in shown and "own target" in shown
    assert page(log_in(app, chw.username), "/sla-targets", 403)


def test_consent_link_on_the_new_request_page(app: Flask, session: Session) -> None:
    chw = f.user(
        session, Role.CHW, at=f.facility(session, f.university(session, f.region(session)))
    )
    session.commit()
    body = page(log_in(app, chw.username), "/consults/new")
    if "patient_pages.consent" in app.view_functions:
        found = re.search(r'data-consent-url="([^"]+)"', body)
        assert found, "no consent link on the request page"
        link = found[1].replace("&amp;", "&")
        assert link.startswith("/patients/{patient}/consent?")
        assert "scope={scope}" in link and "next=/consults/new?patient%3D{patient}" in link
    else:
        assert "data-consent-url" not in body  # no page to link to: no dead link


def test_home_links_the_roster_and_sla_pages(app: Flask, session: Session) -> None:
    uni = f.university(session, f.region(session))
    doctor = f.user(session, Role.SPECIALIST, at=hospital(session, uni))
    national = f.user(session, Role.NATIONAL_ADMIN)
    session.commit()
    assert 'href="/oncall"' in page(log_in(app, doctor.username), "/home")
    assert 'href="/oncall"' in page(log_in(app, doctor.username), "/worklist")
    home = page(log_in(app, national.username), "/home")
    assert 'href="/sla-targets"' in home and 'href="/rosters"' in home
