"""Permission matrix of the quality-control API (the rows for these routes; see
tests/hub/test_permission_matrix.py): follow-up by the requesting facility's clinicians and QA
readers, image grades by the reading radiologist, scores by the assigned senior reviewer, the
figures by QA physicians and national administrators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.models import Role, User, utcnow
from imaging.models import ImagingReport
from imaging.reading.qc.models import PeerReview, ReviewWeek
from tests.imaging.qc_support import at, read_study
from tests.support import factories as f
from tests.support.matrix import Rule, run_matrix
from tests.support.personas import World

NO_PERSONA = frozenset[str]()  # only radiologists (none among the personas) may
FOLLOWERS = frozenset({"hw_a", "gp_a", "national"})
QA_READERS = frozenset({"national"})


@dataclass(frozen=True)
class Probe:
    request_id: int
    review_id: int


def rules(p: Probe) -> list[Rule]:
    request = f"/api/v1/reading-requests/{p.request_id}"
    return [
        # The first allowed persona records it; the others get 409, not a refusal.
        Rule(
            "POST",
            "/api/v1/reading-requests/{request_id}/follow-up",
            lambda w: f"{request}/follow-up",
            FOLLOWERS,
            lambda w: {
                "source": "pathology",
                "final_diagnosis": "Matrix",
                "agreement": "concordant",
            },
        ),
        Rule(
            "PUT",
            "/api/v1/reading-requests/{request_id}/image-quality",
            lambda w: f"{request}/image-quality",
            NO_PERSONA,
            lambda w: {"grade": "excellent"},
        ),
        Rule(
            "POST",
            "/api/v1/peer-reviews/{review_id}",
            lambda w: f"/api/v1/peer-reviews/{p.review_id}",
            NO_PERSONA,
            lambda w: {"score": "1"},
        ),
        Rule("GET", "/api/v1/qc/concordance", lambda w: "/api/v1/qc/concordance", QA_READERS),
        Rule("GET", "/api/v1/qc/image-quality", lambda w: "/api/v1/qc/image-quality", QA_READERS),
        Rule("GET", "/api/v1/qc/peer-review", lambda w: "/api/v1/qc/peer-review", QA_READERS),
    ]


@pytest.fixture(scope="session")
def qc_probe(app: Flask, world: World) -> Probe:
    with app.app_context(), db.transaction() as sess:
        radiologist = f.user(sess, Role.RADIOLOGIST, at=world.hospital_x)
        senior = f.user(sess, Role.RADIOLOGIST, at=world.hospital_x)
        gp = sess.get_one(User, world["gp_a"].user_id)
        request = read_study(
            sess, world.facility_a, radiologist, gp, completed_at=at("2001-02-05 10:00")
        )
        sess.add(ReviewWeek(week="2001-W06", share_percent=5))
        sess.flush()
        report = sess.scalars(
            select(ImagingReport).where(ImagingReport.study_id == request.study_id)
        ).one()
        row = PeerReview(
            week="2001-W06",
            report_id=report.id,
            author_id=radiologist.id,
            reviewer_id=senior.id,
            due_at=utcnow() + timedelta(days=7),
        )
        sess.add(row)
        sess.flush()
        return Probe(request.id, row.id)


def test_qc_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, world: World, qc_probe: Probe
) -> None:
    assert run_matrix(app, client, world, rules(qc_probe)) == []
