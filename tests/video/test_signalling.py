"""Signalling of video sessions: only participants join (refusals audited), the waiting room and
admission, relays stay inside the session, the timeline records joins and leaves; and the same
across two web processes sharing a Redis message queue."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import socketio
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from hub import db
from hub.models import AuditEvent, Role, User
from hub.realtime import socketio as hub_socketio
from tests.conftest import REDIS_URL
from tests.support import factories as f
from tests.support.apps import TEST_SECRET
from tests.support.databases import temporary_database
from tests.support.personas import World
from tests.support.processes import HubProcess, web_processes
from tests.video.support import open_session, persona_user, video_consult, world_video_consult
from video import services
from video.models import VideoEvent, VideoSession
from video.signalling import NAMESPACE

EVENT_TIMEOUT = 10.0


def _client(app: Flask, world: World, name: str) -> Any:
    return hub_socketio.test_client(app, namespace=NAMESPACE, auth={"token": world[name].token})


def _events(client: Any, name: str) -> list[Any]:
    return [e["args"][0] for e in client.get_received(NAMESPACE) if e["name"] == name]


def _full_name(app: Flask, world: World, name: str) -> str:
    with app.app_context(), db.transaction() as sess:
        user = sess.get_one(User, persona_user(app, world, name))
        return user.full_name


def _denied(app: Flask, action: str) -> int:
    with app.app_context(), db.transaction() as sess:
        return int(
            sess.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.action == action, AuditEvent.outcome == "denied"
                )
            )
            or 0
        )


def test_join_wait_admit_relay_and_leave(app: Flask, world: World) -> None:
    consult = world_video_consult(app, world)
    video = open_session(app, world, consult)
    sid = video["id"]
    doc, chw = _client(app, world, "specialist"), _client(app, world, "hw_a")
    gp, insurer = _client(app, world, "gp_a"), _client(app, world, "insurer_a")
    assert not insurer.is_connected(NAMESPACE)  # machine clients never get a socket
    anonymous = hub_socketio.test_client(app, namespace=NAMESPACE)
    assert not anonymous.is_connected(NAMESPACE)

    joined = doc.emit("join", {"session_id": sid}, namespace=NAMESPACE, callback=True)
    assert joined["ok"] and joined["status"] == "joined" and joined["peers"] == []
    assert joined["ice"]["iceTransportPolicy"] == "all" and joined["max_bitrate"] > 0

    # The facility's GP sees the consult but is not in the session: refused, audited.
    before = _denied(app, "video:session:joined")
    refused = gp.emit("join", {"session_id": sid}, namespace=NAMESPACE, callback=True)
    assert refused == {"ok": False, "error": {"code": "not_found", "message": "Not found."}}
    assert _denied(app, "video:session:joined") == before + 1
    for bad in ({"session_id": "1"}, {"session_id": -1}, {"session_id": True}, [], None, "x"):
        answer = gp.emit("join", bad, namespace=NAMESPACE, callback=True)
        assert answer["ok"] is False and answer["error"]["code"] == "bad_request", bad
    assert gp.emit("join", {"session_id": 10**9}, namespace=NAMESPACE, callback=True)["ok"] is False

    waiting = chw.emit("join", {"session_id": sid}, namespace=NAMESPACE, callback=True)
    assert waiting["status"] == "waiting"
    me = waiting["participant_id"]
    # Staff are named to the others (the page labels their tile and waiting-room line).
    assert _events(doc, "waiting") == [
        {"participant_id": me, "role": "requester", "name": _full_name(app, world, "hw_a")}
    ]
    # Waiting is not joined: no relaying yet, and a non-host cannot admit.
    assert (
        chw.emit(
            "signal",
            {"to": joined["participant_id"], "candidate": None},
            namespace=NAMESPACE,
            callback=True,
        )["ok"]
        is False
    )
    assert (
        chw.emit("admit", {"participant_id": me}, namespace=NAMESPACE, callback=True)["ok"] is False
    )

    assert doc.emit("admit", {"participant_id": me}, namespace=NAMESPACE, callback=True)["ok"]
    assert _events(chw, "admitted") == [{"participant_id": me}]
    entered = chw.emit("join", {"session_id": sid}, namespace=NAMESPACE, callback=True)
    assert entered["status"] == "joined" and entered["rejoined"] is False
    assert [p["role"] for p in entered["peers"]] == ["specialist"]
    assert _events(doc, "peer-joined")[0]["participant_id"] == me

    offer = {"type": "offer", "sdp": "v=0\r\n"}
    ack = chw.emit(
        "signal",
        {"to": joined["participant_id"], "pc": "abc", "description": offer},
        namespace=NAMESPACE,
        callback=True,
    )
    assert ack == {"ok": True}
    relayed = _events(doc, "signal")
    assert relayed == [{"from": me, "pc": "abc", "description": offer}]
    # What a page says of its own media: camera off and muted label the others' tile of it.
    prefs = {"camera_off": True, "muted": False}
    ack = chw.emit(
        "signal",
        {"to": joined["participant_id"], "prefs": prefs},
        namespace=NAMESPACE,
        callback=True,
    )
    assert ack == {"ok": True}
    assert _events(doc, "signal") == [{"from": me, "pc": None, "prefs": prefs}]
    for bad in (
        {"to": joined["participant_id"]},
        {"to": joined["participant_id"], "description": {"type": "rollback", "sdp": ""}},
        {"to": joined["participant_id"], "description": {"type": "offer", "sdp": "x" * 300_000}},
        {"to": joined["participant_id"], "prefs": {"audio_only": "yes"}},
        {"to": joined["participant_id"], "prefs": {}},
        {"to": joined["participant_id"], "prefs": {"camera_off": True, "volume": 3}},
        {"to": "everyone", "candidate": None},
        {"to": 10**9, "candidate": None},  # not a participant of this session
    ):
        assert chw.emit("signal", bad, namespace=NAMESPACE, callback=True)["ok"] is False, bad
    assert _events(doc, "signal") == []

    quality = {"bitrate_kbps": 700, "packet_loss": 0.5, "rtt_ms": 12, "peer": 1, "evil": "x"}
    assert chw.emit("quality", quality, namespace=NAMESPACE, callback=True)["ok"]

    chw.disconnect(namespace=NAMESPACE)
    left = _events(doc, "peer-left")
    assert left == [{"participant_id": me, "reason": "disconnected"}]
    # Back again: admitted already, so straight in, and known as a rejoin.
    again = _client(app, world, "hw_a")
    back = again.emit("join", {"session_id": sid}, namespace=NAMESPACE, callback=True)
    assert back["status"] == "joined" and back["rejoined"] is True
    time.sleep(1.1)
    doc.emit("leave", namespace=NAMESPACE, callback=True)
    for client in (doc, again, gp):
        client.disconnect(namespace=NAMESPACE)

    with app.app_context(), db.transaction() as sess:
        row = sess.get_one(VideoSession, sid)
        events = sess.scalars(
            select(VideoEvent).where(VideoEvent.session_id == sid).order_by(VideoEvent.id)
        ).all()
        kinds = [e.kind for e in events]
        for kind in ("waiting", "admitted", "joined", "quality", "disconnected", "left"):
            assert kind in kinds, kinds
        sample = next(e.details for e in events if e.kind == "quality")
        assert sample == {"bitrate_kbps": 700.0, "packet_loss": 0.5, "rtt_ms": 12.0, "peer": 1.0}
        assert services.connected(sess, row) == set()
        assert services.billable_seconds(sess, consult) >= 1
    with app.test_client() as http:
        out = http.get(f"/api/v1/video-sessions/{sid}", headers=world["hw_a"].headers).get_json()
    people = {p["role"]: p for p in out["participants"]}
    assert people["specialist"]["connected_seconds"] >= 1 and not people["specialist"]["connected"]
    assert out["billable_seconds"] >= 1
    assert {"joined", "quality"} <= {e["kind"] for e in out["timeline"]}


def test_someone_who_stops_waiting_leaves_the_waiting_room(app: Flask, world: World) -> None:
    video = open_session(app, world, world_video_consult(app, world))
    doc, chw = _client(app, world, "specialist"), _client(app, world, "hw_a")
    assert doc.emit("join", {"session_id": video["id"]}, namespace=NAMESPACE, callback=True)["ok"]
    waiting = chw.emit("join", {"session_id": video["id"]}, namespace=NAMESPACE, callback=True)
    assert waiting["status"] == "waiting"
    assert [e["participant_id"] for e in _events(doc, "waiting")] == [waiting["participant_id"]]
    chw.disconnect(namespace=NAMESPACE)
    # The host's page drops them from its waiting room; nobody had entered, so no peer-left.
    assert _events(doc, "waiting-left") == [{"participant_id": waiting["participant_id"]}]
    assert _events(doc, "peer-left") == []
    doc.disconnect(namespace=NAMESPACE)


def test_ending_tells_the_participants_and_closes_the_session(app: Flask, world: World) -> None:
    consult = world_video_consult(app, world)
    sid = open_session(app, world, consult)["id"]
    doc = _client(app, world, "specialist")
    assert doc.emit("join", {"session_id": sid}, namespace=NAMESPACE, callback=True)["ok"]
    with app.test_client() as http:
        ended = http.post(f"/api/v1/video-sessions/{sid}/end", headers=world["hw_a"].headers)
    assert ended.status_code == 200
    assert _events(doc, "ended") == [{"session_id": sid}]
    late = _client(app, world, "hw_a")
    answer = late.emit("join", {"session_id": sid}, namespace=NAMESPACE, callback=True)
    assert answer["ok"] is False and answer["error"]["code"] == "session_ended"
    for client in (doc, late):
        client.disconnect(namespace=NAMESPACE)


# --- two web processes sharing one database and one Redis channel ----------------------------


@dataclass
class TwoWebs:
    web1: HubProcess
    web2: HubProcess
    session_id: int
    requester: str  # tokens
    specialist: str


def _seed(url: str) -> dict[str, Any]:
    from hub.auth.principal import user_principal
    from video.models import SessionKind

    engine = db.make_engine(url)
    try:
        with sessionmaker(engine, expire_on_commit=False)() as sess:
            uni = f.university(sess, f.region(sess))
            post, hospital = f.facility(sess, uni), f.facility(sess, uni)
            gp = f.user(sess, Role.GP, at=post)
            doc = f.user(sess, Role.SPECIALIST, at=hospital, specialty="pulmonology")
            consult = video_consult(sess, post, gp, doc)
            video = services.create(
                sess,
                user_principal(gp, "session"),
                consult.id,
                kind=SessionKind.INSTANT,
                scheduled_at=None,
                record=False,
            )
            seeded = {
                "session_id": video.id,
                "requester": f.personal_token(sess, gp),
                "specialist": f.personal_token(sess, doc),
            }
            sess.commit()
            return seeded
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def webs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoWebs]:
    tmp = tmp_path_factory.mktemp("video-webs")
    channel = f"hub-test-video-{uuid.uuid4().hex}"
    with (
        temporary_database("postgresql", tmp) as url,
        web_processes(url, tmp, redis_url=REDIS_URL, channel=channel, secret=TEST_SECRET) as procs,
    ):
        seeded = _seed(url)
        yield TwoWebs(web1=procs[0], web2=procs[1], **seeded)


class Peer:
    """A Socket.IO client of the /video namespace that keeps every event it hears."""

    def __init__(self, url: str, token: str) -> None:
        self.heard: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        for name in ("waiting", "admitted", "peer-joined", "peer-left", "signal"):
            self.client.on(name, self._keep(name), namespace=NAMESPACE)
        self.client.connect(url, namespaces=[NAMESPACE], auth={"token": token}, wait_timeout=30)

    def _keep(self, name: str) -> Any:
        return lambda data: self.heard.put((name, data))

    def call(self, event: str, data: Any) -> Any:
        return self.client.call(event, data, namespace=NAMESPACE, timeout=EVENT_TIMEOUT)

    def expect(self, name: str) -> Any:
        deadline = time.monotonic() + EVENT_TIMEOUT
        while time.monotonic() < deadline:
            try:
                heard, data = self.heard.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if heard == name:
                return data
        raise AssertionError(f"no {name} within {EVENT_TIMEOUT:.0f}s")


@pytest.mark.slow
def test_signalling_across_two_web_processes(webs: TwoWebs) -> None:
    doc = Peer(webs.web1.base_url, webs.specialist)
    chw = Peer(webs.web2.base_url, webs.requester)
    try:
        host = doc.call("join", {"session_id": webs.session_id})
        assert host["status"] == "joined"
        waiting = chw.call("join", {"session_id": webs.session_id})
        assert waiting["status"] == "waiting"
        me = waiting["participant_id"]
        assert doc.expect("waiting")["participant_id"] == me  # web2 -> Redis -> web1
        assert doc.call("admit", {"participant_id": me})["ok"]
        assert chw.expect("admitted") == {"participant_id": me}  # web1 -> web2
        entered = chw.call("join", {"session_id": webs.session_id})
        assert [p["participant_id"] for p in entered["peers"]] == [host["participant_id"]]
        assert doc.expect("peer-joined")["participant_id"] == me
        offer = {"type": "offer", "sdp": "v=0\r\n"}
        sent = chw.call("signal", {"to": host["participant_id"], "pc": "p1", "description": offer})
        assert sent == {"ok": True}
        assert doc.expect("signal") == {"from": me, "pc": "p1", "description": offer}
        answer = {"type": "answer", "sdp": "v=0\r\n"}
        doc.call("signal", {"to": me, "pc": "p1", "description": answer})
        assert chw.expect("signal")["description"] == answer
        chw.client.disconnect()
        assert doc.expect("peer-left") == {"participant_id": me, "reason": "disconnected"}
    finally:
        for peer in (doc, chw):
            if peer.client.connected:
                peer.client.disconnect()


def test_malformed_socket_events_are_answered_not_raised(app: Flask, world: World) -> None:
    """No payload, an id beyond any column, a lone surrogate: each event still gets an error
    acknowledgement (a client waiting for one is never left hanging)."""
    consult = world_video_consult(app, world)
    video = open_session(app, world, consult)
    doc = _client(app, world, "specialist")
    for event in ("join", "admit", "signal", "quality", "consent", "leave"):
        bare = doc.emit(event, namespace=NAMESPACE, callback=True)
        assert isinstance(bare, dict) and "ok" in bare, (event, bare)
        for payload in (
            {"session_id": 2**70, "participant_id": 2**70, "to": 2**70},
            {"session_id": video["id"], "text": "\ud800"},
        ):
            answer = doc.emit(event, payload, namespace=NAMESPACE, callback=True)
            assert answer["ok"] is False and answer["error"]["code"] == "bad_request", event
    # The socket still works afterwards.
    joined = doc.emit("join", {"session_id": video["id"]}, namespace=NAMESPACE, callback=True)
    assert joined["ok"] and joined["status"] == "joined"


def test_a_revoked_guest_link_is_dead_and_its_patient_taken_out(app: Flask, world: World) -> None:
    consult = world_video_consult(app, world)
    video = open_session(app, world, consult)
    s = f"/api/v1/video-sessions/{video['id']}"
    with app.test_client() as client:
        invited = client.post(
            f"{s}/participants", json={"role": "patient"}, headers=world["hw_a"].headers
        ).get_json()
    token = invited["guest_url"].rsplit("/", 1)[1]
    patient_id = invited["participant"]["id"]
    doc = _client(app, world, "specialist")
    assert doc.emit("join", {"session_id": video["id"]}, namespace=NAMESPACE, callback=True)["ok"]
    doc.emit("admit", {"participant_id": patient_id}, namespace=NAMESPACE, callback=True)
    guest = hub_socketio.test_client(app, namespace=NAMESPACE, auth={"guest": token})
    assert guest.is_connected(NAMESPACE)
    joined = guest.emit("join", {"session_id": video["id"]}, namespace=NAMESPACE, callback=True)
    assert joined["ok"], joined
    doc.get_received(NAMESPACE)

    with app.test_client() as client:
        assert client.get(f"/video/guest/{token}").status_code == 200
        # Only the session's requester and specialist revoke, and only a patient's link.
        outsider = client.post(
            f"{s}/participants/{patient_id}/revoke", headers=world["hw_b"].headers
        )
        assert outsider.status_code == 404
        me = video["participants"][0]["id"]
        not_a_guest = client.post(f"{s}/participants/{me}/revoke", headers=world["hw_a"].headers)
        assert not_a_guest.status_code == 404
        revoked = client.post(
            f"{s}/participants/{patient_id}/revoke", headers=world["hw_a"].headers
        )
        assert revoked.status_code == 200, revoked.get_json()
        again = client.post(f"{s}/participants/{patient_id}/revoke", headers=world["hw_a"].headers)
        assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_revoked"
        # The link opens nothing any more, and cannot connect a socket.
        assert client.get(f"/video/guest/{token}").status_code in (404, 410)
    assert not guest.is_connected(NAMESPACE)
    assert not hub_socketio.test_client(
        app, namespace=NAMESPACE, auth={"guest": token}
    ).is_connected(NAMESPACE)
    # The others' browsers drop the patient's media connection.
    left = [e["args"][0] for e in doc.get_received(NAMESPACE) if e["name"] == "peer-left"]
    assert {"participant_id": patient_id, "reason": "revoked"} in left
    with app.app_context(), db.transaction() as sess:
        recorded = sess.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == "video:guest_link:revoked",
                AuditEvent.outcome == "ok",
                AuditEvent.object_id == str(video["id"]),
            )
        ).all()
    assert recorded == [{"participant_id": patient_id}]
