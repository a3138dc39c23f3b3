"""Forwarding to a real Orthanc as the central archive: everything arrives exactly once, also
when the archive is down, stopped mid-transfer, or a worker vanishes mid-batch."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from flask import Flask
from pydicom import dcmread
from sqlalchemy import func, select, update

from hub import db, outbox
from hub.models import AuditEvent, OutboxMessage, utcnow
from imaging import retention, storage
from imaging.archive import deletions as central_deletions
from imaging.archive import forwarding
from imaging.archive.central import CentralArchive
from imaging.archive.errors import ArchiveUnavailable
from imaging.dicom import sender as dicom_sender
from imaging.models import ForwardItem, ForwardState, Instance, Study
from imaging.reading import archive_copy
from tests.imaging.conftest import Titles
from tests.imaging.dicomdata import write_study
from tests.imaging.peers import Node, Orthanc, dcmtk, running_node, running_orthanc
from tests.support.apps import make_app
from tests.support.personas import World
from tests.support.throttle import throttled_relay

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    with running_orthanc(tmp_path_factory.mktemp("orthanc"), allow_find=True) as running:
        yield running


@pytest.fixture(scope="module")
def fwd_node(
    database_url: str, titles: Titles, orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    with running_node(
        database_url, tmp_path_factory.mktemp("fwdnode"), HUB_CENTRAL_PACS=orthanc.peer
    ) as running:
        yield running


@pytest.fixture(scope="module")
def fwd_app(app: Flask, database_url: str, fwd_node: Node, orthanc: Orthanc) -> Flask:
    """An app configured like the node: same database, storage and central archive."""
    made = make_app(database_url, Path(fwd_node.env["HUB_DATA_DIR"]), HUB_CENTRAL_PACS=orthanc.peer)
    # Building an app makes its Celery the default; give it back to the session's app.
    app.extensions["celery"].set_default()
    return made


def _store(node: Node, title: str, paths: list[Path]) -> None:
    result = dcmtk(
        "storescu", "-aet", title, "-aec", "HUB", "127.0.0.1", str(node.port), *map(str, paths)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _rows(app: Flask, study_uid: str) -> dict[str, int]:
    with app.app_context(), db.transaction() as sess:
        study_id = sess.scalar(select(Study.id).where(Study.study_instance_uid == study_uid))
        rows = sess.execute(
            select(ForwardItem.state, func.count(ForwardItem.id), func.sum(ForwardItem.resent))
            .where(ForwardItem.study_id == study_id)
            .group_by(ForwardItem.state)
        ).all()
    out = {state.value: int(n) for state, n, _ in rows}
    out["resent"] = sum(int(r or 0) for _, _, r in rows)
    return out


def _sent_sops(app: Flask, study_uid: str) -> set[str]:
    """SOP Instance UIDs of the study whose forwarding row says sent."""
    with app.app_context(), db.transaction() as sess:
        return set(
            sess.scalars(
                select(Instance.sop_instance_uid)
                .join(ForwardItem, ForwardItem.instance_id == Instance.id)
                .join(Study, Study.id == Instance.study_id)
                .where(
                    Study.study_instance_uid == study_uid,
                    ForwardItem.state == ForwardState.SENT,
                )
            )
        )


def _archived_sops(orthanc: Orthanc, study_uid: str) -> set[str]:
    resp = requests.post(
        f"{orthanc.url}/tools/find",
        json={"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}, "Expand": True},
        timeout=30,
    )
    resp.raise_for_status()
    return {str(i["MainDicomTags"]["SOPInstanceUID"]) for i in resp.json()}


def _due_now(app: Flask) -> None:
    """Skip the backoff wait (the retry itself is what is tested)."""
    with app.app_context(), db.transaction() as sess:
        sess.execute(
            update(ForwardItem)
            .where(ForwardItem.state == ForwardState.PENDING)
            .values(available_at=utcnow())
        )


def _drain(app: Flask) -> int:
    return forwarding.drain(app, app.config["HUB_SETTINGS"].imaging, budget_seconds=120)


def _status(app: Flask, study_uid: str) -> forwarding.StudyForwarding:
    with app.app_context(), db.transaction() as sess:
        study_id = sess.scalar(select(Study.id).where(Study.study_instance_uid == study_uid))
        assert study_id is not None
        return forwarding.study_status(sess, study_id, True)


def test_received_instances_reach_orthanc_once(
    fwd_app: Flask, fwd_node: Node, orthanc: Orthanc, titles: Titles, world: World, tmp_path: Path
) -> None:
    study_uid, paths = write_study(
        tmp_path, patient_id=world.patient_a.national_id, count=12, size=128
    )
    _store(fwd_node, titles.a, paths)
    assert _status(fwd_app, study_uid).status == "received"
    assert _drain(fwd_app) >= 12
    assert len(orthanc.instances_of(study_uid)) == 12
    assert _rows(fwd_app, study_uid) == {"sent": 12, "resent": 0}
    status = _status(fwd_app, study_uid)
    assert (status.status, status.sent, status.pending) == ("forwarded", 12, 0)
    assert _drain(fwd_app) == 0  # nothing left; nothing sent twice
    # What the archive holds is what the modality sent: same syntax, same pixel bytes.
    sent = dcmread(paths[0])
    [orthanc_id] = [
        i
        for i in orthanc.instances_of(study_uid)
        if requests.get(f"{orthanc.url}/instances/{i}/simplified-tags", timeout=30).json()[
            "SOPInstanceUID"
        ]
        == sent.SOPInstanceUID
    ]
    held = dcmread(
        io.BytesIO(requests.get(f"{orthanc.url}/instances/{orthanc_id}/file", timeout=30).content)
    )
    assert held.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID
    assert held.PixelData == sent.PixelData


def test_archive_down_loses_nothing_and_drains_after(
    fwd_app: Flask, fwd_node: Node, orthanc: Orthanc, titles: Titles, world: World, tmp_path: Path
) -> None:
    orthanc.stop()
    try:
        study_uid, paths = write_study(
            tmp_path, patient_id=world.patient_a.national_id, count=8, size=64
        )
        _store(fwd_node, titles.a, paths)  # the hub keeps receiving while the archive is down
        assert _drain(fwd_app) == 0
        status = _status(fwd_app, study_uid)
        assert status.status == "forwarding" and status.pending == 8
        assert status.reason == "archive unreachable"
    finally:
        orthanc.start()
    _due_now(fwd_app)
    assert _drain(fwd_app) >= 8
    assert len(orthanc.instances_of(study_uid)) == 8
    assert _status(fwd_app, study_uid).status == "forwarded"


def test_archive_stopped_mid_transfer_then_restarted_gets_each_instance_once(
    fwd_app: Flask, fwd_node: Node, orthanc: Orthanc, titles: Titles, world: World, tmp_path: Path
) -> None:
    count = 150
    study_uid, paths = write_study(
        tmp_path, patient_id=world.patient_a.national_id, count=count, size=256
    )
    _store(fwd_node, titles.a, paths)
    sender = threading.Thread(target=_drain, args=(fwd_app,))
    sender.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(orthanc.instances_of(study_uid)) < 10:
        time.sleep(0.05)
    arrived_before_stop = len(orthanc.instances_of(study_uid))
    orthanc.kill()
    sender.join(180)
    assert not sender.is_alive()
    rows = _rows(fwd_app, study_uid)
    sent_before_restart = _sent_sops(fwd_app, study_uid)
    assert 10 <= arrived_before_stop < count, arrived_before_stop
    assert rows.get("pending", 0) > 0, rows  # the stop really interrupted the transfer
    orthanc.start()
    # As the periodic job would: retry until the archive takes everything (a first attempt can
    # still meet a refused connection while the restarted archive opens its DICOM port).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _rows(fwd_app, study_uid).get("sent", 0) < count:
        _due_now(fwd_app)
        _drain(fwd_app)
    missing = _sent_sops(fwd_app, study_uid) - _archived_sops(orthanc, study_uid)
    # Which side lost them, should this fail again: marked sent before the archive was
    # killed (acknowledged by the archive that died) or by the retries after its restart.
    assert not missing, (
        f"{len(missing)} marked sent but not in the archive: "
        f"{len(missing & sent_before_restart)} of {len(sent_before_restart)} marked before the "
        f"kill ({arrived_before_stop} in the archive then), "
        f"{len(missing - sent_before_restart)} marked after the restart"
    )
    assert len(orthanc.instances_of(study_uid)) == count
    assert _rows(fwd_app, study_uid)["sent"] == count
    assert _status(fwd_app, study_uid).status == "forwarded"


def test_connection_lost_mid_send_hands_the_rest_back_for_a_retry_at_once(
    fwd_app: Flask,
    fwd_node: Node,
    orthanc: Orthanc,
    titles: Titles,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The archive's connection breaks while the third instance is being written to it (as when
    the archive is killed): the two it acknowledged are sent, the other four are released to be
    retried after the backoff, not left leased until their lease runs out."""
    study_uid, paths = write_study(
        tmp_path, patient_id=world.patient_a.national_id, count=6, size=64
    )
    _store(fwd_node, titles.a, paths)
    real_store = dicom_sender.store_file
    calls = []

    def store_then_break(*args: Any) -> Any:
        calls.append(args)
        if len(calls) == 3:
            raise ConnectionResetError(104, "Connection reset by peer")
        return real_store(*args)

    monkeypatch.setattr(dicom_sender, "store_file", store_then_break)
    assert _drain(fwd_app) == 2
    monkeypatch.setattr(dicom_sender, "store_file", real_store)
    with fwd_app.app_context(), db.transaction() as sess:
        pending = sess.execute(
            select(ForwardItem.leased_until, ForwardItem.last_error)
            .join(Study, Study.id == ForwardItem.study_id)
            .where(
                Study.study_instance_uid == study_uid,
                ForwardItem.state == ForwardState.PENDING,
            )
        ).all()
    assert [tuple(row) for row in pending] == [(None, "connection lost")] * 4
    assert len(orthanc.instances_of(study_uid)) == 2
    _due_now(fwd_app)
    assert _drain(fwd_app) == 4
    assert len(orthanc.instances_of(study_uid)) == 6
    assert _rows(fwd_app, study_uid) == {"sent": 6, "resent": 0}


@pytest.mark.parametrize("state", ["closed by pynetdicom", "socket closed"])
def test_sending_on_a_connection_that_is_gone_is_a_lost_connection(
    tmp_path: Path, state: str
) -> None:
    """Once the archive is gone, pynetdicom's thread may already have closed the socket (or
    dropped it): the send then fails with EBADF, which must read as a lost connection (handed
    back for a retry), not as an unknown error that leaves the batch leased."""
    _uid, (path,) = write_study(tmp_path, patient_id="X", count=1, size=8)
    ds = dcmread(path)
    closed = socket.socket()
    closed.close()
    transport = None if state == "closed by pynetdicom" else SimpleNamespace(socket=closed)
    assoc: Any = SimpleNamespace(
        acceptor=SimpleNamespace(maximum_length=16384), dul=SimpleNamespace(socket=transport)
    )
    with pytest.raises(ConnectionError):
        dicom_sender.store_file(assoc, path, 1, str(ds.SOPClassUID), str(ds.SOPInstanceUID), 1)


def test_worker_lost_mid_batch_resends_harmlessly_and_counts_it(
    fwd_app: Flask, fwd_node: Node, orthanc: Orthanc, titles: Titles, world: World, tmp_path: Path
) -> None:
    study_uid, paths = write_study(
        tmp_path, patient_id=world.patient_a.national_id, count=6, size=64
    )
    _store(fwd_node, titles.a, paths)
    factory = db.get_db(fwd_app).session_factory
    assert factory is not None
    # A worker leases the rows, sends them, and dies before recording the outcome.
    token, items = forwarding._claim(factory, 100)
    assert len(items) == 6
    recorder = forwarding._Recorder(factory, token)
    recorder.flush = lambda: None  # type: ignore[method-assign]  # it dies first
    settings = fwd_app.config["HUB_SETTINGS"].imaging
    assert settings.central_pacs is not None
    # pynetdicom 3.0.4 now and then loses a sending association ("unexpected C-STORE service
    # message"); whatever this worker got through before dying, the rest follows below.
    with contextlib.suppress(ArchiveUnavailable):
        forwarding.send_batch(CentralArchive.from_settings(settings), settings, items, recorder)
    assert len(orthanc.instances_of(study_uid)) <= 6
    # Its leases run out; the next worker sends them again.
    with fwd_app.app_context(), db.transaction() as sess:
        sess.execute(
            update(ForwardItem)
            .where(ForwardItem.lease_token == token)
            .values(leased_until=utcnow())
        )
    assert _drain(fwd_app) >= 6
    assert _rows(fwd_app, study_uid) == {"sent": 6, "resent": 6}
    # Orthanc ignored the duplicates: still one copy of each.
    assert len(orthanc.instances_of(study_uid)) == 6
    assert orthanc.statistics()["CountInstances"] >= 6
    assert _status(fwd_app, study_uid).resent == 6


def test_two_megabit_link_sends_each_instance_once_though_the_batch_outlasts_its_lease(
    app: Flask,
    database_url: str,
    fwd_node: Node,
    orthanc: Orthanc,
    titles: Titles,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SEEDS 002: a facility's segment on a 2 Mbit/s link. Two workers drain side by side; the
    first one's batch takes longer than a lease, which it renews, so the second never sends the
    same instances again."""
    count = 24
    study_uid, paths = write_study(
        tmp_path, patient_id=world.patient_a.national_id, count=count, size=160
    )
    _store(fwd_node, titles.a, paths)
    payload = sum(p.stat().st_size for p in paths)
    link_seconds = payload * 8 / 2_000_000  # ~5 s for these ~1.2 MB
    # The lease lasts a third of the transfer: without renewal the second worker takes over.
    monkeypatch.setattr(forwarding, "LEASE", timedelta(seconds=link_seconds / 3))
    monkeypatch.setattr(forwarding, "RENEW_EVERY", timedelta(seconds=link_seconds / 12))
    with throttled_relay(orthanc.dicom_port, 2_000_000) as relay:
        peer = f"dicom://{orthanc.aet}@127.0.0.1:{relay.port}"
        slow = make_app(database_url, Path(fwd_node.env["HUB_DATA_DIR"]), HUB_CENTRAL_PACS=peer)
        app.extensions["celery"].set_default()
        started = time.monotonic()
        first = threading.Thread(target=_drain, args=(slow,))
        first.start()
        time.sleep(link_seconds / 2)  # past the first lease's end, mid-transfer
        _drain(slow)
        first.join(120)
        took = time.monotonic() - started
    assert not first.is_alive()
    assert len(orthanc.instances_of(study_uid)) == count
    assert _rows(slow, study_uid) == {"sent": count, "resent": 0}
    # The link really was that slow: every byte went through the relay at 2 Mbit/s (the files
    # hold a few hundred bytes of Part 10 header that are not sent).
    assert relay.forwarded["up"] >= 0.99 * payload
    assert took >= payload * 8 / 2_000_000 * 0.9


def test_on_a_slow_link_an_urgent_study_does_not_wait_for_a_routine_batch(
    app: Flask,
    database_url: str,
    fwd_node: Node,
    orthanc: Orthanc,
    titles: Titles,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routine_uid, routine = write_study(
        tmp_path / "routine", patient_id=world.patient_a.national_id, count=24, size=160
    )
    urgent_uid, urgent = write_study(
        tmp_path / "urgent", patient_id=world.patient_a.national_id, count=3, size=160
    )
    for path in urgent:
        ds = dcmread(path)
        ds.StudyPriorityID = "HIGH"
        ds.save_as(path)
    _store(fwd_node, titles.a, routine)
    # The routine batch crawls for ~5 s; it hands its rows back every second.
    monkeypatch.setattr(forwarding, "BATCH_SECONDS", 1.0)
    with throttled_relay(orthanc.dicom_port, 2_000_000) as relay:
        peer = f"dicom://{orthanc.aet}@127.0.0.1:{relay.port}"
        slow = make_app(database_url, Path(fwd_node.env["HUB_DATA_DIR"]), HUB_CENTRAL_PACS=peer)
        app.extensions["celery"].set_default()
        worker = threading.Thread(target=_drain, args=(slow,))
        worker.start()
        time.sleep(1.0)
        _store(fwd_node, titles.a, urgent)  # arrives while the routine study is under way
        worker.join(120)
    assert not worker.is_alive()
    assert _rows(slow, routine_uid) == {"sent": 24, "resent": 0}
    assert _rows(slow, urgent_uid) == {"sent": 3, "resent": 0}
    with slow.app_context(), db.transaction() as sess:

        def last_sent(uid: str) -> datetime:
            found = sess.scalar(
                select(func.max(ForwardItem.sent_at))
                .join(Study, Study.id == ForwardItem.study_id)
                .where(Study.study_instance_uid == uid)
            )
            assert found is not None
            return found

        assert last_sent(urgent_uid) < last_sent(routine_uid)
    assert len(orthanc.instances_of(urgent_uid)) == 3


def test_priors_come_from_the_central_archive(
    fwd_app: Flask, orthanc: Orthanc, world: World, tmp_path: Path
) -> None:
    national_id = world.patient_a.national_id
    # A study the archive got from elsewhere, never seen by the hub.
    elsewhere, paths = write_study(
        tmp_path, patient_id=national_id, count=2, size=32, study_date=date(2019, 1, 2)
    )
    sent = dcmtk(
        "storescu",
        "-aet",
        "ELSEWHERE",
        "-aec",
        orthanc.aet,
        "127.0.0.1",
        str(orthanc.dicom_port),
        *map(str, paths),
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    client = fwd_app.test_client()
    url = f"/api/v1/studies/priors?patient_national_id={national_id}"
    resp = client.get(url, headers=world["hw_a"].headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["configured"] is True
    by_uid = {p["study_instance_uid"]: p for p in body["items"]}
    assert by_uid[elsewhere]["held_by_hub"] is False
    assert by_uid[elsewhere]["study_date"] == "2019-01-02"
    assert by_uid[elsewhere]["modalities"] == ["CT"]
    # The studies this module forwarded earlier are there too, and the hub holds them.
    assert any(p["held_by_hub"] for p in body["items"])
    hidden = client.get(url, headers=world["hw_b"].headers)
    assert hidden.status_code == 200 and hidden.get_json()["items"] == []
    orthanc.stop()
    try:
        down = client.get(url, headers=world["hw_a"].headers)
        assert down.status_code == 503
        assert down.get_json()["error"]["code"] == "archive_unavailable"
    finally:
        orthanc.start()


def test_a_prior_is_fetched_into_the_hub_and_linked_to_its_patient(
    fwd_app: Flask, orthanc: Orthanc, world: World, tmp_path: Path
) -> None:
    national_id = world.patient_a.national_id
    prior, paths = write_study(
        tmp_path, patient_id=national_id, count=3, size=32, study_date=date(2018, 3, 4)
    )
    stranger, other = write_study(tmp_path / "other", patient_id="SOMEONE-ELSE", count=1, size=32)
    sent = dcmtk(
        "storescu",
        "-aet",
        "ELSEWHERE",
        "-aec",
        orthanc.aet,
        "127.0.0.1",
        str(orthanc.dicom_port),
        *map(str, paths + other),
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    client = fwd_app.test_client()
    body = {"study_instance_uid": prior, "patient_national_id": national_id}
    url = "/api/v1/studies/priors/retrieve"
    # Someone who may not see the patient learns nothing, and nothing is fetched.
    assert client.post(url, json=body, headers=world["hw_b"].headers).status_code == 404
    assert (
        client.get(f"/api/v1/studies/{prior}", headers=world["national"].headers).status_code == 404
    )

    fetched = client.post(url, json=body, headers=world["hw_a"].headers)
    assert fetched.status_code == 200, fetched.get_json()
    assert fetched.get_json() == {
        "study_instance_uid": prior,
        "instances": 3,
        "failed": 0,
        "already_held": False,
    }
    study = client.get(f"/api/v1/studies/{prior}", headers=world["hw_a"].headers).get_json()
    assert study["instances"] == 3 and study["patient_id"] == world.patient_a.id
    # Fetched, not forwarded back where it came from.
    assert _rows(fwd_app, prior) == {"resent": 0}
    again = client.post(url, json=body, headers=world["hw_a"].headers).get_json()
    assert again["already_held"] is True and again["instances"] == 0
    # Another patient's study is not fetched under this patient's name.
    wrong = {"study_instance_uid": stranger, "patient_national_id": national_id}
    assert client.post(url, json=wrong, headers=world["hw_a"].headers).status_code == 404
    assert (
        client.get(f"/api/v1/studies/{stranger}", headers=world["national"].headers).status_code
        == 404
    )
    bad = client.post(
        url, json={**body, "study_instance_uid": "x.y"}, headers=world["hw_a"].headers
    )
    assert bad.status_code == 422


def test_retention_deletes_the_central_archive_copy_when_configured(
    app: Flask,
    database_url: str,
    fwd_node: Node,
    orthanc: Orthanc,
    titles: Titles,
    world: World,
    tmp_path: Path,
) -> None:
    # So old that no other test's study expires on the day retention runs here.
    study_uid, paths = write_study(
        tmp_path,
        patient_id=world.patient_a.national_id,
        count=4,
        size=32,
        study_date=date(1990, 1, 2),
    )
    _store(fwd_node, titles.a, paths)
    data_dir = Path(fwd_node.env["HUB_DATA_DIR"])
    deleting = make_app(
        database_url,
        data_dir,
        HUB_CENTRAL_PACS=orthanc.peer,
        HUB_CENTRAL_ARCHIVE_REST=orthanc.url,
    )
    app.extensions["celery"].set_default()
    assert _drain(deleting) >= 4
    assert len(orthanc.instances_of(study_uid)) == 4
    factory = db.get_db(deleting).session_factory
    assert factory is not None
    settings = deleting.config["HUB_SETTINGS"].imaging
    store = storage.from_settings(settings)
    the_day = date(1995, 6, 1)  # five years after the study date, before every other study's

    sops = {str(dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in paths}

    def deletions() -> list[tuple[bool, str | None]]:
        """(dispatched, last error) of the central deletions queued for this study."""
        with deleting.app_context(), db.transaction() as sess:
            outbox.drain(sess)
        with deleting.app_context(), db.transaction() as sess:
            rows = sess.scalars(
                select(OutboxMessage).where(OutboxMessage.topic == central_deletions.TOPIC)
            )
            return [
                (m.dispatched_at is not None, m.last_error)
                for m in rows
                if set(m.payload["sop_instance_uids"]) & sops
            ]

    with deleting.app_context():
        listed = retention.run(factory, store, settings, today=the_day, dry_run=True, sweep=False)
    assert [e.study_instance_uid for e in listed.expired] == [study_uid]
    assert deletions() == []  # a dry run deletes nothing anywhere
    assert len(orthanc.instances_of(study_uid)) == 4
    orthanc.stop()
    try:
        with deleting.app_context():
            retention.run(factory, store, settings, today=the_day, sweep=False)
        # The archive is down: the deletion waits in the outbox, to be retried.
        [(dispatched, error)] = deletions()
        assert not dispatched and error is not None and "unreachable" in error
    finally:
        orthanc.start()
    with deleting.app_context(), db.transaction() as sess:
        sess.execute(
            update(OutboxMessage)
            .where(OutboxMessage.topic == central_deletions.TOPIC)
            .values(available_at=utcnow())
        )
    assert deletions() == [(True, None)]
    assert orthanc.instances_of(study_uid) == []
    with deleting.app_context(), db.transaction() as sess:
        events = sess.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == "imaging:archive:instances_deleted"
            )
        ).all()
    assert {"asked": 4, "deleted": 4} in [{k: d[k] for k in ("asked", "deleted")} for d in events]


def test_a_signed_report_copy_reaches_the_archive_with_its_study(
    fwd_app: Flask, fwd_node: Node, orthanc: Orthanc, titles: Titles, world: World, tmp_path: Path
) -> None:
    """The Encapsulated PDF the hub keeps of each signed report (imaging.reading.archive_copy)
    is an instance the hub's node and the central archive both accept, beside the images."""
    study_uid, paths = write_study(
        tmp_path, patient_id=world.patient_a.national_id, count=2, size=32
    )
    _store(fwd_node, titles.a, paths)
    pdf = b"%PDF-1.7\n% a stand-in for the signed report\n%%EOF\n"
    with fwd_app.app_context(), db.transaction() as sess:
        study = sess.scalar(select(Study).where(Study.study_instance_uid == study_uid))
        assert study is not None
        raw = archive_copy.encapsulated_pdf(
            study,
            SimpleNamespace(version=1),
            pdf,
            "doc-forwarding-test",
            utcnow(),  # type: ignore[arg-type]
        )
    copy = tmp_path / "report.dcm"
    copy.write_bytes(raw)
    _store(fwd_node, titles.a, [copy])
    assert _drain(fwd_app) >= 3
    assert len(orthanc.instances_of(study_uid)) == 3
    held = [
        requests.get(f"{orthanc.url}/instances/{i}/simplified-tags", timeout=30).json()
        for i in orthanc.instances_of(study_uid)
    ]
    [doc] = [h for h in held if h.get("SOPClassUID") == archive_copy.ENCAPSULATED_PDF]
    assert doc["PatientID"] == world.patient_a.national_id and doc["Modality"] == "DOC"
