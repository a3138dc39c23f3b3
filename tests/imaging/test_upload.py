"""Uploads over HTTP: Part 10 files and zips, stored and indexed like C-STORE; bad files are
refused one by one with their reason; zips are checked before they are unpacked."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub import db
from hub.models import Role
from imaging.models import Instance, Study
from tests.imaging.dicomdata import write_study
from tests.support.pages import logged_in
from tests.support.personas import World


def _count(app: Flask, study_uid: str) -> int:
    with app.app_context(), db.transaction() as sess:
        return int(
            sess.scalar(
                select(func.count(Instance.id))
                .join(Study, Study.id == Instance.study_id)
                .where(Study.study_instance_uid == study_uid)
            )
            or 0
        )


def test_upload_files_and_zip(
    app: Flask, client: FlaskClient, world: World, tmp_path: Path
) -> None:
    study_uid, paths = write_study(
        tmp_path / "s", patient_id=world.patient_a.national_id, count=4, size=32
    )
    headers = world["hw_a"].headers
    resp = client.post(
        "/api/v1/studies/upload",
        headers=headers,
        content_type="multipart/form-data",
        data={
            "files": [(io.BytesIO(p.read_bytes()), p.name) for p in paths[:2]]
            + [(io.BytesIO(b"not dicom at all"), "notes.txt")]
        },
    )
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["stored"], body["duplicates"], body["studies"]) == (2, 0, [study_uid])
    assert body["refused"] == [{"file": "notes.txt", "reason": "not a DICOM file (no DICM prefix)"}]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for p in paths:  # two already uploaded: duplicates
            zf.write(p, f"dir/{p.name}")
        zf.writestr("dir/truncated.dcm", paths[0].read_bytes()[:3000])
    archive.seek(0)
    resp = client.post(
        "/api/v1/studies/upload",
        headers=headers,
        content_type="multipart/form-data",
        data={"files": [(archive, "study.zip")]},
    )
    body = resp.get_json()
    assert (body["stored"], body["duplicates"]) == (2, 2), body
    assert [r["file"] for r in body["refused"]] == ["study.zip/dir/truncated.dcm"]
    assert _count(app, study_uid) == 4
    with app.app_context(), db.transaction() as sess:
        facility = sess.scalar(
            select(Study.facility_id).where(Study.study_instance_uid == study_uid)
        )
    assert facility == world.facility_a.id


def test_upload_refusals(client: FlaskClient, world: World, tmp_path: Path) -> None:
    _uid, paths = write_study(tmp_path, patient_id="UP-1", count=1, size=16)

    def send(persona: str, **form: object) -> int:
        data = {"files": [(io.BytesIO(paths[0].read_bytes()), "a.dcm")], **form}
        return client.post(
            "/api/v1/studies/upload",
            headers=world[persona].headers,
            content_type="multipart/form-data",
            data=data,
        ).status_code

    assert send("specialist") == 403  # no imaging:write
    assert send("insurer_a") == 403
    assert send("hw_a", facility=world.facility_b.code) == 403
    assert send("national") == 422  # no facility of their own: must say which
    assert send("national", facility="NOPE") == 422
    assert (
        client.post(
            "/api/v1/studies/upload",
            headers=world["hw_a"].headers,
            content_type="multipart/form-data",
            data={},
        ).status_code
        == 422
    )
    broken = io.BytesIO(b"PK\x03\x04 this is no zip")
    assert (
        client.post(
            "/api/v1/studies/upload",
            headers=world["hw_a"].headers,
            content_type="multipart/form-data",
            data={"files": [(broken, "x.zip")]},
        ).status_code
        == 422
    )


def test_the_upload_page_speaks_the_readers_language(app: Flask, world: World) -> None:
    browser = logged_in(app, Role.CHW, world.facility_a.code)
    browser.get("/lang/fa")
    page = browser.get("/imaging/upload").get_data(as_text=True)
    # The script fills the numbers into the page's own wording.
    assert 'data-text-result="{stored} ذخیره شد، {duplicates} از قبل موجود بود' in page
    assert "data-text-network=" in page and "Network error" not in page
