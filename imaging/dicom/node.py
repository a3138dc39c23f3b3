"""The hub's DICOM node: C-ECHO, C-STORE of every storage class, C-FIND over the index.

Success is answered only once the instance is on disk (fsync) and its index row committed. A
calling AE title that is not in the registry is rejected at association. Several node
processes may share the listening socket to use more than one core.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom import AE, _config, evt
from pynetdicom.presentation import (
    AllStoragePresentationContexts,
    QueryRetrievePresentationContexts,
    VerificationPresentationContexts,
)
from pynetdicom.transport import AssociationServer, ThreadedAssociationServer
from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from hub import audit, db, outbox
from hub.config import ImagingSettings
from imaging import quarantine, storage
from imaging.dicom import query
from imaging.dicom.parse import MalformedDataset, Parsed, parse
from imaging.dicom.transport import serve_stores_inline, set_nodelay
from imaging.dicom.transport import tune as tune_transport
from imaging.dose.ingest import dose_intake
from imaging.index import DuplicateInstance, ForeignInstance, Indexer, node_principal
from imaging.models import AUTO_READING_TOPIC, CallingAe
from imaging.storage import file_meta, relative_path
from imaging.tasks import forward_drain

log = logging.getLogger("imaging.node")

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
# PS3.4 B.2.3 "Data Set does not match SOP Class" (failure): the instance's identity does not
# match the study it names (another facility's, another patient's). Permanent: a sender must
# not retry it, and dcmtk and pynetdicom report it as a failure with its comment.
STUDY_MISMATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000
# PS3.4 B.2.3 warnings, with the object received and kept:
# 0xB000 (coercion/general warning) for a second object under a stored SOP Instance UID with
# other content, kept in quarantine. Not 0x0111 (PS3.7 C "Duplicate SOP Instance"), a failure
# status that tells the sender nothing was kept (untrue) and makes some senders retry forever.
DUPLICATE_QUARANTINED = 0xB000
# 0xB007 "Data Set does not match SOP Class" (warning): stored, but with invalid values the
# index records (e.g. more frames declared than the pixel data holds).
STORED_WITH_PROBLEMS = 0xB007
FIND_FAILED = 0xC001
REGISTRY_TTL = 5.0
KICK_INTERVAL = 1.0
# Per association already served, how long a node process waits before accepting a new one.
ACCEPT_HOLD_BACK = 0.002
ACCEPT_HOLD_BACK_MAX = 0.02
SWITCH_INTERVAL = 0.0005

# Transfer syntaxes accepted as sent and stored unchanged: uncompressed, deflated, RLE, the
# JPEG family, JPEG-LS, JPEG 2000, HTJ2K and MPEG/HEVC video.
TRANSFER_SYNTAXES = [
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.4.100",
    "1.2.840.10008.1.2.4.101",
    "1.2.840.10008.1.2.4.102",
    "1.2.840.10008.1.2.4.103",
    "1.2.840.10008.1.2.4.104",
    "1.2.840.10008.1.2.4.105",
    "1.2.840.10008.1.2.4.106",
    "1.2.840.10008.1.2.4.107",
    "1.2.840.10008.1.2.4.108",
]


class Registry:
    """Calling AE titles allowed to associate, refreshed from the database every few seconds."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._titles: dict[str, int] = {}
        self._reading: dict[str, str] = {}  # title -> urgency, for titles that want reading
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def facility_of(self, ae_title: str) -> int | None:
        with self._lock:
            if time.monotonic() - self._loaded_at > REGISTRY_TTL:
                self._reload()
            return self._titles.get(ae_title.strip())

    def reading_urgency(self, ae_title: str) -> str | None:
        """The urgency its studies are sent for reading at on arrival; None: they are not."""
        with self._lock:
            return self._reading.get(ae_title.strip())

    def _reload(self) -> None:
        with db.get_db(self.app).new_session() as session:
            rows = session.execute(
                select(CallingAe.ae_title, CallingAe.facility_id, CallingAe.reading_urgency).where(
                    CallingAe.disabled_at.is_(None)
                )
            ).all()
        self._titles = {str(title): int(facility) for title, facility, _ in rows}
        self._reading = {str(title): str(urgency) for title, _, urgency in rows if urgency}
        self._loaded_at = time.monotonic()


@dataclass
class _AssocState:
    calling_ae: str
    facility_id: int
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    quarantined: int = 0
    studies: set[int] = field(default_factory=set)
    # The association's own database connection where that saves round trips (PostgreSQL).
    connection: Connection | None = None


class Node:
    """Event handlers of one node process; state per association is keyed by its id."""

    def __init__(self, app: Flask) -> None:
        settings: ImagingSettings = app.config["HUB_SETTINGS"].imaging
        self.app = app
        self.settings = settings
        self.storage = storage.from_settings(settings)
        self.registry = Registry(app)
        database = db.get_db(app)
        assert database.session_factory is not None
        self.indexer = Indexer(
            database.session_factory,
            forward=settings.central_pacs is not None,
            dose=dose_intake(settings),  # dose SRs are read into the dose index
        )
        self._assocs: dict[int, _AssocState] = {}
        # Connections accepted and not yet closed (NodeServer's hold-back), and associations
        # ended since the last garbage collection.
        self.connections = 0
        self.ended_since_collect = 0
        self._count_lock = threading.Lock()
        self._writer = futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="fsync")
        # Forwarding starts while a study is still arriving: stores wake a thread that queues
        # the forwarding job at most once per KICK_INTERVAL, off the receive path.
        self._kick = threading.Event()
        if self.indexer.forward:
            threading.Thread(target=self._kicker, name="forward-kicker", daemon=True).start()

    def connection_accepted(self) -> None:
        with self._count_lock:
            self.connections += 1

    # --- association ---------------------------------------------------------------------

    def on_requested(self, event: evt.Event) -> None:
        primitive: Any = event.assoc.requestor.primitive
        calling = str(primitive.calling_ae_title).strip()
        called = str(primitive.called_ae_title).strip()
        if called != self.settings.ae_title:
            # An association meant for another node (a misconfigured modality) must not have
            # its images filed here.
            log.warning("rejected association from %r calling AE title %r", calling, called)
            event.assoc.acse.send_reject(0x01, 0x01, 0x07)  # called AE title not recognised
            event.assoc.kill()
            return
        try:
            facility_id = self.registry.facility_of(calling)
        except Exception:
            # pynetdicom would carry on after a failing handler: without a registry answer the
            # association must be refused, not let through unchecked.
            log.exception("cannot read the AE registry; refusing the association")
            event.assoc.acse.send_reject(0x02, 0x03, 0x01)  # transient: temporary congestion
            event.assoc.kill()
            return
        if facility_id is None:
            log.warning("rejected association from unknown calling AE %r", calling)
            event.assoc.acse.send_reject(0x01, 0x01, 0x03)  # calling AE title not recognised
            # As pynetdicom does for its own rejections: wait until the reject is sent.
            event.assoc.kill()
            return
        self._assocs[id(event.assoc)] = _AssocState(calling, facility_id)
        serve_stores_inline(event.assoc)

    def on_closed(self, event: evt.Event) -> None:
        with self._count_lock:
            self.connections = max(0, self.connections - 1)
            self.ended_since_collect += 1
        state = self._assocs.pop(id(event.assoc), None)
        if state is not None and state.connection is not None:
            with contextlib.suppress(Exception):  # a broken connection is dropped all the same
                state.connection.close()
        if state is None or not (
            state.stored or state.duplicates or state.refused or state.quarantined
        ):
            return
        log.info(
            "association from %s ended (node process %d): %d stored, %d duplicate, %d refused%s",
            state.calling_ae,
            os.getpid(),
            state.stored,
            state.duplicates,
            state.refused,
            f", {state.quarantined} quarantined" if state.quarantined else "",
        )
        if state.stored and self.indexer.forward:
            self._kick.set()
        urgency = self.registry.reading_urgency(state.calling_ae)
        if state.stored and urgency and state.studies:
            self._send_for_reading(state, urgency)

    def _send_for_reading(self, state: _AssocState, urgency: str) -> None:
        """The association's studies go for reading (the reading package's outbox handler
        checks and routes them); queued, so a worker that is down delays them, never drops."""
        try:
            with db.get_db(self.app).new_session() as session:
                outbox.add(
                    session,
                    AUTO_READING_TOPIC,
                    {
                        "study_ids": sorted(state.studies),
                        "calling_ae": state.calling_ae,
                        "urgency": urgency,
                    },
                )
                session.commit()
        except Exception:
            log.exception("could not queue %d studies for reading", len(state.studies))

    def _kicker(self) -> None:
        """Ask a worker to forward now rather than at the next periodic drain."""
        while True:
            self._kick.wait()
            self._kick.clear()
            try:
                with self.app.app_context():
                    forward_drain.delay()
            except Exception:  # the periodic drain still runs; the broker may be down
                log.warning("could not queue the forwarding job", exc_info=True)
            time.sleep(KICK_INTERVAL)

    # --- services --------------------------------------------------------------------------

    def on_echo(self, event: evt.Event) -> int:
        return SUCCESS

    def on_store(self, event: evt.Event) -> int | Dataset:
        state = self._assocs.get(id(event.assoc))
        if state is None:
            return OUT_OF_RESOURCES
        request: Any = event.request
        sop_class = str(request.AffectedSOPClassUID)
        sop_uid = str(request.AffectedSOPInstanceUID)
        transfer_syntax = str(event.context.transfer_syntax)
        data = event.encoded_dataset(include_meta=False)
        try:
            parsed = parse(data, transfer_syntax, sop_class_uid=sop_class, sop_instance_uid=sop_uid)
        except MalformedDataset as exc:
            state.refused += 1
            log.warning("refused an instance from %s: %s", state.calling_ae, exc)
            return _failure(CANNOT_UNDERSTAND, str(exc))
        relative = relative_path(parsed.study_uid, parsed.sop_instance_uid)
        meta = file_meta(sop_class, sop_uid, transfer_syntax)
        if state.connection is None:
            try:
                state.connection = self.indexer.stream()
            except Exception as exc:  # the session path below still has its own chance
                log.warning(
                    "no own index connection for %s: %s", state.calling_ae, type(exc).__name__
                )
        writing: futures.Future[int]
        before_commit: Any = None
        if state.connection is not None and self.indexer.knows(parsed):
            # The file's contents are in place before its row commits (a forwarder may read it
            # at once); its flush to disk runs on another thread while the row is inserted,
            # so the disk's two flushes (the file's, the database's commit) overlap. Success
            # waits for both.
            try:
                unsynced = self.storage.create(relative, [meta, data])
            except OSError as exc:
                log.error("cannot store an instance from %s: %s", state.calling_ae, exc.strerror)
                return self._refused(state, OUT_OF_RESOURCES, "the instance could not be written")
            writing = self._writer.submit(unsynced.sync)
        else:
            # A new study or series takes several statements: they run while the file is
            # written and flushed on another thread, and the commit waits for it.
            writing = self._writer.submit(self.storage.write, relative, [meta, data])

            def before_commit() -> None:
                writing.result()

        outcome: int | Dataset | None = None
        for attempt in (1, 2):
            try:
                indexed = self.indexer.add(
                    parsed,
                    relative,
                    len(meta) + len(data),
                    state.calling_ae,
                    state.facility_id,
                    before_commit=before_commit,
                    connection=state.connection,
                )
            except DuplicateInstance:
                outcome = self._duplicate(state, parsed, [meta, data])
                if outcome == SUCCESS:  # a refused one is counted as refused
                    state.duplicates += 1
                break
            except ForeignInstance as exc:
                log.warning("refused an instance from %s: %s", state.calling_ae, exc.comment)
                outcome = _failure(STUDY_MISMATCH, exc.comment)
                break
            except IntegrityError:
                if attempt == 1:
                    continue  # another process created the study or series meanwhile
                log.error("cannot index an instance from %s: conflicting rows", state.calling_ae)
                break
            except OSError as exc:
                log.error("cannot store an instance from %s: %s", state.calling_ae, exc.strerror)
                outcome = _failure(OUT_OF_RESOURCES, "the instance could not be written")
                break
            except Exception as exc:
                # Only the type: a database error's text carries the row's values (names, ids).
                log.error(
                    "cannot index an instance from %s: %s", state.calling_ae, type(exc).__name__
                )
                if state.connection is not None:
                    # It may be broken (a database restart): the next instance gets a new one.
                    with contextlib.suppress(Exception):
                        state.connection.close()
                    state.connection = None
                break
            try:
                writing.result()
            except OSError as exc:
                # The row committed while the flush ran: take it back before answering.
                log.error("cannot store an instance from %s: %s", state.calling_ae, exc.strerror)
                try:
                    self.indexer.withdraw(indexed.instance_id)
                except Exception as db_exc:  # a retry finds the row and restores the file
                    log.error("cannot withdraw its index row: %s", type(db_exc).__name__)
                return self._refused(state, OUT_OF_RESOURCES, "the instance could not be written")
            state.stored += 1
            state.studies.add(indexed.study_id)
            if self.indexer.forward:
                self._kick.set()
            if parsed.problems:
                log.warning(
                    "stored an instance from %s with problems: %s",
                    state.calling_ae,
                    " ".join(parsed.problems),
                )
                return _status(STORED_WITH_PROBLEMS, "stored; " + " ".join(parsed.problems))
            return SUCCESS
        # Not kept: wait for the write to finish before removing what it wrote.
        futures.wait([writing])
        self.storage.delete(relative)
        if outcome is None:
            outcome = _failure(OUT_OF_RESOURCES, "the instance could not be indexed")
        if isinstance(outcome, Dataset) and int(outcome.Status) >> 12 != 0xB:
            state.refused += 1
        return outcome

    def _refused(self, state: _AssocState, status: int, comment: str) -> Dataset:
        state.refused += 1
        return _failure(status, comment)

    def _duplicate(self, state: _AssocState, parsed: Parsed, chunks: list[bytes]) -> int | Dataset:
        """A duplicate is answered with success once the stored copy is known to be whole
        and the same; other content is kept in quarantine and the sender warned."""
        try:
            found = quarantine.resolve(
                self.indexer,
                self.storage,
                parsed,
                chunks,
                calling_ae=state.calling_ae,
                facility_id=state.facility_id,
            )
        except OSError as exc:
            log.error("cannot keep a duplicate from %s: %s", state.calling_ae, exc.strerror)
            return _failure(OUT_OF_RESOURCES, "the instance could not be written")
        except Exception as exc:
            log.error("cannot check a duplicate from %s: %s", state.calling_ae, type(exc).__name__)
            return _failure(OUT_OF_RESOURCES, "the instance could not be indexed")
        if found is quarantine.Duplicate.WITHDRAWN:
            # Its row was withdrawn meanwhile (a failed flush): nothing is stored.
            return _failure(OUT_OF_RESOURCES, "the instance could not be indexed")
        if found is quarantine.Duplicate.DAMAGED:
            log.error(
                "the stored copy of an instance from %s is damaged and the one sent again "
                "differs in size; not replaced",
                state.calling_ae,
            )
            return _failure(OUT_OF_RESOURCES, "the stored copy is damaged")
        if found is quarantine.Duplicate.RESTORED:
            log.warning("restored a damaged stored copy of an instance from %s", state.calling_ae)
        if found is quarantine.Duplicate.QUARANTINED:
            state.quarantined += 1
            return _status(DUPLICATE_QUARANTINED, "another object has this UID; quarantined")
        return SUCCESS

    def on_find(self, event: evt.Event) -> Iterator[tuple[int, Dataset | None]]:
        state = self._assocs.get(id(event.assoc))
        if state is None:
            yield FIND_FAILED, None
            return
        try:
            identifier = event.identifier
            level = str(identifier.get("QueryRetrieveLevel", "")).upper()
            with db.get_db(self.app).new_session() as session:
                matches = query.find(session, level, identifier, state.facility_id)
                audit.record(
                    session,
                    node_principal(state.calling_ae, state.facility_id),
                    "imaging:study:queried",
                    object_type="study",
                    details={"level": level, "matches": len(matches)},
                )
                session.commit()
        except query.QueryError as exc:
            log.warning("refused a C-FIND from %s: %s", state.calling_ae, exc)
            yield FIND_FAILED, None
            return
        except Exception as exc:
            log.error("C-FIND from %s failed: %s", state.calling_ae, type(exc).__name__)
            yield FIND_FAILED, None
            return
        for match in matches:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, match


def _status(status: int, comment: str) -> Dataset:
    """A status with its comment, as pynetdicom takes it from a handler (a Dataset; a failure
    given otherwise it answers as 0xC002, and the sender would not see why, nor whether to
    retry)."""
    ds = Dataset()
    ds.Status = status
    ds.ErrorComment = comment[:64]
    return ds


_failure = _status


class NodeServer(ThreadedAssociationServer):
    """The node's association server; with several processes, all accept on one socket.

    The listening socket is opened once, before the processes fork, and each waits for
    connections on it. The kernel wakes every waiting process and one accept succeeds (the
    others get EAGAIN and wait again). A process already serving associations holds back a
    moment before accepting, so a new association goes to a less busy process if there is
    one: spreading by connection hash (SO_REUSEPORT) put three of four concurrent senders on
    one process about half of the time.
    """

    inherited: socket.socket | None = None
    node: Node | None = None

    def server_bind(self) -> None:
        if self.inherited is None:
            super().server_bind()
            return
        assert self.socket is not None
        self.socket.close()  # the one socketserver made; the shared listener replaces it
        self.socket = self.inherited
        self.server_address = self.socket.getsockname()

    def server_activate(self) -> None:
        if self.inherited is None:
            super().server_activate()

    def server_close(self) -> None:
        if self.inherited is None:
            super().server_close()
            return
        # Not shut down: that would stop the other processes' accepts on the shared socket.
        assert self.socket is not None
        self.socket.close()

    def service_actions(self) -> None:
        # pynetdicom collects garbage every 60th pass of the accept loop (the associations
        # that ended are kept alive by reference cycles until then): at 0.5 s per pass, dozens
        # of finished associations with their buffers stayed in memory. Collected once one
        # has ended instead; cheap, as the node froze what the process had at start.
        if self.node is not None and self.node.ended_since_collect:
            self.node.ended_since_collect = 0
            gc.collect()

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        if self.inherited is not None and self.node is not None:
            busy = self.node.connections
            if busy:
                time.sleep(min(ACCEPT_HOLD_BACK * busy, ACCEPT_HOLD_BACK_MAX))
        request = super().get_request()
        if self.node is not None:
            # Counted from the accept, not from the association request that follows: in a
            # burst of connections that would come too late to send the next one elsewhere.
            self.node.connection_accepted()
        return request


def shared_listener(host: str, port: int) -> socket.socket:
    """The listening socket the node's processes share (opened before they fork)."""
    listener = socket.create_server((host, port), backlog=128)
    # Non-blocking: a process that loses the race for a connection gets EAGAIN at once
    # instead of waiting in accept() for the next one.
    listener.setblocking(False)
    return listener


def make_ae(settings: ImagingSettings) -> AE:
    tune_transport()
    # Any storage SOP class a modality proposes (private ones too) is accepted as sent.
    _config.UNRESTRICTED_STORAGE_SERVICE = True
    # Identifiers and UIDs are logged by pynetdicom's debug handlers; keep them quiet.
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    ae = AE(ae_title=settings.ae_title)
    ae.maximum_pdu_size = settings.max_pdu
    ae.maximum_associations = 64
    ae.network_timeout = 60
    ae.dimse_timeout = 120
    ae.acse_timeout = 30
    for cx in AllStoragePresentationContexts:
        ae.add_supported_context(str(cx.abstract_syntax), TRANSFER_SYNTAXES)
    for cx in VerificationPresentationContexts:
        ae.add_supported_context(str(cx.abstract_syntax))
    for cx in QueryRetrievePresentationContexts:
        if "FIND" in UID(str(cx.abstract_syntax)).name.upper():
            ae.add_supported_context(str(cx.abstract_syntax))
    return ae


def handlers(node: Node) -> list[Any]:
    return [
        (evt.EVT_CONN_OPEN, set_nodelay),
        (evt.EVT_REQUESTED, node.on_requested),
        (evt.EVT_CONN_CLOSE, node.on_closed),
        (evt.EVT_C_ECHO, node.on_echo),
        (evt.EVT_C_STORE, node.on_store),
        (evt.EVT_C_FIND, node.on_find),
    ]


def tls_context(settings: ImagingSettings) -> ssl.SSLContext | None:
    if not settings.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


def serve(app: Flask, *, listener: socket.socket | None = None) -> AssociationServer:
    """Start one node (non-blocking) in this process; the caller shuts it down.

    ``listener``: a listening socket shared with the node's other processes.
    """
    settings: ImagingSettings = app.config["HUB_SETTINGS"].imaging
    assert settings.storage_dir is not None
    settings.storage_dir.mkdir(parents=True, exist_ok=True)
    node = Node(app)
    ae = make_ae(settings)
    server_class = type("NodeServer", (NodeServer,), {"inherited": listener, "node": node})
    server = ae.make_server(
        (settings.host, settings.port),
        ae_title=settings.ae_title,
        ssl_context=tls_context(settings),
        evt_handlers=handlers(node),
        server_class=server_class,
    )
    ae._servers.append(server)
    thread = threading.Thread(target=server.serve_forever, name="dicom-node", daemon=True)
    thread.start()
    return server


def run_forever(app: Flask, processes: int | None = None) -> int:
    """``hub dicom``: run the node until SIGTERM/SIGINT, in ``processes`` processes."""
    settings: ImagingSettings = app.config["HUB_SETTINGS"].imaging
    # Each association's thread waits on the disk and the database, then runs a little Python:
    # with the default 5 ms switch interval a thread whose wait ended queues behind another's
    # Python for up to that long before it may answer its sender.
    sys.setswitchinterval(SWITCH_INTERVAL)
    count = processes or settings.processes
    children: list[int] = []
    listener = shared_listener(settings.host, settings.port) if count > 1 else None
    if listener is not None:
        for _ in range(count - 1):
            pid = os.fork()
            if pid == 0:
                # Engines must not share connections across a fork.
                db.get_db(app).engine.dispose(close=False)  # type: ignore[union-attr]
                _serve_until_signalled(app, listener)
                os._exit(0)
            children.append(pid)
    announce = (
        f"DICOM node {settings.ae_title} listening on {settings.host}:{settings.port} "
        f"({count} process{'es' if count > 1 else ''})"
    )
    _serve_until_signalled(app, listener, announce=announce)
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            continue
    return 0


def _serve_until_signalled(
    app: Flask, listener: socket.socket | None, announce: str | None = None
) -> None:
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server = serve(app, listener=listener)
    # What exists now (the app, its modules, pydicom's dictionaries) lives as long as the
    # process: keep it out of every later collection (NodeServer.service_actions).
    gc.collect()
    gc.freeze()
    if announce:
        print(announce, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
