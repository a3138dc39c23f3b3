"""Ingest checks at the DICOM node, against dcmtk and pynetdicom: another facility's or another
patient's instance never joins a study, declared frame counts are checked against the pixel
data, the called AE title is checked, and a different object under a stored SOP Instance UID is
reported and kept in quarantine."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydicom.uid import generate_uid
from sqlalchemy import select

from hub import db
from hub.models import AuditEvent
from imaging.models import Instance, Quarantined, Study
from tests.imaging.conftest import Titles, storage_dir
from tests.imaging.dicomdata import ct_instance, write_study
from tests.imaging.peers import Node, dcmtk
from tests.imaging.test_node import Sender, counts, store
from tests.support.personas import World

pytestmark = pytest.mark.slow


def _files(node: Node) -> set[str]:
    return {
        str(p.relative_to(storage_dir(node))) for p in storage_dir(node).rglob("*") if p.is_file()
    }


def _refusals(app: Flask, study_id: int) -> list[AuditEvent]:
    with app.app_context(), db.transaction() as sess:
        return list(
            sess.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "imaging:instance:refused",
                    AuditEvent.object_id == str(study_id),
                )
            )
        )


def test_an_instance_of_another_facility_or_patient_never_joins_a_study(
    app: Flask, client: FlaskClient, node: Node, titles: Titles, world: World, tmp_path: Path
) -> None:
    study_uid, slices = write_study(
        tmp_path / "a", patient_id=world.patient_a.national_id, count=2, size=16
    )
    store(node, titles.a, *slices)
    before = counts(app, study_uid)
    files = _files(node)
    with app.app_context(), db.transaction() as sess:
        study_id = sess.scalar(select(Study.id).where(Study.study_instance_uid == study_uid))
    assert study_id is not None
    series_uid = generate_uid()
    foreign = ct_instance(
        patient_id="OTHER-PATIENT-C", study_uid=study_uid, series_uid=series_uid, number=9, size=16
    )
    same_patient_elsewhere = ct_instance(
        patient_id=world.patient_a.national_id,
        study_uid=study_uid,
        series_uid=series_uid,
        number=10,
        size=16,
    )
    other_patient_here = ct_instance(
        patient_id="OTHER-PATIENT-A", study_uid=study_uid, series_uid=series_uid, number=11, size=16
    )
    sender_c = Sender(node.port, titles.c)
    try:
        answers = [sender_c.store(foreign), sender_c.store(same_patient_elsewhere)]
    finally:
        sender_c.release()
    sender_a = Sender(node.port, titles.a)
    try:
        answers.append(sender_a.store(other_patient_here))
        # The same association goes on storing good instances.
        good = ct_instance(
            patient_id=world.patient_a.national_id,
            study_uid=study_uid,
            series_uid=series_uid,
            number=12,
            size=16,
        )
        assert sender_a.status(good) == 0x0000
    finally:
        sender_a.release()
    assert [int(a.Status) for a in answers] == [0xA900] * 3
    assert [str(a.ErrorComment) for a in answers] == [
        "the study belongs to another facility",
        "the study belongs to another facility",
        "the patient differs from the study's patient",
    ]
    assert counts(app, study_uid)[0] == before[0] + 1
    with app.app_context(), db.transaction() as sess:
        refused_uids = [
            foreign.SOPInstanceUID,
            same_patient_elsewhere.SOPInstanceUID,
            other_patient_here.SOPInstanceUID,
        ]
        assert not sess.scalars(
            select(Instance.id).where(Instance.sop_instance_uid.in_(refused_uids))
        ).all()
        study = sess.get_one(Study, study_id)
        assert (study.facility_id, study.dicom_patient_id) == (
            world.facility_a.id,
            world.patient_a.national_id,
        )
    # Nothing of the refused instances is left in storage: only the good one's file is new.
    assert len(_files(node) - files) == 1
    events = _refusals(app, study_id)
    assert sorted(e.details["reason"] for e in events) == [
        "foreign_study",
        "foreign_study",
        "patient_mismatch",
    ]
    for event in events:
        assert event.outcome == "denied"
        text = str(event.details)
        assert "OTHER-PATIENT" not in text and "TEST^PATIENT" not in text
    # Facility A's page of the study shows its own patient's instances only.
    resp = client.get(f"/api/v1/studies/{study_uid}", headers=world["hw_a"].headers)
    assert resp.get_json()["instances"] == before[0] + 1


def test_storescu_from_another_facility_is_told_why(
    app: Flask, node: Node, titles: Titles, world: World, tmp_path: Path
) -> None:
    study_uid, slices = write_study(tmp_path / "a", patient_id="LOCAL-A-77", count=1, size=16)
    store(node, titles.a, *slices)
    _uid, intruders = write_study(
        tmp_path / "c", patient_id="LOCAL-C-77", count=1, size=16, study_uid=study_uid
    )
    result = dcmtk(
        "storescu",
        "-v",
        "-aet",
        titles.c,
        "-aec",
        "HUB",
        "127.0.0.1",
        str(node.port),
        str(intruders[0]),
    )
    out = result.stdout + result.stderr
    assert "Received Store Response (Error: DataSetDoesNotMatchSOPClass)" in out, out
    assert counts(app, study_uid)[0] == 1


def test_declared_frames_are_checked_against_the_pixel_data(
    app: Flask, client: FlaskClient, node: Node, titles: Titles, world: World
) -> None:
    study_uid, series_uid = generate_uid(), generate_uid()
    liar = ct_instance(
        patient_id="LOCAL-FRAMES", study_uid=study_uid, series_uid=series_uid, number=1, size=8
    )
    liar.NumberOfFrames = 999999999  # 128 bytes of pixels: one 8x8 16-bit frame
    short = ct_instance(
        patient_id="LOCAL-FRAMES", study_uid=study_uid, series_uid=series_uid, number=2, size=8
    )
    short.Rows = short.Columns = 64  # 8 KB a frame declared, 128 bytes sent
    honest = ct_instance(
        patient_id="LOCAL-FRAMES", study_uid=study_uid, series_uid=series_uid, number=3, size=8
    )
    sender = Sender(node.port, titles.a)
    try:
        answers = [sender.store(liar), sender.store(short), sender.store(honest)]
    finally:
        sender.release()
    assert [int(a.Status) for a in answers] == [0xB007, 0xB007, 0x0000]
    assert "frames_exceed_pixel_data" in str(answers[0].ErrorComment)
    assert "pixel_data_truncated" in str(answers[1].ErrorComment)
    with app.app_context(), db.transaction() as sess:
        rows = dict(
            sess.execute(
                select(Instance.sop_instance_uid, Instance.frames).where(
                    Instance.sop_instance_uid.in_(
                        [liar.SOPInstanceUID, short.SOPInstanceUID, honest.SOPInstanceUID]
                    )
                )
            ).all()
        )
    assert rows == {liar.SOPInstanceUID: 1, short.SOPInstanceUID: 1, honest.SOPInstanceUID: 1}
    body = client.get(f"/api/v1/studies/{study_uid}", headers=world["hw_a"].headers).get_json()
    assert body["instances_with_problems"] == 2
    assert {p["sop_instance_uid"]: p["problems"] for p in body["problems"]} == {
        liar.SOPInstanceUID: ["frames_exceed_pixel_data"],
        short.SOPInstanceUID: ["pixel_data_truncated"],
    }


def test_an_association_calling_another_ae_title_is_rejected(node: Node, titles: Titles) -> None:
    refused = dcmtk("echoscu", "-aet", titles.a, "-aec", "NOTTHEHUB", "127.0.0.1", str(node.port))
    assert refused.returncode != 0
    assert "Association Rejected" in refused.stdout + refused.stderr
    assert "calling AE title 'NOTTHEHUB'" in node.output()
    ok = dcmtk("echoscu", "-aet", titles.a, "-aec", "HUB", "127.0.0.1", str(node.port))
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_different_object_under_a_stored_uid_is_reported_and_quarantined(
    app: Flask, client: FlaskClient, node: Node, titles: Titles, world: World
) -> None:
    study_uid, series_uid = generate_uid(), generate_uid()
    first = ct_instance(
        patient_id="LOCAL-QUAR", study_uid=study_uid, series_uid=series_uid, number=1, size=16
    )
    other = ct_instance(
        patient_id="LOCAL-QUAR", study_uid=study_uid, series_uid=series_uid, number=1, size=16
    )
    other.SOPInstanceUID = first.SOPInstanceUID
    other.file_meta.MediaStorageSOPInstanceUID = first.SOPInstanceUID
    other.PixelData = bytes(len(first.PixelData))  # same size, other content
    sender = Sender(node.port, titles.a)
    try:
        assert sender.status(first) == 0x0000
        same = sender.store(first)
        changed = sender.store(other)
        again = sender.store(other)  # a retry keeps one copy
    finally:
        sender.release()
    assert int(same.Status) == 0x0000
    assert [int(changed.Status), int(again.Status)] == [0xB000, 0xB000]
    assert "quarantined" in str(changed.ErrorComment)
    with app.app_context(), db.transaction() as sess:
        instance = sess.scalars(
            select(Instance).where(Instance.sop_instance_uid == first.SOPInstanceUID)
        ).one()
        kept = sess.scalars(
            select(Quarantined).where(Quarantined.sop_instance_uid == first.SOPInstanceUID)
        ).all()
    assert len(kept) == 1 and kept[0].instance_id == instance.id
    assert kept[0].facility_id == world.facility_a.id
    assert instance.path is not None
    stored = (storage_dir(node) / instance.path).read_bytes()
    aside = (storage_dir(node) / kept[0].path).read_bytes()
    assert stored.endswith(bytes(first.PixelData)) and aside.endswith(bytes(other.PixelData))
    assert stored != aside and len(aside) == kept[0].size
    body = client.get(f"/api/v1/studies/{study_uid}", headers=world["admin_a"].headers).get_json()
    assert (body["instances"], body["quarantined"]) == (1, 1)
    with app.app_context(), db.transaction() as sess:
        assert sess.scalar(
            select(AuditEvent.id).where(
                AuditEvent.action == "imaging:instance:quarantined",
                AuditEvent.object_id == str(kept[0].id),
            )
        )
