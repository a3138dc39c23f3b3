"""Sending a stored file over an established association with one ``sendall``.

pynetdicom hands every P-DATA PDU of a C-STORE to its DUL thread separately; with an archive
that accepts 16 KiB PDUs (Orthanc's default) that is 33 thread hand-offs per 0.5 MB instance and
limits forwarding to ~50 instances/s. Here the command and dataset PDUs are encoded at once and
written to the socket directly, which is what pynetdicom's state machine would do for P-DATA in
an established association (no state change); the response is still read by pynetdicom.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pynetdicom.association import Association

COMMAND_LAST = 0x03
DATA = 0x00
DATA_LAST = 0x02
PRIORITY_MEDIUM, PRIORITY_HIGH = 0x0000, 0x0001
UNLIMITED_FRAGMENT = 1 << 20
SETTLE_SECONDS = 0.01


def _element(elem: int, value: bytes) -> bytes:
    return struct.pack("<HHI", 0x0000, elem, len(value)) + value


def _uid(value: str) -> bytes:
    raw = value.encode("ascii")
    return raw + b"\0" if len(raw) % 2 else raw


def command_set(sop_class: str, sop_uid: str, message_id: int, priority: int) -> bytes:
    """A C-STORE-RQ command set, implicit VR little endian (PS3.7 9.3.1.1)."""
    rest = b"".join(
        (
            _element(0x0002, _uid(sop_class)),
            _element(0x0100, struct.pack("<H", 0x0001)),  # C-STORE-RQ
            _element(0x0110, struct.pack("<H", message_id & 0xFFFF)),
            _element(0x0700, struct.pack("<H", priority)),
            _element(0x0800, struct.pack("<H", 0x0000)),  # a dataset follows
            _element(0x1000, _uid(sop_uid)),
        )
    )
    return _element(0x0000, struct.pack("<I", len(rest))) + rest


def _pdu(context_id: int, header: int, data: bytes | memoryview) -> bytes:
    item = len(data) + 2
    return struct.pack(">BBIIBB", 0x04, 0x00, item + 4, item, context_id, header) + data


def dataset_offset(raw: bytes) -> int:
    """Where the dataset starts in a Part 10 file written by the node (after its file meta)."""
    return 144 + int(struct.unpack_from("<I", raw, 140)[0])


def store_file(
    assoc: Association,
    path: Path,
    context_id: int,
    sop_class: str,
    sop_uid: str,
    message_id: int,
    priority: int = PRIORITY_MEDIUM,
) -> Any:
    """Send one stored instance; returns the C-STORE-RSP primitive, or None (no answer).

    Raises :class:`ConnectionError` when the connection is gone.
    """
    raw = path.read_bytes()
    view = memoryview(raw)[dataset_offset(raw) :]
    peer_max = int(assoc.acceptor.maximum_length or 0)
    fragment = peer_max - 6 if peer_max > 6 else UNLIMITED_FRAGMENT
    parts = [_pdu(context_id, COMMAND_LAST, command_set(sop_class, sop_uid, message_id, priority))]
    for start in range(0, len(view), fragment):
        last = start + fragment >= len(view)
        parts.append(_pdu(context_id, DATA_LAST if last else DATA, view[start : start + fragment]))
    transport = assoc.dul.socket
    socket: Any = transport.socket if transport is not None else None
    if socket is None:  # pynetdicom closed it: the peer is gone
        raise ConnectionAbortedError("the association's connection is closed")
    try:
        socket.sendall(b"".join(parts))
    except OSError as exc:
        # Reset or broken pipe, or EBADF once pynetdicom's own thread, seeing the peer gone,
        # has closed the socket: all mean the connection is lost, not a local failure.
        raise ConnectionAbortedError(f"the connection is lost: {exc}") from exc
    _context, response = assoc.dimse.get_msg(block=True)
    return response


@contextmanager
def reactor_paused(assoc: Association) -> Iterator[None]:
    """Keep the association's reactor from taking responses meant for :func:`store_file`.

    pynetdicom's own send_c_store pauses it per message and can lose that race: the reactor may
    have passed its checkpoint just before the pause and take the response ("Received
    unexpected C-STORE service message", then a DIMSE timeout). Here it is paused once per
    batch, and only trusted to be paused once it was seen paused after a full loop of its own.
    """
    assoc._reactor_checkpoint.clear()
    try:
        _wait_paused(assoc)
        time.sleep(SETTLE_SECONDS)  # longer than one reactor loop: now it waits at the checkpoint
        _wait_paused(assoc)
        yield
    finally:
        assoc._reactor_checkpoint.set()


def _wait_paused(assoc: Association) -> None:
    deadline = time.monotonic() + 10
    while not assoc._is_paused and assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.0001)
