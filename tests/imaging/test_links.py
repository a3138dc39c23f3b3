"""Links to images: created by staff, opened without an account, every open audited, frames
rendered with window/level, expiry and revocation effective at once, forgeries refused."""

from __future__ import annotations

import io
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select, update

from hub import db
from hub.models import AuditEvent, Patient, utcnow
from imaging.models import ImageLink, Instance
from tests.imaging.support import ingest
from tests.support import factories as f
from tests.support.personas import World


def _study(app: Flask, world: World, **kw: object) -> tuple[Patient, str]:
    with app.app_context(), db.transaction() as sess:
        patient = f.patient(sess, world.facility_a)
        sess.expunge(patient)
    study = ingest(app, world.facility_a, patient.national_id, **kw)  # type: ignore[arg-type]
    return patient, study.study_uid


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def _opens(app: Flask, link_id: int) -> int:
    with app.app_context(), db.transaction() as sess:
        return int(
            sess.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.action == "imaging:link:opened",
                    AuditEvent.outcome == "ok",
                    AuditEvent.object_id == str(link_id),
                )
            )
            or 0
        )


def test_link_opens_a_viewer_without_an_account(
    app: Flask, client: FlaskClient, world: World
) -> None:
    _patient, uid = _study(app, world, images=3, size=64)
    resp = client.post(
        f"/api/v1/studies/{uid}/links", json={"ttl_hours": 2}, headers=world["gp_a"].headers
    )
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert set(created) == {"id", "url", "expires_at"}
    assert created["url"].startswith(app.config["HUB_SETTINGS"].base_url + "/imaging/links/")
    path = _path(created["url"])

    # No `with`: a preserved request context would keep SQLite's lock.
    anonymous = app.test_client()
    page = anonymous.get(path)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    # The diagnostic viewer over the link's own DICOMweb, and the simple one on request.
    assert (
        "dicom-viewer.js" in html
        and f'data-dicomweb="/dicomweb/links/{path.rsplit("/", 1)[1]}"' in html
    )
    simple = anonymous.get(path + "?simple=1").get_data(as_text=True)
    assert "series-data" in simple and "imaging-viewer.js" in simple
    assert _opens(app, created["id"]) == 2
    anonymous.get(path)
    assert _opens(app, created["id"]) == 3

    with app.app_context(), db.transaction() as sess:
        instance_ids = list(
            sess.scalars(
                select(Instance.id)
                .join(ImageLink, ImageLink.study_id == Instance.study_id)
                .where(ImageLink.id == created["id"])
                .order_by(Instance.instance_number)
            )
        )
    frame = anonymous.get(f"{path}/frames/{instance_ids[0]}/0.png")
    assert frame.status_code == 200 and frame.mimetype == "image/png"
    image = Image.open(io.BytesIO(frame.data))
    assert image.size == (64, 64)
    assert frame.headers["X-Window"] == "40/400"  # the instance's own window
    narrow = anonymous.get(f"{path}/frames/{instance_ids[0]}/0.png?wc=-900&ww=100")
    assert narrow.headers["X-Window"] == "-900/100"
    assert narrow.data != frame.data
    assert anonymous.get(f"{path}/frames/{instance_ids[0]}/5.png").status_code == 415
    # A frame of another study through this link: not found.
    _study(app, world, images=1)
    with app.app_context(), db.transaction() as sess:
        foreign = sess.scalar(select(Instance.id).order_by(Instance.id.desc()).limit(1))
    assert anonymous.get(f"{path}/frames/{foreign}/0.png").status_code == 404


def test_revoked_expired_and_forged_links_are_refused(
    app: Flask, client: FlaskClient, world: World
) -> None:
    _patient, uid = _study(app, world, images=1)
    headers = world["hw_a"].headers
    first = client.post(f"/api/v1/studies/{uid}/links", json={}, headers=headers).get_json()
    second = client.post(f"/api/v1/studies/{uid}/links", json={}, headers=headers).get_json()
    path1, path2 = _path(first["url"]), _path(second["url"])
    # No `with`: a preserved request context would keep SQLite's lock.
    anonymous = app.test_client()
    assert anonymous.get(path1).status_code == 200
    revoke = client.post(f"/api/v1/studies/{uid}/links/{first['id']}/revoke", headers=headers)
    assert revoke.status_code == 200 and revoke.get_json()["live"] is False
    assert (
        client.post(
            f"/api/v1/studies/{uid}/links/{first['id']}/revoke", headers=headers
        ).status_code
        == 409
    )
    assert anonymous.get(path1).status_code == 404
    with app.app_context(), db.transaction() as sess:
        sess.execute(
            update(ImageLink)
            .where(ImageLink.id == second["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert anonymous.get(path2).status_code == 404
    # Tampered or invented tokens: refused, and the page says nothing more.
    assert anonymous.get(path2[:-3] + "xyz").status_code == 404
    assert anonymous.get("/imaging/links/invented").status_code == 404
    with app.app_context(), db.transaction() as sess:
        denied = sess.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == "imaging:link:opened",
                AuditEvent.outcome == "denied",
                AuditEvent.object_id.in_([str(first["id"]), str(second["id"])]),
            )
        ).all()
    assert sorted(d["reason"] for d in denied) == ["expired", "revoked"]
    listing = client.get(f"/api/v1/studies/{uid}/links", headers=headers).get_json()["items"]
    assert [item["live"] for item in listing] == [False, False]
    assert all("token" not in item and "url" not in item for item in listing)


def test_only_clinicians_and_admins_who_see_the_study_create_links(
    app: Flask, client: FlaskClient, world: World
) -> None:
    _patient, uid = _study(app, world, images=1)
    assert (
        client.post(
            f"/api/v1/studies/{uid}/links", json={}, headers=world["command_x"].headers
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/studies/{uid}/links", json={}, headers=world["hw_b"].headers
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/v1/studies/{uid}/links", json={}, headers=world["admin_a"].headers
        ).status_code
        == 201
    )
