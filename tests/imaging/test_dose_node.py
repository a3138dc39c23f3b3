"""A study's dose SRs and its KOS go to the national dose node through the outbox: against
dcmtk's storescp (accepted, node down then up: nothing lost, nothing sent twice), a node that
refuses (its status and comment kept), and dicom3tools' dciodvfy on the KOS."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from pydicom.uid import generate_uid
from pynetdicom import AE, AllStoragePresentationContexts, evt
from sqlalchemy import select

from hub import db
from hub.config import DicomPeer
from hub.models import OutboxMessage, Patient, utcnow
from imaging.dose import sending
from imaging.dose.models import NodeSend, NodeState
from imaging.dose.node import TOPIC
from imaging.models import Study
from tests.imaging import dosedata
from tests.imaging.dicomdata import ct_instance
from tests.imaging.dosedata import CtEvent
from tests.imaging.peers import dcmtk_env, running_orthanc, stop, wait_port
from tests.support import factories as f
from tests.support.personas import World
from tests.support.processes import free_port

KOS_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "rdsr"


class StoreScp:
    """dcmtk's storescp, each received object kept under a unique name (a resend shows)."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["storescp", "+uf", "-aet", "DOSENODE", "-od", str(self.directory), str(self.port)],
            env=dcmtk_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.port, 30, self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def received(self) -> Counter[tuple[str, str]]:
        """(SOP class, SOP instance UID) of every object received, with how often."""
        found: Counter[tuple[str, str]] = Counter()
        for path in self.directory.iterdir():
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            found[(str(ds.SOPClassUID), str(ds.SOPInstanceUID))] += 1
        return found


@pytest.fixture
def node_port() -> int:
    return free_port()


@pytest.fixture
def storescp(tmp_path: Path, node_port: int) -> Iterator[StoreScp]:
    scp = StoreScp(tmp_path / "received", node_port)
    yield scp
    scp.stop()


@pytest.fixture
def with_node(app: Flask, node_port: int, monkeypatch: pytest.MonkeyPatch) -> DicomPeer:
    """This app, configured with a national dose node on ``node_port``."""
    peer = DicomPeer("DOSENODE", "127.0.0.1", node_port)
    settings = app.config["HUB_SETTINGS"]
    imaging = dataclasses.replace(settings.imaging, national_dose_node=peer)
    monkeypatch.setitem(app.config, "HUB_SETTINGS", dataclasses.replace(settings, imaging=imaging))
    return peer


def _study(
    app: Flask, world: World, *, images: int = 2, rdsr: bool = False
) -> tuple[str, list[str]]:
    with app.app_context(), db.transaction() as sess:
        patient = f.patient(sess, world.facility_a)
        national_id = patient.national_id
    study_uid = generate_uid()
    series = generate_uid()
    datasets = [
        ct_instance(
            patient_id=national_id, study_uid=study_uid, series_uid=series, number=n, size=8
        )
        for n in range(1, images + 1)
    ]
    if rdsr and (CORPUS / "CT-RDSR-GEPixelMed.dcm").exists():
        report = dosedata.from_file(
            CORPUS / "CT-RDSR-GEPixelMed.dcm", study_uid=study_uid, patient_id=national_id
        )
    else:
        report = dosedata.ct_rdsr(
            [CtEvent(10.0, 300.0)], study_uid=study_uid, patient_id=national_id
        )
    datasets.append(report)
    assert dosedata.store(app, world.facility_a.id, datasets, national_node=True) == [
        "stored"
    ] * len(datasets)
    return study_uid, [str(d.SOPInstanceUID) for d in datasets]


def _drain(app: Flask, study_uid: str) -> NodeSend:
    """Deliver the study's due dose-node messages now, as the outbox drain would (backoffs
    skipped: the test does not wait for them)."""
    with app.app_context(), db.transaction() as sess:
        study_id = sess.scalar(select(Study.id).where(Study.study_instance_uid == study_uid))
        messages = sess.scalars(
            select(OutboxMessage).where(
                OutboxMessage.topic == TOPIC, OutboxMessage.dispatched_at.is_(None)
            )
        ).all()
        for msg in messages:
            if msg.payload.get("study_id") != study_id:
                continue
            with sess.begin_nested():
                sending.deliver(sess, msg.payload)
            msg.dispatched_at = utcnow()
        row = sess.scalar(select(NodeSend).where(NodeSend.study_id == study_id))
        assert row is not None
        sess.expunge(row)
        return row


def test_sr_and_kos_reach_storescp(
    app: Flask, client: FlaskClient, world: World, storescp: StoreScp, with_node: DicomPeer
) -> None:
    storescp.start()
    study_uid, uids = _study(app, world, images=3, rdsr=True)
    row = _drain(app, study_uid)
    assert row.state is NodeState.ACCEPTED and row.accepted_at is not None
    received = storescp.received()
    report_uid = uids[-1]
    assert set(received) == {
        ("1.2.840.10008.5.1.4.1.1.88.67", report_uid),
        (KOS_CLASS, row.kos_sop_instance_uid),
    }
    assert set(received.values()) == {1}
    kos_file = next(p for p in storescp.directory.iterdir() if "KO" in p.name or "SR" not in p.name)
    document = pydicom.dcmread(kos_file)
    assert document.SOPClassUID == KOS_CLASS
    named = {
        item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        for item in document.ContentSequence
        if item.ValueType in ("COMPOSITE", "IMAGE")
    }
    assert named == set(uids)  # the dose SR and every image of the study
    evidence = document.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == study_uid
    assert sum(len(s.ReferencedSOPSequence) for s in evidence.ReferencedSeriesSequence) == 4
    with app.app_context():
        resp = client.get(f"/api/v1/studies/{study_uid}/dose", headers=world["hw_a"].headers)
    assert resp.get_json()["national_node"]["state"] == "accepted"


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools is not installed")
def test_the_kos_passes_dciodvfy(
    app: Flask, world: World, storescp: StoreScp, with_node: DicomPeer
) -> None:
    storescp.start()
    study_uid, _uids = _study(app, world, images=2)
    row = _drain(app, study_uid)
    path = sending.kos_path(app.config["HUB_SETTINGS"].imaging, row.kos_sop_instance_uid)
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    assert "KeyObjectSelectionDocument" in output
    errors = [line for line in output.splitlines() if line.startswith("Error")]
    assert errors == [], output


def test_node_down_then_up_loses_nothing_and_sends_nothing_twice(
    app: Flask, world: World, storescp: StoreScp, with_node: DicomPeer
) -> None:
    study_uid, uids = _study(app, world, images=2)
    down = _drain(app, study_uid)
    assert down.state is NodeState.LOCAL and down.delivered == []
    assert down.comment == "archive unreachable"
    with app.app_context(), db.transaction() as sess:
        waiting = sess.scalars(
            select(OutboxMessage).where(
                OutboxMessage.topic == TOPIC, OutboxMessage.dispatched_at.is_(None)
            )
        ).all()
        assert any(m.available_at > utcnow() for m in waiting)  # retried after a backoff
    storescp.start()
    up = _drain(app, study_uid)
    assert up.state is NodeState.ACCEPTED
    # Queued again (a duplicate message, a second worker): nothing more is sent.
    with app.app_context(), db.transaction() as sess:
        sess.add(OutboxMessage(topic=TOPIC, payload={"study_id": up.study_id}))
    assert _drain(app, study_uid).state is NodeState.ACCEPTED
    received = storescp.received()
    assert sorted(received.values()) == [1, 1]
    assert {uid for _cls, uid in received} == {uids[-1], up.kos_sop_instance_uid}


def test_a_second_dose_report_sends_only_what_is_new(
    app: Flask, world: World, storescp: StoreScp, with_node: DicomPeer
) -> None:
    storescp.start()
    study_uid, uids = _study(app, world, images=1)
    first = _drain(app, study_uid)
    with app.app_context(), db.transaction() as sess:
        patient_id = sess.scalar(
            select(Study.dicom_patient_id).where(Study.study_instance_uid == study_uid)
        )
    later = dosedata.ct_rdsr([CtEvent(5.0, 50.0)], study_uid=study_uid, patient_id=patient_id)
    dosedata.store(app, world.facility_a.id, [later], national_node=True)
    second = _drain(app, study_uid)
    assert second.state is NodeState.ACCEPTED
    assert second.kos_sop_instance_uid != first.kos_sop_instance_uid  # a KOS naming both
    received = storescp.received()
    assert set(received.values()) == {1}
    assert {uid for _c, uid in received} == {
        uids[-1],
        str(later.SOPInstanceUID),
        first.kos_sop_instance_uid,
        second.kos_sop_instance_uid,
    }


def test_a_refusing_node_leaves_its_status_and_comment(
    app: Flask, world: World, node_port: int, with_node: DicomPeer
) -> None:
    def refuse(event: evt.Event) -> pydicom.Dataset:
        status = pydicom.Dataset()
        status.Status = 0xA900
        status.ErrorComment = "Unknown patient"
        return status

    ae = AE(ae_title="DOSENODE")
    ae.supported_contexts = AllStoragePresentationContexts
    server = ae.start_server(
        ("127.0.0.1", node_port), block=False, evt_handlers=[(evt.EVT_C_STORE, refuse)]
    )
    try:
        study_uid, _uids = _study(app, world, images=1)
        row = _drain(app, study_uid)
    finally:
        server.shutdown()
    assert row.state is NodeState.REFUSED
    assert (row.status, row.comment) == (0xA900, "Unknown patient")
    # Refused stays refused: the next message sends nothing (a person must look at it).
    assert _drain(app, study_uid).attempts == row.attempts


def test_without_a_node_nothing_is_queued(app: Flask, world: World) -> None:
    with app.app_context(), db.transaction() as sess:
        patient = f.patient(sess, world.facility_a)
        national_id = patient.national_id
        assert sess.get(Patient, patient.id) is not None
    report = dosedata.ct_rdsr([CtEvent(1.0, 10.0)], patient_id=national_id)
    dosedata.store(app, world.facility_a.id, [report], national_node=False)
    with app.app_context(), db.transaction() as sess:
        study_id = sess.scalar(
            select(Study.id).where(Study.study_instance_uid == str(report.StudyInstanceUID))
        )
        assert sess.scalar(select(NodeSend).where(NodeSend.study_id == study_id)) is None


def test_orthanc_as_the_node_accepts_the_sr_and_the_kos(
    app: Flask, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        peer = DicomPeer(orthanc.aet, "127.0.0.1", orthanc.dicom_port)
        settings = app.config["HUB_SETTINGS"]
        imaging = dataclasses.replace(settings.imaging, national_dose_node=peer)
        monkeypatch.setitem(
            app.config, "HUB_SETTINGS", dataclasses.replace(settings, imaging=imaging)
        )
        study_uid, uids = _study(app, world, images=2)
        row = _drain(app, study_uid)
        assert row.state is NodeState.ACCEPTED
        stored = [
            requests.get(f"{orthanc.url}/instances/{ident}", timeout=30).json()["MainDicomTags"]
            for ident in orthanc.instances_of(study_uid)
        ]
        assert sorted(tags["SOPInstanceUID"] for tags in stored) == sorted(
            [uids[-1], row.kos_sop_instance_uid]
        )
