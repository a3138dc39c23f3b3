"""Follow-up against the final diagnosis and the concordance rate, image-quality grades and
the excellent rate, on SQLite and PostgreSQL: the figures equal a count made by hand, a period
without cases says null, and bad calls get clear 4xx answers without writing anything."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub import db
from hub.models import Role, User
from imaging.reading.models import ReadingStatus
from imaging.reading.qc.models import FollowUp, ImageQuality
from tests.consult.support import bearer
from tests.imaging.qc_support import Region, at, radiologist, read_study, region
from tests.support import factories as f
from tests.support.personas import World


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client keeping no request context (see tests/consult/test_pages.py)."""
    return app.test_client()


def _key(user: User) -> str:
    return f"{user.full_name} ({user.username})"


def _follow_up(
    client: FlaskClient, request_id: int, headers: dict[str, str], agreement: str, **extra: str
) -> dict[str, object]:
    body = {"source": "pathology", "final_diagnosis": "Adenocarcinoma.", "agreement": agreement}
    resp = client.post(
        f"/api/v1/reading-requests/{request_id}/follow-up",
        json={**body, **extra},
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_json()
    data: dict[str, object] = resp.get_json()
    return data


def test_concordance_equals_a_hand_count(
    client: FlaskClient, session: Session, world: World
) -> None:
    r: Region = region(session)
    f1, f2 = r.facilities
    a = radiologist(session, world.hospital_x)
    b = radiologist(session, world.hospital_x)
    march = at("2004-03-10 09:00")
    # (reader, facility, modality, agreement); recorded by F1's GP for F1, by QA for F2.
    cases = [
        (a, f1, "CT", "concordant"),
        (a, f1, "CT", "missed"),
        (a, f2, "MR", "concordant"),
        (b, f1, "CT", "misdiagnosed"),
        (b, f2, "US", "concordant"),
        (b, f2, "MR", "concordant"),
        (b, f2, "US", "concordant"),
    ]
    ids = {}
    for n, (reader, place, modality, _agreement) in enumerate(cases):
        req = read_study(
            session, place, reader, r.clinicians[place.id], completed_at=march, modality=modality
        )
        ids[n] = req.id
    late = read_study(session, f1, a, r.clinicians[f1.id], completed_at=at("2004-05-10 09:00"))
    unfollowed = read_study(session, f2, b, r.clinicians[f2.id], completed_at=march)
    session.commit()
    for n, (_reader, place, _modality, agreement) in enumerate(cases):
        who = r.headers[place.code] if place is f1 else r.headers["qa"]
        _follow_up(client, ids[n], who, agreement)
    _follow_up(client, late.id, r.headers[f1.code], "missed", source="surgery")
    assert unfollowed.id not in ids.values()

    period = "from=2004-03-01&to=2004-03-31"
    got = client.get(
        f"/api/v1/qc/concordance?group_by=radiologist&{period}", headers=r.headers["qa"]
    )
    assert got.status_code == 200, got.get_json()
    data = got.get_json()
    # By hand: A read 3 (2 concordant, 1 missed); B read 4 (3 concordant, 1 misdiagnosed).
    assert data["groups"] == sorted(
        [
            {
                "key": _key(a),
                "cases": 3,
                "concordant": 2,
                "missed": 1,
                "misdiagnosed": 0,
                "rate": 0.6667,
            },
            {
                "key": _key(b),
                "cases": 4,
                "concordant": 3,
                "missed": 0,
                "misdiagnosed": 1,
                "rate": 0.75,
            },
        ],
        key=lambda g: str(g["key"]),
    )
    assert data["total"] == {
        "key": "all",
        "cases": 7,
        "concordant": 5,
        "missed": 1,
        "misdiagnosed": 1,
        "rate": 0.7143,
    }
    assert sorted(d["request_id"] for d in data["discordant"]) == sorted([ids[1], ids[3]])
    missed = next(d for d in data["discordant"] if d["request_id"] == ids[1])
    assert missed["agreement"] == "missed" and missed["impression"] == "Pneumonia."

    by_facility = client.get(
        f"/api/v1/qc/concordance?group_by=facility&{period}", headers=r.headers["qa"]
    ).get_json()
    # F1: concordant, missed, misdiagnosed; F2: four concordant.
    assert {g["key"]: (g["cases"], g["concordant"], g["rate"]) for g in by_facility["groups"]} == {
        f"{f1.name} ({f1.code})": (3, 1, 0.3333),
        f"{f2.name} ({f2.code})": (4, 4, 1.0),
    }
    by_modality = client.get(
        f"/api/v1/qc/concordance?group_by=modality&{period}", headers=r.headers["qa"]
    ).get_json()
    assert {g["key"]: (g["cases"], g["rate"]) for g in by_modality["groups"]} == {
        "CT": (3, 0.3333),
        "MR": (2, 1.0),
        "US": (2, 1.0),
    }
    # The whole history also counts the May case.
    everything = client.get("/api/v1/qc/concordance", headers=r.headers["qa"]).get_json()
    assert everything["total"]["cases"] == 8 and everything["total"]["missed"] == 2

    empty = client.get(
        "/api/v1/qc/concordance?group_by=facility&from=2004-01-01&to=2004-01-31",
        headers=r.headers["qa"],
    ).get_json()
    assert empty["groups"] == [] and empty["discordant"] == []
    assert empty["total"]["cases"] == 0 and empty["total"]["rate"] is None

    # Another region's QA physician sees none of it.
    other = region(session, facilities=1)
    session.commit()
    theirs = client.get(f"/api/v1/qc/concordance?{period}", headers=other.headers["qa"])
    assert theirs.get_json()["total"]["cases"] == 0


def _count(app: Flask, model: type[FollowUp] | type[ImageQuality], ids: list[int]) -> int:
    """Rows of ``model`` for the requests, read in a session of its own: the test's session
    must not reopen a (SQLite write-locking) transaction while the app writes."""
    with db.get_db(app).new_session() as fresh:
        n = fresh.scalar(select(func.count()).select_from(model).where(model.request_id.in_(ids)))
        fresh.rollback()
    return int(n or 0)


def test_follow_up_bad_paths(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    r = region(session)
    f1, f2 = r.facilities
    reader = radiologist(session, world.hospital_x)
    done = read_study(session, f1, reader, r.clinicians[f1.id], completed_at=at("2004-06-01 10:00"))
    reading = read_study(
        session,
        f1,
        reader,
        r.clinicians[f1.id],
        completed_at=at("2004-06-01 10:00"),
        status=ReadingStatus.IN_PROGRESS,
        signed=False,
    )
    head = bearer(session, f.user(session, Role.FACILITY_ADMIN, at=f1))
    reader_h = bearer(session, reader)
    other = region(session, facilities=1)
    session.commit()
    url = f"/api/v1/reading-requests/{done.id}/follow-up"
    good = {"source": "discharge", "final_diagnosis": "Pneumonia.", "agreement": "concordant"}

    assert (
        client.post(
            url, json={**good, "agreement": "maybe"}, headers=r.headers[f1.code]
        ).status_code
        == 422
    )
    assert (
        client.post(url, json={**good, "source": "x-ray"}, headers=r.headers[f1.code]).status_code
        == 422
    )
    assert (
        client.post(
            url, json={**good, "final_diagnosis": " "}, headers=r.headers[f1.code]
        ).status_code
        == 422
    )
    # Another facility's GP and another region's QA physician: the request does not exist for them.
    assert client.post(url, json=good, headers=r.headers[f2.code]).status_code == 404
    assert client.post(url, json=good, headers=other.headers["qa"]).status_code == 404
    # The facility's administrator and the reading radiologist know it, but do not record it.
    assert client.post(url, json=good, headers=head).status_code == 403
    assert client.post(url, json=good, headers=reader_h).status_code == 403
    assert (
        client.post(
            "/api/v1/reading-requests/999999999/follow-up", json=good, headers=r.headers["qa"]
        ).status_code
        == 404
    )
    not_final = client.post(
        f"/api/v1/reading-requests/{reading.id}/follow-up", json=good, headers=r.headers[f1.code]
    )
    assert not_final.status_code == 409 and not_final.get_json()["error"]["code"] == "not_reported"
    assert _count(app, FollowUp, [done.id, reading.id]) == 0
    assert client.post(url, json=good, headers=r.headers[f1.code]).status_code == 201
    again = client.post(url, json=good, headers=r.headers["qa"])
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_recorded"
    assert _count(app, FollowUp, [done.id, reading.id]) == 1
    # The figures are for QA physicians (and national administrators) only.
    assert client.get("/api/v1/qc/concordance", headers=r.headers[f1.code]).status_code == 403
    assert client.get("/api/v1/qc/concordance", headers=reader_h).status_code == 403
    assert (
        client.get("/api/v1/qc/concordance?group_by=planet", headers=r.headers["qa"]).status_code
        == 422
    )
    assert (
        client.get(
            "/api/v1/qc/concordance?from=2004-02-01&to=2004-01-01", headers=r.headers["qa"]
        ).status_code
        == 422
    )
    assert (
        client.get("/api/v1/qc/concordance?from=yesterday", headers=r.headers["qa"]).status_code
        == 422
    )


def test_image_quality_equals_a_hand_count(
    client: FlaskClient, session: Session, world: World
) -> None:
    r = region(session)
    f1, f2 = r.facilities
    a = radiologist(session, world.hospital_x)
    b = radiologist(session, world.hospital_x)
    when = at("2004-07-05 08:00")
    # (reader, facility, device, grade, defect)
    cases = [
        (a, f1, "CT_ROOM_1", "excellent", None),
        (a, f1, "CT_ROOM_1", "acceptable", None),
        (a, f1, "XR_1", "poor", "Motion blur"),
        (b, f1, "XR_1", "excellent", None),
        (b, f2, "US_2", "excellent", None),
        (b, f2, "US_2", "excellent", None),
    ]
    reqs = [
        read_study(session, place, reader, r.clinicians[place.id], completed_at=when, device=dev)
        for reader, place, dev, _g, _d in cases
    ]
    ungraded = read_study(session, f2, b, r.clinicians[f2.id], completed_at=when, device="US_2")
    session.commit()
    headers = {a.id: bearer(session, a), b.id: bearer(session, b)}
    session.commit()
    for req, (reader, _place, _dev, grade, defect) in zip(reqs, cases, strict=True):
        body = {"grade": grade} | ({"defect": defect} if defect else {})
        resp = client.put(
            f"/api/v1/reading-requests/{req.id}/image-quality",
            json=body,
            headers=headers[reader.id],
        )
        assert resp.status_code == 200, resp.get_json()
    # A regrade replaces the grade: the second case becomes excellent.
    fixed = client.put(
        f"/api/v1/reading-requests/{reqs[1].id}/image-quality",
        json={"grade": "excellent"},
        headers=headers[a.id],
    )
    assert fixed.get_json()["grade"] == "excellent" and fixed.get_json()["device"] == "CT_ROOM_1"
    assert ungraded.id not in [q.id for q in reqs]

    qa = r.headers["qa"]
    # By hand: F1 rated 4, excellent 3 (0.75); F2 rated 2, excellent 2 (1.0).
    by_facility = client.get("/api/v1/qc/image-quality?group_by=facility", headers=qa).get_json()
    assert {
        g["key"]: (g["rated"], g["excellent"], g["acceptable"], g["poor"], g["rate"])
        for g in by_facility["groups"]
    } == {
        f"{f1.name} ({f1.code})": (4, 3, 0, 1, 0.75),
        f"{f2.name} ({f2.code})": (2, 2, 0, 0, 1.0),
    }
    # Per device: CT_ROOM_1 2/2, XR_1 1/2, US_2 2/2.
    by_device = client.get("/api/v1/qc/image-quality?group_by=device", headers=qa).get_json()
    assert {g["key"]: (g["rated"], g["rate"]) for g in by_device["groups"]} == {
        f"{f1.code} / CT_ROOM_1": (2, 1.0),
        f"{f1.code} / XR_1": (2, 0.5),
        f"{f2.code} / US_2": (2, 1.0),
    }
    assert by_device["total"]["rated"] == 6 and by_device["total"]["rate"] == 0.8333
    empty = client.get(
        "/api/v1/qc/image-quality?from=2001-01-01&to=2001-12-31", headers=qa
    ).get_json()
    assert empty["groups"] == [] and empty["total"]["rate"] is None


def test_image_quality_bad_paths(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    r = region(session, facilities=1)
    (place,) = r.facilities
    reader = radiologist(session, world.hospital_x)
    other = radiologist(session, world.hospital_x)
    req = read_study(
        session, place, reader, r.clinicians[place.id], completed_at=at("2004-08-01 08:00")
    )
    cancelled = read_study(
        session,
        place,
        reader,
        r.clinicians[place.id],
        completed_at=at("2004-08-01 08:00"),
        status=ReadingStatus.CANCELLED,
        signed=False,
    )
    mine, theirs = bearer(session, reader), bearer(session, other)
    session.commit()
    url = f"/api/v1/reading-requests/{req.id}/image-quality"
    no_defect = client.put(url, json={"grade": "poor"}, headers=mine)
    assert no_defect.status_code == 422
    assert client.put(url, json={"grade": "poor", "defect": ""}, headers=mine).status_code == 422
    assert client.put(url, json={"grade": "superb"}, headers=mine).status_code == 422
    assert client.put(url, json={"grade": "excellent"}, headers=theirs).status_code == 404
    assert (
        client.put(url, json={"grade": "excellent"}, headers=r.headers[place.code]).status_code
        == 403
    )
    assert (
        client.put(
            "/api/v1/reading-requests/999999999/image-quality",
            json={"grade": "excellent"},
            headers=mine,
        ).status_code
        == 404
    )
    gone = client.put(
        f"/api/v1/reading-requests/{cancelled.id}/image-quality",
        json={"grade": "excellent"},
        headers=mine,
    )
    assert gone.status_code == 409
    assert _count(app, ImageQuality, [req.id, cancelled.id]) == 0
    assert client.get("/api/v1/qc/image-quality", headers=mine).status_code == 403
    assert (
        client.get(
            "/api/v1/qc/image-quality?group_by=radiologist", headers=r.headers["qa"]
        ).status_code
        == 422
    )


def test_pages_show_the_figures_and_the_forms(app: Flask, session: Session, world: World) -> None:
    from tests.consult.test_pages import log_in, page

    r = region(session, facilities=1)
    (place,) = r.facilities
    reader = radiologist(session, world.hospital_x)
    req = read_study(
        session, place, reader, r.clinicians[place.id], completed_at=at("2004-09-01 08:00")
    )
    session.commit()
    doctor = log_in(app, reader.username)
    html = page(doctor, f"/reading/requests/{req.id}")
    assert 'id="quality-form"' in html and 'id="followup-form"' not in html
    gp = log_in(app, r.clinicians[place.id].username)
    html = page(gp, f"/reading/requests/{req.id}")
    assert 'id="followup-form"' in html and 'id="quality-form"' not in html
    qa = log_in(app, r.qa.username)
    html = page(qa, f"/reading/requests/{req.id}")
    assert 'id="followup-form"' in html
    dash = page(qa, "/reading/qc/?from=2001-01-01&to=2001-01-31")
    assert 'id="concordance-table"' in dash and "no data" in dash
    csv = qa.get("/reading/qc/export/concordance.csv?group_by=facility")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert (
        csv.get_data(as_text=True).splitlines()[0]
        == "group,cases,concordant,missed,misdiagnosed,rate"
    )
    page(qa, "/reading/qc/export/passwords.csv", 404)
    page(gp, "/reading/qc/", 403)
    feedback = page(gp, "/reading/qc/feedback")
    assert 'id="feedback-table"' in feedback
    page(qa, f"/reading/qc/feedback?facility={place.id}")
    page(qa, f"/reading/qc/feedback?facility={world.facility_c.id}", 404)
