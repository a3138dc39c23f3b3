"""The DICOM node against dcmtk's echoscu, storescu and findscu (and raw pynetdicom for data
dcmtk refuses to send): registry, durable indexed storage, duplicates, malformed input, C-FIND."""

from __future__ import annotations

import re
import struct
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)
from pynetdicom import AE, _config, evt
from sqlalchemy import func, select

from hub import db
from imaging.dicom.transport import set_nodelay
from imaging.models import Instance, InstanceKind, Series, Study
from tests.imaging.conftest import Titles, storage_dir
from tests.imaging.dicomdata import (
    KEY_OBJECT_SELECTION,
    ct_instance,
    sr_instance,
    write_study,
)
from tests.imaging.peers import Node, dcmtk, running_node
from tests.support.personas import World
from tests.support.processes import established_on

pytestmark = pytest.mark.slow


def store(node: Node, title: str, *paths: Path) -> str:
    result = dcmtk(
        "storescu", "-aet", title, "-aec", "HUB", "127.0.0.1", str(node.port), *map(str, paths)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def find(node: Node, title: str, level: str, *keys: str) -> list[dict[str, str]]:
    args = [
        "findscu",
        "-v",
        "-aet",
        title,
        "-aec",
        "HUB",
        "-S",
        "-k",
        f"QueryRetrieveLevel={level}",
    ]
    for key in keys:
        args += ["-k", key]
    result = dcmtk(*args, "127.0.0.1", str(node.port))
    assert result.returncode == 0, result.stdout + result.stderr
    answers: list[dict[str, str]] = []
    for line in (result.stdout + result.stderr).splitlines():
        if "Find Response:" in line and "Pending" in line:
            answers.append({})
        elif answers and line.startswith("I: (") and "[" in line:
            name = line.rsplit(" ", 1)[-1]
            # An odd-length UID is padded with a NUL, which findscu prints inside the brackets.
            answers[-1][name] = line.split("[", 1)[1].split("]", 1)[0].strip("\x00 ")
    return answers


def counts(app: Flask, study_uid: str) -> tuple[int, int, list[str]]:
    with app.app_context(), db.transaction() as sess:
        study = sess.scalar(select(Study).where(Study.study_instance_uid == study_uid))
        if study is None:
            return 0, 0, []
        n = sess.scalar(select(func.count(Instance.id)).where(Instance.study_id == study.id))
        paths = list(sess.scalars(select(Instance.path).where(Instance.study_id == study.id)))
        series = sess.scalar(select(func.count(Series.id)).where(Series.study_id == study.id))
    return int(n or 0), int(series or 0), [p for p in paths if p]


def test_echo_from_registered_and_unknown_titles(node: Node, titles: Titles) -> None:
    ok = dcmtk("echoscu", "-aet", titles.a, "-aec", "HUB", "127.0.0.1", str(node.port))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    refused = dcmtk("echoscu", "-aet", "UNKNOWNAE", "-aec", "HUB", "127.0.0.1", str(node.port))
    assert refused.returncode != 0
    assert "Association Rejected" in refused.stdout + refused.stderr
    assert "rejected association from unknown calling AE 'UNKNOWNAE'" in node.output()


def test_store_indexes_every_class_and_keeps_transfer_syntax(
    app: Flask, node: Node, titles: Titles, world: World, tmp_path: Path
) -> None:
    study_uid, slices = write_study(
        tmp_path / "ct", patient_id=world.patient_a.national_id, count=4
    )
    series_uid = dcmread(slices[0]).SeriesInstanceUID
    rle = ct_instance(
        patient_id=world.patient_a.national_id,
        study_uid=study_uid,
        series_uid=series_uid,
        number=5,
        size=64,
        syntax=RLELossless,
    )
    implicit = ct_instance(
        patient_id=world.patient_a.national_id,
        study_uid=study_uid,
        series_uid=series_uid,
        number=6,
        size=64,
        syntax=ImplicitVRLittleEndian,
    )
    sr = sr_instance(
        patient_id=world.patient_a.national_id, study_uid=study_uid, series_uid=generate_uid()
    )
    kos = sr_instance(
        patient_id=world.patient_a.national_id,
        study_uid=study_uid,
        series_uid=generate_uid(),
        sop_class=KEY_OBJECT_SELECTION,
    )
    extra = []
    for name, ds in (("rle", rle), ("implicit", implicit), ("sr", sr), ("kos", kos)):
        path = tmp_path / f"{name}.dcm"
        ds.save_as(path, enforce_file_format=True)
        extra.append(path)
    store(node, titles.a, *slices, *extra[2:])
    # -xr proposes RLE Lossless and -xi implicit VR only, so each file travels as it is.
    for option, path in (("-xr", extra[0]), ("-xi", extra[1])):
        result = dcmtk(
            "storescu",
            option,
            "-aet",
            titles.a,
            "-aec",
            "HUB",
            "127.0.0.1",
            str(node.port),
            str(path),
        )
        assert result.returncode == 0, result.stdout + result.stderr

    instances, series, paths = counts(app, study_uid)
    assert (instances, series, len(paths)) == (8, 3, 8)
    with app.app_context(), db.transaction() as sess:
        study = sess.scalar(select(Study).where(Study.study_instance_uid == study_uid))
        assert study is not None
        # PatientID is patient A's national id: linked to the real-name patient.
        assert study.patient_id == world.patient_a.id
        assert study.facility_id == world.facility_a.id
        kinds = dict(
            sess.execute(
                select(Instance.sop_instance_uid, Instance.kind).where(
                    Instance.study_id == study.id
                )
            ).all()
        )
        syntaxes = dict(
            sess.execute(
                select(Instance.sop_instance_uid, Instance.transfer_syntax_uid).where(
                    Instance.study_id == study.id
                )
            ).all()
        )
    assert kinds[sr.SOPInstanceUID] == InstanceKind.REPORT
    assert kinds[kos.SOPInstanceUID] == InstanceKind.REPORT
    assert kinds[rle.SOPInstanceUID] == InstanceKind.IMAGE
    assert syntaxes[rle.SOPInstanceUID] == RLELossless
    assert syntaxes[implicit.SOPInstanceUID] == ImplicitVRLittleEndian
    stored = {dcmread(storage_dir(node) / p).SOPInstanceUID: storage_dir(node) / p for p in paths}
    assert dcmread(stored[rle.SOPInstanceUID]).file_meta.TransferSyntaxUID == RLELossless
    # The stored pixel data are the bytes sent, unchanged.
    assert dcmread(stored[rle.SOPInstanceUID]).PixelData == rle.PixelData


def test_duplicate_sop_instance_is_acknowledged_but_not_stored_twice(
    app: Flask, node: Node, titles: Titles, world: World, tmp_path: Path
) -> None:
    study_uid, slices = write_study(tmp_path, patient_id="LOCAL-77", count=3, size=64)
    store(node, titles.a, *slices)
    before = counts(app, study_uid)
    files_before = sorted(p.name for p in storage_dir(node).rglob("*.dcm"))
    store(node, titles.a, *slices)  # success status again
    assert counts(app, study_uid) == before
    assert sorted(p.name for p in storage_dir(node).rglob("*.dcm")) == files_before
    # A PatientID that is no national id leaves the study unlinked.
    with app.app_context(), db.transaction() as sess:
        assert (
            sess.scalar(select(Study.patient_id).where(Study.study_instance_uid == study_uid))
            is None
        )


def _raw_send(
    node: Node, title: str, path: Path, sop_class: str, syntax: str = ExplicitVRLittleEndian
) -> int | None:
    """Stream a file's bytes as they are (pynetdicom never checks them when chunked)."""
    _config.STORE_SEND_CHUNKED_DATASET = True
    try:
        ae = AE(ae_title=title)
        ae.add_requested_context(sop_class, syntax)
        assoc = ae.associate(
            "127.0.0.1", node.port, ae_title="HUB", evt_handlers=[(evt.EVT_CONN_OPEN, set_nodelay)]
        )
        assert assoc.is_established
        try:
            status = assoc.send_c_store(path)
            return int(status.Status) if "Status" in status else None
        finally:
            assoc.release()
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = False


def _part10(path: Path, sop_class: str, sop_uid: str, body: bytes) -> Path:
    ds = ct_instance(patient_id="X", study_uid="1.2.3", series_uid="1.2.3.4", number=1, size=8)
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.save_as(path, enforce_file_format=True)
    raw = path.read_bytes()
    meta_end = 132 + 12 + struct.unpack("<I", raw[140:144])[0]
    path.write_bytes(raw[:meta_end] + body)
    return path


def _element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    return struct.pack("<HH", group, elem) + vr + struct.pack("<H", len(value)) + value


def _even(uid: str) -> bytes:
    return uid.encode() + b"\0" * (len(uid) % 2)


def test_malformed_datasets_fail_and_leave_the_node_unharmed(
    app: Flask, node: Node, titles: Titles, tmp_path: Path
) -> None:
    good = ct_instance(
        patient_id="MALF-1",
        study_uid="1.2.826.0.1.3680043.10.1408.99.1",
        series_uid="1.2.826.0.1.3680043.10.1408.99.1.1",
        number=1,
        size=64,
    )
    good.save_as(tmp_path / "good.dcm", enforce_file_format=True)
    whole = (tmp_path / "good.dcm").read_bytes()
    meta_end = 132 + 12 + struct.unpack("<I", whole[140:144])[0]
    body = whole[meta_end:]
    ct, uid = str(good.SOPClassUID), str(good.SOPInstanceUID)
    cases = {
        "truncated": body[:-1000],
        "bad_length": body[:200]
        + _element(0x0040, 0x0001, b"LO", b"x" * 8)[:-8]
        + b"\xff\xff"
        + b"x" * 8,
        # Everything a CT has except its SOP Instance UID.
        "missing_sop_uid": _element(0x0008, 0x0016, b"UI", _even(ct))
        + _element(0x0020, 0x000D, b"UI", b"1.2.3.4\0"),
        "garbage": b"\x01\x02\x03",
    }
    for name, data in cases.items():
        path = _part10(tmp_path / f"{name}.dcm", ct, uid, data)
        status = _raw_send(node, titles.a, path, ct)
        # Cannot understand (a permanent failure: the sender is not told to retry).
        assert status == 0xC000, (name, status)
    with app.app_context(), db.transaction() as sess:
        assert sess.scalar(select(Instance.id).where(Instance.sop_instance_uid == uid)) is None
    assert "refused an instance from" in node.output()
    # The node still answers and stores the intact instance.
    ok = dcmtk("echoscu", "-aet", titles.a, "-aec", "HUB", "127.0.0.1", str(node.port))
    assert ok.returncode == 0
    store(node, titles.a, tmp_path / "good.dcm")
    with app.app_context(), db.transaction() as sess:
        assert sess.scalar(select(Instance.id).where(Instance.sop_instance_uid == uid))
    assert "Traceback" not in node.output()


def test_find_at_patient_study_and_series_level_within_the_facility(
    node: Node, titles: Titles, world: World, tmp_path: Path
) -> None:
    pid = f"FIND-{world.facility_a.code}"
    study_uid, slices = write_study(
        tmp_path, patient_id=pid, count=3, size=64, study_date=date(2023, 2, 3)
    )
    store(node, titles.a, *slices)
    studies = find(
        node,
        titles.a,
        "STUDY",
        f"PatientID={pid}",
        "StudyInstanceUID",
        "StudyDate",
        "NumberOfStudyRelatedInstances",
        "ModalitiesInStudy",
    )
    assert len(studies) == 1
    assert studies[0]["StudyInstanceUID"] == study_uid
    assert studies[0]["NumberOfStudyRelatedInstances"] == "3"
    assert studies[0]["ModalitiesInStudy"] == "CT"
    ranged = find(
        node,
        titles.a,
        "STUDY",
        f"PatientID={pid}",
        "StudyDate=20230101-20230301",
        "StudyInstanceUID",
    )
    assert [s["StudyInstanceUID"] for s in ranged] == [study_uid]
    assert (
        find(node, titles.a, "STUDY", f"PatientID={pid}", "StudyDate=20240101-", "StudyInstanceUID")
        == []
    )
    patients = find(
        node, titles.a, "PATIENT", f"PatientID={pid[:6]}*", "NumberOfPatientRelatedInstances"
    )
    assert patients and patients[0]["NumberOfPatientRelatedInstances"] == "3"
    series = find(
        node,
        titles.a,
        "SERIES",
        f"StudyInstanceUID={study_uid}",
        "SeriesInstanceUID",
        "Modality",
        "NumberOfSeriesRelatedInstances",
    )
    assert len(series) == 1 and series[0]["NumberOfSeriesRelatedInstances"] == "3"
    # Another facility's modality does not see facility A's studies.
    assert find(node, titles.c, "STUDY", f"PatientID={pid}", "StudyInstanceUID") == []


def test_more_senders_at_once_than_the_database_pool_holds_all_succeed(
    app: Flask, node: Node, titles: Titles, tmp_path: Path
) -> None:
    """Each association keeps a database connection of its own (PostgreSQL) while it lasts;
    more of them than the node's connection pool must neither wait for nor starve the pool,
    which the first instance of a new series still needs."""
    senders = 24  # the pool holds 15 (5 + 10 overflow)
    all_open = threading.Barrier(senders, timeout=60)
    study_uid = generate_uid()
    statuses: list[list[int]] = [[] for _ in range(senders)]

    def send(index: int) -> None:
        sender = Sender(node.port, titles.a)
        try:
            # Two series each: the second starts once every association is open.
            for phase in range(2):
                series_uid = generate_uid()
                for number in (1, 2):
                    ds = ct_instance(
                        patient_id="LOCAL-POOL",
                        study_uid=study_uid,
                        series_uid=series_uid,
                        number=number,
                        size=16,
                    )
                    statuses[index].append(sender.status(ds))
                if phase == 0:
                    all_open.wait()
        finally:
            sender.release()

    assert _concurrently(senders, send) == []
    assert statuses == [[0x0000] * 4] * senders
    instances, series, _paths = counts(app, study_uid)
    assert (instances, series) == (senders * 4, senders * 2)


class Sender:
    """A pynetdicom client association for CT instances.

    pynetdicom 3.0.4's requestor sometimes takes its own C-STORE response in its reactor thread
    ("Received unexpected C-STORE service message") and returns no status after its DIMSE
    timeout. That is the client library's defect, not the node's: such an instance is sent
    once more on a new association (the node answers a duplicate with success, one copy kept).
    """

    def __init__(self, port: int, title: str) -> None:
        self.port, self.title = port, title
        self.resent = 0
        self.assoc = self._open()

    def _open(self) -> Any:
        ae = AE(ae_title=self.title)
        ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
        assoc = ae.associate(
            "127.0.0.1", self.port, ae_title="HUB", evt_handlers=[(evt.EVT_CONN_OPEN, set_nodelay)]
        )
        assert assoc.is_established
        return assoc

    def store(self, ds: Dataset) -> Dataset:
        """The C-STORE response (status and error comment)."""
        response = self.assoc.send_c_store(ds)
        if "Status" in response:
            return response
        self.assoc.abort()
        self.resent += 1
        self.assoc = self._open()
        return self.assoc.send_c_store(ds)

    def status(self, ds: Dataset) -> int:
        return int(self.store(ds).Status)

    def release(self) -> None:
        self.assoc.release()


def _concurrently(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(0..count-1)`` on threads at once; the exceptions they raised."""
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:  # returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


def _send_datasets(port: int, title: str, datasets: list[Dataset]) -> list[int]:
    sender = Sender(port, title)
    try:
        return [sender.status(ds) for ds in datasets]
    finally:
        sender.release()


def _stored_copy(app: Flask, sop_uid: str) -> tuple[Path, int]:
    with app.app_context(), db.transaction() as sess:
        path, size = sess.execute(
            select(Instance.path, Instance.size).where(Instance.sop_instance_uid == sop_uid)
        ).one()
    return Path(str(path)), int(size)


def test_a_stored_copy_left_short_by_a_crash_is_restored_when_the_sender_retries(
    app: Flask, node: Node, titles: Titles, tmp_path: Path
) -> None:
    """The index row may commit while the file is still being flushed (success waits for
    both). A machine crash in between leaves a row whose file is short or missing; the sender,
    never answered, retries, and the duplicate's copy takes its place."""
    study_uid, slices = write_study(tmp_path, patient_id="LOCAL-CRASH", count=3, size=64)
    store(node, titles.a, *slices)
    sops = [dcmread(s).SOPInstanceUID for s in slices]
    short, short_size = _stored_copy(app, sops[1])
    missing, _ = _stored_copy(app, sops[2])
    whole = (storage_dir(node) / short).read_bytes()
    (storage_dir(node) / short).write_bytes(whole[: short_size // 3])
    (storage_dir(node) / missing).unlink()

    store(node, titles.a, *slices)

    assert counts(app, study_uid)[0] == 3
    assert (storage_dir(node) / short).read_bytes() == whole
    assert dcmread(storage_dir(node) / missing).SOPInstanceUID == sops[2]
    assert not list(storage_dir(node).rglob("*.restoring.dcm"))
    assert "restored a damaged stored copy" in node.log.read_text()


def test_a_damaged_copy_is_not_replaced_by_a_different_object_with_its_uid(
    app: Flask, node: Node, titles: Titles
) -> None:
    study_uid, series_uid = generate_uid(), generate_uid()
    first = ct_instance(
        patient_id="LOCAL-DIFF", study_uid=study_uid, series_uid=series_uid, number=1, size=32
    )
    assert _send_datasets(node.port, titles.a, [first]) == [0x0000]
    path, size = _stored_copy(app, first.SOPInstanceUID)
    (storage_dir(node) / path).write_bytes(b"")
    other = ct_instance(
        patient_id="LOCAL-DIFF", study_uid=study_uid, series_uid=series_uid, number=1, size=48
    )
    other.SOPInstanceUID = first.SOPInstanceUID
    assert _send_datasets(node.port, titles.a, [other]) == [0xA700]
    assert (storage_dir(node) / path).stat().st_size == 0  # left for an operator to look at
    assert _stored_copy(app, first.SOPInstanceUID) == (path, size)


def test_an_instance_whose_file_cannot_be_flushed_is_refused_and_not_indexed(
    database_url: str,
    titles: Titles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On PostgreSQL the row of an instance of a known series commits while its file is
    flushed; when the flush fails, the row is taken back before the failure status."""
    from imaging import storage as storage_module
    from imaging.dicom import node as node_module
    from tests.support.apps import make_app
    from tests.support.processes import free_port

    port = free_port()
    app = make_app(database_url, tmp_path / "data", HUB_DICOM_PORT=str(port))
    server = node_module.serve(app)
    try:
        study_uid, series_uid = generate_uid(), generate_uid()
        slices = [
            ct_instance(
                patient_id="LOCAL-EIO",
                study_uid=study_uid,
                series_uid=series_uid,
                number=n,
                size=16,
            )
            for n in (1, 2, 3)
        ]
        real_sync = storage_module._sync_data

        def failing_sync(fd: int) -> None:
            raise OSError(5, "Input/output error")

        sender = Sender(port, titles.a)
        try:
            assert sender.status(slices[0]) == 0x0000
            monkeypatch.setattr(storage_module, "_sync_data", failing_sync)
            refused = sender.store(slices[1])
            monkeypatch.setattr(storage_module, "_sync_data", real_sync)
            assert int(refused.Status) == 0xA700
            assert "could not be written" in str(refused.ErrorComment)
            assert sender.status(slices[2]) == 0x0000
        finally:
            sender.release()
        stored = sorted(p.name for p in (tmp_path / "data" / "dicom").rglob("*.dcm"))
        with app.app_context(), db.transaction() as sess:
            rows = sess.execute(
                select(Instance.sop_instance_uid, Instance.path)
                .join(Study)
                .where(Study.study_instance_uid == study_uid)
            ).all()
        indexed = {str(uid): str(path) for uid, path in rows}
        assert set(indexed) == {slices[0].SOPInstanceUID, slices[2].SOPInstanceUID}
        assert stored == sorted(Path(p).name for p in indexed.values())
        # Sent again, it is stored: nothing of the refused attempt is left in the way.
        assert _send_datasets(port, titles.a, [slices[1]]) == [0x0000]
    finally:
        server.shutdown()


def test_several_node_processes_share_the_port_and_the_senders(
    app: Flask, database_url: str, titles: Titles, tmp_path: Path
) -> None:
    senders = 4
    study_uid = generate_uid()
    results: list[list[int]] = [[] for _ in range(senders)]
    with running_node(database_url, tmp_path / "node", HUB_DICOM_PROCESSES="2") as node:
        children = Path(f"/proc/{node.proc.pid}/task/{node.proc.pid}/children")
        # The shared port opens before the second process forks: on a loaded machine the
        # port can answer before the child exists.
        deadline = time.monotonic() + 30
        while not children.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)
        processes = [node.proc.pid, *map(int, children.read_text().split())]
        assert len(processes) == 2
        associations = [Sender(node.port, titles.a) for _ in range(senders)]
        # A process already serving holds back before accepting, so the other takes some.
        assert established_on(node.port, processes) == set(processes)

        def send(index: int) -> None:
            series_uid = generate_uid()
            for n in range(1, 41):
                ds = ct_instance(
                    patient_id="LOCAL-PROCS",
                    study_uid=study_uid,
                    series_uid=series_uid,
                    number=n,
                    size=16,
                )
                results[index].append(associations[index].status(ds))
            associations[index].release()

        errors = _concurrently(senders, send)
    assert errors == []
    assert results == [[0x0000] * 40] * senders
    assert counts(app, study_uid)[:2] == (senders * 40, senders)


def test_each_association_is_logged_with_its_time_and_without_patient_data(
    node: Node, titles: Titles, tmp_path: Path
) -> None:
    _study_uid, slices = write_study(tmp_path, patient_id="LOCAL-LOGGED-1234", count=2, size=16)
    store(node, titles.a, *slices)
    line = re.compile(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO imaging\.node \[\d+\] "
        rf"association from {titles.a} ended \(node process \d+\): 2 stored, 0 duplicate, "
        r"0 refused$",
        re.MULTILINE,
    )
    deadline = time.monotonic() + 10  # written when the connection closes, after storescu ends
    while not line.search(node.log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    log = node.log.read_text()
    assert line.search(log), log[-2000:]
    assert "LOCAL-LOGGED-1234" not in log
    assert str(dcmread(slices[0]).PatientName) not in log
