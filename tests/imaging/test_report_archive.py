"""Each signed report version is kept as an Encapsulated PDF instance of its study, through the
outbox, on SQLite and PostgreSQL: the signed bytes inside, the study's patient, dciodvfy clean,
stored once however often the message is delivered, an amendment a second instance."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydicom import dcmread
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db
from hub.models import OutboxMessage, utcnow
from hub.outbox import PermanentError
from hub.pki import ca
from imaging.models import Instance, InstanceKind, Study
from imaging.reading import archive_copy
from tests.imaging.test_reports import BODY, _case
from tests.support.personas import World
from tests.support.pki import pki

__all__ = ["pki"]


def _deliver(app: Flask, *, again: bool = False) -> int:
    """Deliver the queued report copies now, as the outbox drain would; ``again`` delivers
    the ones already delivered a second time (a worker that died before marking them)."""
    with app.app_context(), db.transaction() as sess:
        messages = sess.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == archive_copy.TOPIC)
        ).all()
        done = 0
        for msg in messages:
            if (msg.dispatched_at is None) == again:
                continue
            with sess.begin_nested():
                archive_copy.deliver(sess, msg.payload)
            msg.dispatched_at = utcnow()
            done += 1
        return done


def _copies(app: Flask, study_uid: str) -> list[tuple[str, str, InstanceKind]]:
    with app.app_context(), db.transaction() as sess:
        rows = sess.execute(
            select(Instance.sop_class_uid, Instance.path, Instance.kind)
            .join(Study, Study.id == Instance.study_id)
            .where(
                Study.study_instance_uid == study_uid,
                Instance.sop_class_uid == archive_copy.ENCAPSULATED_PDF,
            )
            .order_by(Instance.id)
        ).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_signed_versions_are_kept_as_encapsulated_pdf_instances(
    app: Flask,
    client: FlaskClient,
    session: Session,
    world: World,
    pki: ca.Authority,
    tmp_path: Path,
) -> None:
    case = _case(app, session, world)
    study_uid = case.url.split("/")[-2]
    assert client.put(case.url, json=BODY, headers=case.radiologist).status_code == 200
    assert client.post(f"{case.url}/sign", headers=case.radiologist).status_code == 201
    signed_pdf = client.get(f"{case.url}.pdf", headers=case.receiver).data
    # The receipt comes before the copy is made: the copy is still the author's signed bytes.
    assert client.post(f"{case.url}/countersign", headers=case.receiver).status_code == 200
    assert _copies(app, study_uid) == []
    assert _deliver(app) >= 1
    copies = _copies(app, study_uid)
    assert len(copies) == 1 and copies[0][2] is InstanceKind.REPORT
    root = Path(app.config["HUB_SETTINGS"].imaging.storage_dir)
    path = root / copies[0][1]
    ds = dcmread(path)
    assert ds.SOPClassUID == archive_copy.ENCAPSULATED_PDF
    assert ds.StudyInstanceUID == study_uid and ds.Modality == "DOC"
    length = int(ds.EncapsulatedDocumentLength)
    assert bytes(ds.EncapsulatedDocument)[:length] == signed_pdf
    with app.app_context(), db.transaction() as sess:
        study = sess.scalar(select(Study).where(Study.study_instance_uid == study_uid))
        assert study is not None
        assert (ds.PatientID, str(ds.PatientName)) == (
            study.dicom_patient_id,
            study.dicom_patient_name,
        )
    if shutil.which("dciodvfy"):
        result = subprocess.run(
            ["dciodvfy", str(path)], capture_output=True, text=True, check=False
        )
        output = result.stdout + result.stderr
        assert "EncapsulatedPDF" in output, output
        errors = [line for line in output.splitlines() if line.startswith("Error")]
        assert errors == [], output

    # Delivered twice (a worker stopped before marking the message): still one instance.
    assert _deliver(app, again=True) >= 1
    assert len(_copies(app, study_uid)) == 1

    # A signed amendment is a second instance; the first stays.
    amend = client.post(f"{case.url}/amend", json={"reason": "typo"}, headers=case.radiologist)
    assert amend.status_code == 201
    assert client.post(f"{case.url}/sign", headers=case.radiologist).status_code == 201
    _deliver(app)
    copies = _copies(app, study_uid)
    assert len(copies) == 2
    numbers = sorted(int(dcmread(root / c[1]).InstanceNumber) for c in copies)
    assert numbers == [1, 2]


def test_a_message_for_nothing_fails_permanently(app: Flask) -> None:
    # Retrying could never succeed: the outbox keeps it as failed for a person to look at.
    payload = {"report_id": 987654321, "document_id": "no-such-document"}
    with app.app_context(), db.transaction() as sess, pytest.raises(PermanentError):
        archive_copy.deliver(sess, payload)
