"""The CD/download package: a zip with a DICOMDIR that pydicom reads back, with every instance,
for staff through the API and for anyone holding a link; both audited."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from pydicom import dcmread
from pydicom.fileset import FileSet
from sqlalchemy import select

from hub import db
from hub.models import AuditEvent
from tests.imaging.support import ingest
from tests.support import factories as f
from tests.support.personas import World


def _check_zip(data: bytes, tmp_path: Path, images: int, others: int) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(tmp_path)
        names = archive.namelist()
    assert "DICOMDIR" in names and "README.TXT" in names
    fileset = FileSet(dcmread(tmp_path / "DICOMDIR"))
    assert len(fileset) == images
    for instance in fileset:
        assert instance.load().SOPInstanceUID == instance.SOPInstanceUID
    # The test report lacks what a DICOMDIR record of an SR needs: it travels beside it.
    assert len([n for n in names if n.startswith("OTHER/")]) == others


def test_package_through_the_api_and_a_link(
    app: Flask, client: FlaskClient, world: World, tmp_path: Path
) -> None:
    with app.app_context(), db.transaction() as sess:
        patient = f.patient(sess, world.facility_a)
        national_id = patient.national_id
    study = ingest(app, world.facility_a, national_id, images=3, reports=1, size=32)
    resp = client.get(f"/api/v1/studies/{study.study_uid}/package", headers=world["gp_a"].headers)
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    _check_zip(resp.data, tmp_path / "api", 3, 1)
    assert (
        client.get(
            f"/api/v1/studies/{study.study_uid}/package", headers=world["hw_b"].headers
        ).status_code
        == 404
    )
    link = client.post(
        f"/api/v1/studies/{study.study_uid}/links", json={}, headers=world["gp_a"].headers
    ).get_json()
    path = "/" + link["url"].split("://", 1)[1].split("/", 1)[1]
    anonymous = app.test_client()
    got = anonymous.get(f"{path}/package.zip")
    assert got.status_code == 200
    _check_zip(got.data, tmp_path / "link", 3, 1)
    assert anonymous.get("/imaging/links/forged/package.zip").status_code == 404
    with app.app_context(), db.transaction() as sess:
        actions = set(
            sess.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.action.in_(["imaging:study:exported", "imaging:link:exported"])
                )
            )
        )
    assert actions == {"imaging:study:exported", "imaging:link:exported"}
