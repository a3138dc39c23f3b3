"""Studies from an AE title that wants reading are sent for reading when their association ends,
through the outbox, against the real DICOM node and dcmtk's storescu: routed as the facility
would send them, once however often the message is delivered; a facility that may not send
(no licence) has its study recorded as not sent, and nothing else happens."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from hub import db
from hub.models import AuditEvent, OutboxMessage, utcnow
from imaging.models import AUTO_READING_TOPIC, AeKind, CallingAe, Study
from imaging.reading import requests
from imaging.reading.cli import set_site, set_technician
from imaging.reading.models import ReadingRequest
from tests.imaging.conftest import Titles, new_title
from tests.imaging.dicomdata import write_study
from tests.imaging.peers import Node
from tests.imaging.test_node import store
from tests.support import factories as f
from tests.support.personas import World

pytestmark = pytest.mark.slow
REGISTRY_TTL = 5.0  # the node reloads its AE titles this often (imaging.dicom.node)


@dataclass
class Post:
    title: str
    patient_national_id: str


def _post(app: Flask, world: World, *, licensed: bool) -> Post:
    """A fresh facility of region X with a modality whose studies go for urgent reading."""
    title = new_title("AUTO")
    with app.app_context(), db.transaction() as sess:
        facility = f.facility(sess, f.university(sess, world.region_x))
        set_site(sess, facility.id, licensed)
        set_technician(sess, facility.id, "Tech Qualified", True)
        patient = f.patient(sess, facility)
        sess.add(
            CallingAe(
                ae_title=title,
                facility_id=facility.id,
                kind=AeKind.MODALITY,
                reading_urgency="urgent",
            )
        )
        return Post(title, patient.national_id)


def _messages(app: Flask, study_uid: str, timeout: float = 20.0) -> list[dict[str, object]]:
    """The auto-reading messages naming the study, once the node has queued them."""
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context(), db.transaction() as sess:
            study_id = sess.scalar(select(Study.id).where(Study.study_instance_uid == study_uid))
            found = [
                m.payload
                for m in sess.scalars(
                    select(OutboxMessage).where(OutboxMessage.topic == AUTO_READING_TOPIC)
                )
                if study_id in m.payload["study_ids"]
            ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _deliver(app: Flask, payload: dict[str, object]) -> None:
    with app.app_context(), db.transaction() as sess, sess.begin_nested():
        requests.submit_on_arrival(sess, payload)


def _requests(app: Flask, study_uid: str) -> list[ReadingRequest]:
    with app.app_context(), db.transaction() as sess:
        rows = list(
            sess.scalars(
                select(ReadingRequest)
                .join(Study, Study.id == ReadingRequest.study_id)
                .where(Study.study_instance_uid == study_uid)
            )
        )
        sess.expunge_all()
        return rows


def test_a_study_from_a_title_that_wants_reading_is_sent_once(
    app: Flask, node: Node, titles: Titles, world: World, tmp_path: Path
) -> None:
    post = _post(app, world, licensed=True)
    time.sleep(REGISTRY_TTL + 0.5)  # the node learns the new title
    study_uid, files = write_study(
        tmp_path / "s", patient_id=post.patient_national_id, count=2, size=16
    )
    store(node, post.title, *files)
    messages = _messages(app, study_uid)
    assert len(messages) == 1
    assert messages[0]["calling_ae"] == post.title and messages[0]["urgency"] == "urgent"
    _deliver(app, messages[0])
    _deliver(app, messages[0])  # a second delivery finds the open request
    made = _requests(app, study_uid)
    assert len(made) == 1
    request = made[0]
    assert request.sent_by_ae == post.title and request.requested_by_id is None
    assert request.urgency.value == "urgent" and request.status.value == "scheduled"
    assert request.technician == "Tech Qualified"
    assert any(post.title in line for line in request.routing_trace)
    assert request.due_at > utcnow()


def test_a_facility_that_may_not_send_has_the_study_recorded_as_not_sent(
    app: Flask, node: Node, titles: Titles, world: World, tmp_path: Path
) -> None:
    post = _post(app, world, licensed=False)
    time.sleep(REGISTRY_TTL + 0.5)
    study_uid, files = write_study(
        tmp_path / "s", patient_id=post.patient_national_id, count=1, size=16
    )
    store(node, post.title, *files)
    messages = _messages(app, study_uid)
    assert len(messages) == 1
    _deliver(app, messages[0])
    assert _requests(app, study_uid) == []
    with app.app_context(), db.transaction() as sess:
        study_id = sess.scalar(select(Study.id).where(Study.study_instance_uid == study_uid))
        reasons = [
            e.details.get("reason")
            for e in sess.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "imaging:reading:not_sent",
                    AuditEvent.object_id == str(study_id),
                )
            )
        ]
    assert reasons == ["facility_not_licensed"]


def test_a_title_without_reading_queues_nothing(
    app: Flask, node: Node, titles: Titles, world: World, tmp_path: Path
) -> None:
    study_uid, files = write_study(
        tmp_path / "s", patient_id=world.patient_a.national_id, count=1, size=16
    )
    store(node, titles.a, *files)
    assert _messages(app, study_uid, timeout=2.0) == []
