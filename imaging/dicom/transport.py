"""Tuning of pynetdicom's transport for throughput, applied by the node and the forwarder.

pynetdicom 3.0.4 reads a PDU 4 KiB at a time into a growing bytearray (128 ``recv`` calls and
copies for a 0.5 MB instance) and its reactors poll with ``time.sleep(0.001)``, which adds
about a millisecond of waiting at each hand-off between its threads (several per C-STORE).
Both are replaced here: a PDU is read with ``recv_into`` a buffer of its final size, and the
reactors poll every 0.2 ms. The protocol handling itself is unchanged.

The node also receives C-STORE requests on a shorter path (:func:`serve_stores_inline`). In
pynetdicom a received instance is copied four times (PDU decoding, the P-DATA primitive, the
DIMSE message's buffer, ``encoded_dataset``) and crosses two threads: the DUL thread
assembles it, the association thread polls for it and runs the handler, and the DUL thread
polls for the response to send it. On the short path the DUL thread, in the data transfer
state, splits a P-DATA-TF PDU into its PDVs itself, keeps a C-STORE request's dataset
fragments as views of the received PDUs, and once the last one arrives serves the request
where pynetdicom would have (``Association._serve_request``: the same service class, event
handlers) and sends the response in the same pass. Every other message (C-ECHO, C-FIND,
C-CANCEL, a command set split over fragments) goes to pynetdicom's DIMSE provider as before,
as do all other PDUs; a malformed PDU is the same protocol error (Evt19) as in pynetdicom.
Not raised on this path: ``EVT_DATA_RECV``, ``EVT_PDU_RECV`` and, for the C-STORE response,
``EVT_DIMSE_SENT``.

On those associations, the C-STORE response's command set is encoded here (a few fixed
elements in implicit VR little endian; pydicom's writer with its value validation took
longer than the rest of the response path) and sent as pynetdicom's P-DATA primitive; a
response with other elements than status and error comment is encoded by pynetdicom. The
association thread, which then only sees the other messages, release and abort, waits on its
message queue instead of polling it.
"""

from __future__ import annotations

import contextlib
import queue
import select
import socket
import ssl
import struct
import time as _time
from io import BytesIO
from typing import Any

import pynetdicom.association
import pynetdicom.dul
from pynetdicom import _config, evt
from pynetdicom.association import Association
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_messages import C_STORE_RQ, DIMSEMessage
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu_primitives import P_DATA
from pynetdicom.transport import AssociationSocket

POLL_SECONDS = 0.0002
_applied = False


def set_nodelay(event: evt.Event) -> None:
    """Nagle's algorithm holds each small PDU ~40 ms waiting for an ACK: turn it off."""
    sock = getattr(event.assoc.dul.socket, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # the peer may already have gone away
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _recv(self: AssociationSocket, nr_bytes: int) -> bytearray:
    """Read exactly ``nr_bytes`` (or what arrived before the peer closed)."""
    buffer = bytearray(nr_bytes)
    view = memoryview(buffer)
    received = 0
    sock: Any = self.socket
    while received < nr_bytes:
        count = sock.recv_into(view[received:], nr_bytes - received)
        if not count:
            del view
            return buffer[:received]
        received += count
    del view
    return buffer


class _FastPolling:
    """The ``time`` module as pynetdicom's reactors see it, with shorter polling sleeps."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        _time.sleep(min(seconds, POLL_SECONDS))


_P_DATA_TF = 0x04
_PDU_TYPES = frozenset({0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07})
_C_STORE_RQ = 0x0001
_NO_DATASET = 0x0101
_HEADER = struct.Struct(">BBL")
_PDV_LENGTH = struct.Struct(">L")
_COMMAND_ELEMENT = struct.Struct("<HHL")
_original_read_pdu_data = DULServiceProvider._read_pdu_data
_original_send_msg = DIMSEServiceProvider.send_msg
_original_run_reactor = Association._run_reactor
_C_STORE_RSP = 0x8001
_ELEMENT = struct.Struct("<HHL")
_US = struct.Struct("<HHLH")
MID_MESSAGE_WAIT = 0.05
NEXT_REQUEST_WAIT = 0.005
# How often the association thread looks for a release or an abort. Each look takes the GIL
# (at 2 ms, a tenth of a busy node's Python time); a release waits for the next look.
REACTOR_WAIT = 0.01


class _Inline:
    """A C-STORE request whose dataset is arriving on the short path."""

    __slots__ = ("context_id", "fragments", "message")

    def __init__(self, message: DIMSEMessage, context_id: int) -> None:
        self.message = message
        self.context_id = context_id
        self.fragments: list[memoryview] = []


def serve_stores_inline(assoc: Any) -> None:
    """Receive this association's C-STORE requests on the short path (the node, as acceptor)."""
    if _config.STORE_RECV_CHUNKED_DATASET:
        return  # datasets go to temporary files there: pynetdicom's own path
    assoc.dul._hub_inline = None
    assoc.dul._hub_inline_on = True


def _read_pdu_data(self: DULServiceProvider) -> None:
    """pynetdicom's ``_read_pdu_data`` (same checks and events), P-DATA-TF aside."""
    if not getattr(self, "_hub_inline_on", False):
        _original_read_pdu_data(self)
        return
    sock: Any = self.socket
    while True:
        try:
            header = sock.recv(6)
            pdu_type, _, length = _HEADER.unpack(header)
        except (OSError, TimeoutError, struct.error):
            self.event_queue.put("Evt17")  # connection closed before the PDU was received
            return
        if pdu_type not in _PDU_TYPES:
            self.event_queue.put("Evt19")
            return
        try:
            body = sock.recv(length)
        except (OSError, TimeoutError):
            self.event_queue.put("Evt17")
            return
        if len(body) != length:
            self.event_queue.put("Evt17")
            return
        if pdu_type != _P_DATA_TF or self.state_machine.current_state != "Sta6":
            break
        served = _receive_p_data(self, body)
        self._idle_timer.restart()
        # In the middle of a dataset the next PDU is on its way, and after a response the
        # sender's next request: read it as soon as it is there instead of going round the
        # reactor's loop and its polling sleep. Anything else (a response another thread
        # queued, a slow-path message) returns to the loop at once.
        if self._hub_inline is not None:  # type: ignore[attr-defined]
            wait = MID_MESSAGE_WAIT
        elif served:
            wait = NEXT_REQUEST_WAIT
        else:
            return
        if self._kill_thread or not _readable(sock, wait):
            return
    # Anything else, or data outside the data transfer state: as pynetdicom does.
    self._hub_inline = None  # type: ignore[attr-defined]
    try:
        pdu, event = self._decode_pdu(bytearray(header) + body)
        self.event_queue.put(event)
    except Exception:
        self.event_queue.put("Evt19")
        return
    self._recv_pdu.put(pdu)


def _readable(sock: AssociationSocket, timeout: float) -> bool:
    raw: Any = sock.socket
    if raw is None:
        return False
    try:
        if isinstance(raw, ssl.SSLSocket) and raw.pending():
            return True
        ready, _, _ = select.select([raw], [], [], timeout)
    except (OSError, ValueError):
        return False  # the reactor's own check reports the closed connection
    return bool(ready)


def _store_request(command: memoryview) -> bool:
    """Whether an encoded command set (implicit VR LE) is a C-STORE request with a dataset."""
    field = dataset_type = None
    pos, end = 0, len(command)
    while pos + 8 <= end:
        group, element, length = _COMMAND_ELEMENT.unpack_from(command, pos)
        pos += 8
        if pos + length > end:
            return False
        if group == 0 and length == 2:
            if element == 0x0100:
                field = command[pos] | command[pos + 1] << 8
            elif element == 0x0800:
                dataset_type = command[pos] | command[pos + 1] << 8
        pos += length
    return field == _C_STORE_RQ and dataset_type is not None and dataset_type != _NO_DATASET


def _invalid(dul: DULServiceProvider) -> None:
    dul._hub_inline = None  # type: ignore[attr-defined]
    dul.event_queue.put("Evt19")  # invalid PDU: pynetdicom aborts the association


def _receive_p_data(dul: DULServiceProvider, body: bytearray) -> bool:
    """Handle one P-DATA-TF PDU; True if it completed (only) requests served here."""
    served = False
    view = memoryview(body)
    pdvs: list[tuple[int, int, memoryview]] = []
    pos, end = 0, len(body)
    while pos < end:
        if pos + 6 > end:
            _invalid(dul)
            return False
        (length,) = _PDV_LENGTH.unpack_from(body, pos)
        if length < 2 or pos + 4 + length > end:
            _invalid(dul)
            return False
        pdvs.append((body[pos + 4], body[pos + 5], view[pos + 6 : pos + 4 + length]))
        pos += 4 + length
    if not pdvs:
        _invalid(dul)
        return False
    slow: list[Any] = []
    for context_id, control, data in pdvs:
        inline: _Inline | None = dul._hub_inline  # type: ignore[attr-defined]
        if inline is not None:
            # Only dataset fragments of the same context may follow until the last one.
            if control & 1 or context_id != inline.context_id:
                _invalid(dul)
                return False
            inline.fragments.append(data)
            if control & 2:
                dul._hub_inline = None  # type: ignore[attr-defined]
                _serve(dul, inline)
                served = True
            continue
        if (
            not slow
            and control & 3 == 3
            and dul.assoc.dimse.message is None
            and _store_request(data)
        ):
            message = DIMSEMessage()
            primitive = P_DATA()
            primitive.presentation_data_value_list = [[context_id, bytes([control]) + data]]  # type: ignore[list-item]
            if not message.decode_msg(primitive, dul.assoc) and type(message) is C_STORE_RQ:
                dul._hub_inline = _Inline(message, context_id)  # type: ignore[attr-defined]
                continue
            _invalid(dul)
            return False
        slow.append([context_id, bytes([control]) + data])
    if slow:
        primitive = P_DATA()
        primitive.presentation_data_value_list = slow
        dul.assoc.dimse.receive_primitive(primitive)  # pynetdicom's DT-2 (Sta6 -> Sta6)
        return False
    return served


def _serve(dul: DULServiceProvider, inline: _Inline) -> None:
    message = inline.message
    # The one copy of the dataset: the fragments joined (the handler reads it as bytes).
    message.data_set = BytesIO(b"".join(inline.fragments))
    inline.fragments.clear()
    assoc = dul.assoc
    evt.trigger(assoc, evt.EVT_DIMSE_RECV, {"message": message})
    primitive: Any = message.message_to_primitive()
    assoc._serve_request(primitive, inline.context_id)
    # The response is queued for this thread: send it now, as the reactor's next pass would
    # (P-DATA request, Evt9, DT-1), rather than after its polling sleep. Only when no other
    # event waits, so that events keep their order and no primitive is taken twice.
    if dul.event_queue.empty() and dul._process_recv_primitive():
        dul.state_machine.do_action(dul.event_queue.get(False))


def _element(element: int, value: bytes) -> bytes:
    return _ELEMENT.pack(0x0000, element, len(value)) + value


def _uid_value(value: object) -> bytes:
    raw = str(value).encode("ascii")
    return raw + b"\0" if len(raw) % 2 else raw


def encode_store_response(primitive: Any) -> bytes | None:
    """The command set (implicit VR LE) of a C-STORE response, or None if it carries elements
    beyond the usual ones (then pynetdicom encodes it)."""
    if primitive.OffendingElement is not None:
        return None
    if primitive.MessageIDBeingRespondedTo is None or primitive.Status is None:
        return None
    parts = []
    if primitive.AffectedSOPClassUID is not None:
        parts.append(_element(0x0002, _uid_value(primitive.AffectedSOPClassUID)))
    parts.append(_US.pack(0x0000, 0x0100, 2, _C_STORE_RSP))
    parts.append(_US.pack(0x0000, 0x0120, 2, primitive.MessageIDBeingRespondedTo))
    parts.append(_US.pack(0x0000, 0x0800, 2, _NO_DATASET))
    parts.append(_US.pack(0x0000, 0x0900, 2, primitive.Status))
    if primitive.ErrorComment is not None:
        comment = str(primitive.ErrorComment).encode("ascii", "replace")
        parts.append(_element(0x0902, comment + b" " * (len(comment) % 2)))
    if primitive.AffectedSOPInstanceUID is not None:
        parts.append(_element(0x1000, _uid_value(primitive.AffectedSOPInstanceUID)))
    rest = b"".join(parts)
    return _ELEMENT.pack(0x0000, 0x0000, 4) + struct.pack("<L", len(rest)) + rest


def _send_msg(self: DIMSEServiceProvider, primitive: Any, context_id: int) -> None:
    if (
        getattr(self.dul, "_hub_inline_on", False)
        and type(primitive) is C_STORE
        and primitive.MessageIDBeingRespondedTo is not None
    ):
        command = encode_store_response(primitive)
        limit = self.maximum_pdu_size
        if command is not None and (limit == 0 or len(command) + 6 <= limit):
            pdata = P_DATA()
            pdata.presentation_data_value_list.append((context_id, b"\x03" + command))
            self.dul.send_pdu(pdata)
            return
    _original_send_msg(self, primitive, context_id)


def _run_reactor(self: Association) -> None:
    """pynetdicom's acceptor loop, waiting on the message queue rather than sleeping."""
    if not getattr(self.dul, "_hub_inline_on", False):
        _original_run_reactor(self)
        return
    self._is_paused = False
    while not self._kill:
        self._is_paused = True
        self._reactor_checkpoint.wait()
        self._is_paused = False
        try:
            context_id, msg = self.dimse.msg_queue.get(timeout=REACTOR_WAIT)
        except queue.Empty:
            context_id, msg = None, None
        if msg and context_id is not None:
            self._serve_request(msg, context_id)
        if self.is_established and self.acse.is_release_requested():
            self.acse.send_release(is_response=True)
            self.is_released = True
            self.is_established = False
            evt.trigger(self, evt.EVT_RELEASED, {})
            self.kill()
            return
        if self.acse.is_aborted():
            self.dul.receive_pdu(wait=False)  # so that EVT_ACSE_RECV fires
            self.is_aborted = True
            self.is_established = False
            evt.trigger(self, evt.EVT_ABORTED, {})
            self.kill()
            return
        if not self.dul.is_alive():
            self.kill()
            return
        if self.dul.idle_timer_expired():
            if self.network_timeout_response == "A-RELEASE":
                self._is_paused = True
                self._reactor_checkpoint.wait()
                self.release()
                self._is_paused = False
            else:
                self.abort()
            self.kill()
            return


def tune() -> None:
    """Apply once per process (idempotent)."""
    global _applied
    if _applied:
        return
    AssociationSocket.recv = _recv  # type: ignore[method-assign]
    DULServiceProvider._read_pdu_data = _read_pdu_data  # type: ignore[method-assign]
    DIMSEServiceProvider.send_msg = _send_msg  # type: ignore[method-assign]
    Association._run_reactor = _run_reactor  # type: ignore[method-assign]
    # pynetdicom's standard handlers format every PDU and DIMSE message for debug logging
    # (~0.5 ms per C-STORE) even when its logger drops them, as the hub's does.
    _config.LOG_HANDLER_LEVEL = "none"
    pynetdicom.association.time = _FastPolling()  # type: ignore[assignment]
    pynetdicom.dul.time = _FastPolling()  # type: ignore[assignment]
    _applied = True
