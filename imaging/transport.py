"""Tuning of pynetdicom's transport for throughput, applied by the node and the forwarder.

pynetdicom 3.0.4 reads a PDU 4 KiB at a time into a growing bytearray (128 ``recv`` calls and
copies for a 0.5 MB instance) and its reactors poll with ``time.sleep(0.001)``, which adds
about a millisecond of waiting at each hand-off between its threads (several per C-STORE).
Both are replaced here: a PDU is read with ``recv_into`` a buffer of its final size, and the
reactors poll every 0.2 ms. The protocol handling itself is unchanged.
"""

from __future__ import annotations

import time as _time
from typing import Any

import pynetdicom.association
import pynetdicom.dul
from pynetdicom.transport import AssociationSocket

POLL_SECONDS = 0.0002
_applied = False


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


def tune() -> None:
    """Apply once per process (idempotent)."""
    global _applied
    if _applied:
        return
    AssociationSocket.recv = _recv  # type: ignore[method-assign]
    pynetdicom.association.time = _FastPolling()  # type: ignore[assignment]
    pynetdicom.dul.time = _FastPolling()  # type: ignore[assignment]
    _applied = True
