"""Socket.IO across real web processes: an event committed on one process reaches the right
clients connected to another (through Redis), and only them; unauthenticated sockets are refused.
Also: events wait for the outermost commit and vanish with a rollback."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import socketio
from sqlalchemy.orm import Session, sessionmaker

from hub import db, realtime
from hub.models import Role
from tests.conftest import REDIS_URL
from tests.support import factories as f
from tests.support.apps import TEST_SECRET
from tests.support.databases import temporary_database
from tests.support.processes import HubProcess, children_of, established_on, web_processes

EVENT_TIMEOUT = 10.0

# --- two web processes sharing one database and one Redis channel ----------------------------


@dataclass
class TwoWebs:
    web1: HubProcess
    web2: HubProcess
    channel: str
    facility_a: str
    facility_b: str
    token_a: str  # a community health worker of facility A
    token_b: str  # one of facility B
    expired_token: str  # facility A's, expired


def _seed(url: str) -> dict[str, str]:
    engine = db.make_engine(url)
    try:
        with sessionmaker(engine)() as sess:
            uni = f.university(sess, f.region(sess))
            facility_a, facility_b = f.facility(sess, uni), f.facility(sess, uni)
            chw_a = f.user(sess, Role.CHW, at=facility_a)
            chw_b = f.user(sess, Role.CHW, at=facility_b)
            seeded = {
                "facility_a": facility_a.code,
                "facility_b": facility_b.code,
                "token_a": f.personal_token(sess, chw_a),
                "token_b": f.personal_token(sess, chw_b),
                "expired_token": f.personal_token(sess, chw_a, ttl=-60),
            }
            sess.commit()
            return seeded
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def webs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoWebs]:
    tmp = tmp_path_factory.mktemp("realtime")
    channel = f"hub-test-socketio-{uuid.uuid4().hex}"
    with (
        temporary_database("postgresql", tmp) as url,
        web_processes(url, tmp, redis_url=REDIS_URL, channel=channel, secret=TEST_SECRET) as procs,
    ):
        seeded = _seed(url)
        yield TwoWebs(web1=procs[0], web2=procs[1], channel=channel, **seeded)


class Listener:
    """A Socket.IO client that records every ``patient.registered`` it hears."""

    def __init__(self) -> None:
        self.client = socketio.Client(reconnection=False)
        self.heard: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client.on("patient.registered", self.heard.put)

    def connect(
        self, url: str, auth: dict[str, str] | None, transports: list[str] | None = None
    ) -> None:
        self.client.connect(url, auth=auth, transports=transports, wait_timeout=30)

    def next_event(self, timeout: float = EVENT_TIMEOUT) -> dict[str, Any]:
        try:
            return self.heard.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no patient.registered within {timeout:.0f}s") from None

    def local_port(self) -> int:
        """The client port of this listener's websocket."""
        sock = self.client.eio.ws.sock
        return int(sock.getsockname()[1])

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        listener.close()


def connect(
    listeners: list[Listener],
    web: HubProcess,
    token: str,
    transports: list[str] | None = None,
) -> Listener:
    listener = Listener()
    listeners.append(listener)
    listener.connect(web.base_url, {"token": token}, transports)
    assert listener.client.connected
    return listener


def wait_until_subscribed(channel: str, timeout: float = 10.0, subscribers: int = 1) -> None:
    """Socket.IO subscribes a process to the Redis channel once its first client connects, in a
    background thread; an event published before that would be missed by design."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        deadline = time.monotonic() + timeout
        while (seen := dict(client.pubsub_numsub(channel)).get(channel.encode(), 0)) < subscribers:
            assert time.monotonic() < deadline, (
                f"{seen} of {subscribers} processes subscribed to {channel} in time"
            )
            time.sleep(0.05)
    finally:
        client.close()


def register_patient(web: HubProcess, token: str) -> int:
    body = {
        "national_id": f.national_id(),
        "given_name": "Leila",
        "family_name": "Sadeghi",
        "date_of_birth": "1991-04-05",
        "sex": "female",
    }
    resp = requests.post(
        f"{web.base_url}/api/v1/patients",
        json=body,
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
def test_patient_registered_on_one_process_reaches_a_client_of_another(
    webs: TwoWebs, listeners: list[Listener]
) -> None:
    listener = connect(listeners, webs.web1, webs.token_a)
    wait_until_subscribed(webs.channel)
    patient_id = register_patient(webs.web2, webs.token_a)
    assert listener.next_event() == {"patient_id": patient_id}


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
def test_users_of_another_facility_do_not_hear_it(webs: TwoWebs, listeners: list[Listener]) -> None:
    at_a = connect(listeners, webs.web1, webs.token_a)
    at_b = connect(listeners, webs.web1, webs.token_b)
    wait_until_subscribed(webs.channel)
    first_a = register_patient(webs.web2, webs.token_a)
    only_b = register_patient(webs.web2, webs.token_b)
    second_a = register_patient(webs.web2, webs.token_a)
    # Events reach one client in order, so had B heard of A's patient, it would have heard of it
    # before its own; likewise A before its second.
    assert at_b.next_event() == {"patient_id": only_b}
    assert at_a.next_event() == {"patient_id": first_a}
    assert at_a.next_event() == {"patient_id": second_a}
    assert at_b.heard.empty() and at_a.heard.empty()


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.parametrize(
    "auth",
    [None, {}, {"token": "hubpat_not-a-real-token"}, {"token": "garbage"}, {"token": "expired"}],
    ids=["no-auth", "no-token", "unknown-token", "garbage", "expired"],
)
def test_connection_without_a_valid_token_is_refused(
    webs: TwoWebs, listeners: list[Listener], auth: dict[str, str] | None
) -> None:
    if auth == {"token": "expired"}:
        auth = {"token": webs.expired_token}
    listener = Listener()
    listeners.append(listener)
    # Refused by the server (not merely timed out: that says "Unexpected connection error").
    with pytest.raises(socketio.exceptions.ConnectionError, match="namespaces failed to connect"):
        listener.connect(webs.web1.base_url, auth)
    assert not listener.client.connected
    # The same process still accepts a valid token.
    assert connect(listeners, webs.web1, webs.token_a).client.connected


# --- several worker processes of one `hub web` -----------------------------------------------


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgres
def test_worker_processes_of_one_web_command_share_its_port_and_events(
    tmp_path: Path, listeners: list[Listener]
) -> None:
    """HUB_WEB_WORKERS=2: both processes take websockets and requests on the one port, and an
    event raised by a request on either reaches listeners on both."""
    channel = f"hub-test-socketio-{uuid.uuid4().hex}"
    with (
        temporary_database("postgresql", tmp_path) as url,
        web_processes(
            url,
            tmp_path,
            redis_url=REDIS_URL,
            channel=channel,
            secret=TEST_SECRET,
            count=1,
            HUB_WEB_WORKERS="2",
            # A websocket holds a gthread thread while open: room for every listener this test
            # may open on one process before the kernel hands one to the other.
            HUB_WEB_THREADS="32",
        ) as (web,),
    ):
        seeded = _seed(url)
        # The port answers once one worker serves it; the other may still be starting.
        deadline = time.monotonic() + 30
        while len(workers := children_of(web.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 2 and web.port is not None
        # Which process accepts a connection is the kernel's choice: connect until both hold a
        # websocket. Each is traced by its own client port: another connection left open (a
        # keep-alive health check) must not count as a listener on that process.
        holders: set[int] = set()
        while holders != set(workers):
            assert len(listeners) < 24, "every websocket went to the same worker process"
            listener = connect(listeners, web, seeded["token_a"], transports=["websocket"])
            holders |= established_on(web.port, workers, peer_port=listener.local_port())
        # A process subscribes to the channel in a background thread after its first client.
        wait_until_subscribed(channel, timeout=30, subscribers=2)
        # Each registration on a new connection: served by either process.
        registered = [register_patient(web, seeded["token_a"]) for _ in range(4)]
        for listener in listeners:
            assert [listener.next_event()["patient_id"] for _ in registered] == registered


# --- events wait for the outermost commit ----------------------------------------------------


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, str]]:
    sent: list[tuple[str, Any, str]] = []

    def record(event: str, data: Any, to: str) -> None:
        sent.append((event, data, to))

    monkeypatch.setattr(realtime.socketio, "emit", record)
    return sent


def test_events_are_emitted_after_commit_and_dropped_on_rollback(
    session: Session, emitted: list[tuple[str, Any, str]]
) -> None:
    f.region(session)
    realtime.emit_after_commit(session, "thing.changed", {"id": 1}, ["user:1", "facility:2"])
    session.flush()
    assert emitted == []
    session.commit()
    assert emitted == [
        ("thing.changed", {"id": 1}, "user:1"),
        ("thing.changed", {"id": 1}, "facility:2"),
    ]
    emitted.clear()

    f.region(session)
    realtime.emit_after_commit(session, "thing.changed", {"id": 2}, ["user:1"])
    session.rollback()
    session.commit()
    assert emitted == []


def test_events_inside_a_savepoint_wait_for_the_outer_commit(
    session: Session, emitted: list[tuple[str, Any, str]]
) -> None:
    f.region(session)
    realtime.emit_after_commit(session, "thing.changed", {"id": "outer"}, ["user:1"])
    with session.begin_nested():
        realtime.emit_after_commit(session, "thing.changed", {"id": "kept"}, ["user:1"])
    try:
        with session.begin_nested():
            realtime.emit_after_commit(session, "thing.changed", {"id": "undone"}, ["user:1"])
            raise RuntimeError("roll the savepoint back")
    except RuntimeError:
        pass
    assert emitted == []
    session.commit()
    assert [data["id"] for _, data, _ in emitted] == ["outer", "kept"]


def test_a_failing_emit_does_not_fail_the_commit(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def broken(event: str, data: Any, to: str) -> None:
        calls.append(to)
        raise ConnectionError("redis is down")

    monkeypatch.setattr(realtime.socketio, "emit", broken)
    f.region(session)
    realtime.emit_after_commit(session, "thing.changed", {"id": 1}, ["user:1", "user:2"])
    session.commit()  # does not raise
    assert calls == ["user:1", "user:2"]  # one failure does not stop the other rooms
