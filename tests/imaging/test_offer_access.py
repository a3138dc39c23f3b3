"""Access through a consult offer ends when the offer ends: a specialist who lost the claim no
longer reads the patient, their consents or studies, and cannot mint or revoke image links;
minting and revoking need the study's facility or the consult's assigned specialist."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult.models import ConsultOffer, OfferState
from hub import db
from hub.models import ConsentScope
from tests.consult.support import Site, bearer, consent, specialist, submit
from tests.imaging.support import ingest


def test_the_specialist_who_lost_the_claim_loses_access(app: Flask, session: Session) -> None:
    site = Site(app, session)
    winner, loser = specialist(session, site.l2), specialist(session, site.l2)
    consent(session, site.patient.id, ConsentScope.CONSULT)
    chw, win, lose = bearer(session, site.chw), bearer(session, winner), bearer(session, loser)
    patient_id, national_id = site.patient.id, site.patient.national_id
    session.commit()
    attached = ingest(app, site.post, national_id, images=1)
    unrelated = ingest(app, site.post, national_id, images=1)
    with app.test_client() as client:
        consult = submit(client, chw, patient_id, urgency="emergency")
        with app.app_context(), db.transaction() as sess:
            offered = set(
                sess.scalars(
                    select(ConsultOffer.specialist_id).where(
                        ConsultOffer.consult_id == consult["id"],
                        ConsultOffer.state == OfferState.OPEN,
                    )
                )
            )
        assert {winner.id, loser.id} <= offered
        # While the offer is open the loser reads the consult, the patient and the studies.
        for path in (f"/api/v1/consults/{consult['id']}", f"/api/v1/patients/{patient_id}"):
            assert client.get(path, headers=lose).status_code == 200, path
        attach = client.post(
            f"/api/v1/studies/{attached.study_uid}/consults",
            json={"consult_id": consult["id"]},
            headers=chw,
        )
        assert attach.status_code == 201, attach.get_json()
        hw_link = client.post(f"/api/v1/studies/{attached.study_uid}/links", json={}, headers=chw)
        assert hw_link.status_code == 201
        # Seeing is not sharing: an open offer mints no anonymous link.
        refused = client.post(f"/api/v1/studies/{attached.study_uid}/links", json={}, headers=lose)
        assert refused.status_code == 403

        claim = client.post(f"/api/v1/consults/{consult['id']}/claim", headers=win)
        assert claim.status_code == 200, claim.get_json()

        gone = [
            f"/api/v1/consults/{consult['id']}",
            f"/api/v1/patients/{patient_id}",
            f"/api/v1/patients/{patient_id}/consents",
            f"/api/v1/studies/{attached.study_uid}",
            f"/api/v1/studies/{unrelated.study_uid}",
            f"/api/v1/studies/{unrelated.study_uid}/package",
        ]
        for path in gone:
            assert client.get(path, headers=lose).status_code == 404, path
        for path, body in (
            (f"/api/v1/studies/{unrelated.study_uid}/links", {}),
            (f"/api/v1/studies/{attached.study_uid}/links/{hw_link.get_json()['id']}/revoke", None),
        ):
            assert client.post(path, json=body, headers=lose).status_code == 404, path

        # The assigned specialist shares the consult's study, not the patient's other ones.
        mine = client.post(f"/api/v1/studies/{attached.study_uid}/links", json={}, headers=win)
        assert mine.status_code == 201, mine.get_json()
        other = client.post(f"/api/v1/studies/{unrelated.study_uid}/links", json={}, headers=win)
        assert other.status_code == 403
        assert "assigned specialist" in other.get_json()["error"]["message"]
