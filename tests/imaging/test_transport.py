"""The node's short C-STORE path (imaging.transport) against pynetdicom itself: the same bytes
arrive whatever the PDU size, other messages still take pynetdicom's path on the same
association, the response's command set is what pynetdicom would encode, and a broken PDU
aborts the association without harming the server."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, evt
from pynetdicom.dimse_messages import C_STORE_RSP
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import encode
from pynetdicom.sop_class import CTImageStorage, Verification

from imaging.dicom import transport
from tests.imaging.dicomdata import ct_instance
from tests.support.processes import free_port


@pytest.mark.parametrize(
    ("status", "comment", "sop_class"),
    [
        (0x0000, None, "1.2.840.10008.5.1.4.1.1.2"),
        (0xC000, "the SOP Instance UID is missing", "1.2.840.10008.5.1.4.1.1.20"),
        (0xA700, "x", "1.2.3"),
    ],
)
def test_store_response_is_encoded_as_pynetdicom_does(
    status: int, comment: str | None, sop_class: str
) -> None:
    rsp = C_STORE()
    rsp.MessageID = 7
    rsp.MessageIDBeingRespondedTo = 7
    rsp.AffectedSOPClassUID = UID(sop_class)
    rsp.AffectedSOPInstanceUID = UID("1.2.826.0.1.3680043.8.498.1234567")
    rsp.Status = status
    if comment is not None:
        rsp.ErrorComment = comment
    message = C_STORE_RSP()
    message.primitive_to_message(rsp)
    assert transport.encode_store_response(rsp) == encode(message.command_set, True, True)


def test_store_response_with_other_elements_is_left_to_pynetdicom() -> None:
    rsp = C_STORE()
    rsp.MessageIDBeingRespondedTo = 1
    rsp.Status = 0xC000
    rsp.OffendingElement = [0x00100010]
    assert transport.encode_store_response(rsp) is None


class Receiver:
    """A pynetdicom SCP on the short path that keeps what its C-STORE handler is given."""

    def __init__(self, max_pdu: int) -> None:
        transport.tune()
        self.received: list[bytes] = []
        self.status = 0x0000
        self.port = free_port()
        ae = AE(ae_title="RECEIVER")
        ae.maximum_pdu_size = max_pdu
        ae.add_supported_context(CTImageStorage, ExplicitVRLittleEndian)
        ae.add_supported_context(Verification)
        self.server = ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            evt_handlers=[
                (evt.EVT_REQUESTED, self._requested),
                (evt.EVT_C_STORE, self._store),
            ],
        )

    def _requested(self, event: evt.Event) -> None:
        transport.serve_stores_inline(event.assoc)

    def _store(self, event: evt.Event) -> int | Dataset:
        self.received.append(event.encoded_dataset(include_meta=False))
        if self.status:
            failure = Dataset()
            failure.Status = self.status
            failure.ErrorComment = "refused for the test"
            return failure
        return 0x0000


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    running = Receiver(getattr(request, "param", 16384))
    try:
        yield running
    finally:
        running.server.shutdown()


def sender(max_pdu: int = 0) -> Any:
    ae = AE(ae_title="SENDER")
    ae.maximum_pdu_size = max_pdu
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    ae.add_requested_context(Verification)
    return ae


def instances(count: int, size: int = 64) -> list[Dataset]:
    study, series = generate_uid(), generate_uid()
    out = []
    for n in range(1, count + 1):
        ds = ct_instance(patient_id="P-1", study_uid=study, series_uid=series, number=n, size=size)
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        out.append(ds)
    return out


def encoded(ds: Dataset) -> bytes:
    data = encode(ds, False, True)
    assert data is not None
    return data


@pytest.mark.parametrize("receiver", [4096, 131072], indirect=True)
def test_datasets_arrive_intact_in_many_or_one_pdu(receiver: Receiver) -> None:
    datasets = instances(3, size=128)  # ~33 KB each: 9 PDUs of 4 KiB, or one
    assoc = sender().associate("127.0.0.1", receiver.port, ae_title="RECEIVER")
    assert assoc.is_established
    try:
        for ds in datasets:
            assert assoc.send_c_store(ds).Status == 0x0000
        # A message pynetdicom handles, between and after short-path ones.
        assert assoc.send_c_echo().Status == 0x0000
        assert assoc.send_c_store(instances(1)[0]).Status == 0x0000
    finally:
        assoc.release()
    assert receiver.received[:3] == [encoded(ds) for ds in datasets]
    assert len(receiver.received) == 4


def test_failure_status_and_comment_reach_the_sender(receiver: Receiver) -> None:
    receiver.status = 0xA700
    assoc = sender().associate("127.0.0.1", receiver.port, ae_title="RECEIVER")
    try:
        status = assoc.send_c_store(instances(1)[0])
    finally:
        assoc.release()
    assert status.Status == 0xA700
    assert status.ErrorComment == "refused for the test"


def test_a_broken_pdu_aborts_only_that_association(receiver: Receiver) -> None:
    ds = instances(1)[0]
    assoc = sender().associate("127.0.0.1", receiver.port, ae_title="RECEIVER")
    assert assoc.is_established
    raw = assoc.dul.socket.socket
    # A P-DATA-TF whose PDV claims more bytes than the PDU holds.
    raw.sendall(struct.pack(">BBL", 0x04, 0, 10) + struct.pack(">L", 500) + b"\x01\x03abcd")
    deadline = time.monotonic() + 10
    while assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.05)
    assert assoc.is_aborted
    again = sender().associate("127.0.0.1", receiver.port, ae_title="RECEIVER")
    try:
        assert again.send_c_store(ds).Status == 0x0000
    finally:
        again.release()
    assert receiver.received == [encoded(ds)]


def test_plain_socket_is_still_served_after_garbage(receiver: Receiver) -> None:
    with socket.create_connection(("127.0.0.1", receiver.port)) as sock:
        sock.sendall(b"\x09\x00\x00\x00\x00\x02zz")  # not a PDU type: the server drops it
    assoc = sender().associate("127.0.0.1", receiver.port, ae_title="RECEIVER")
    try:
        assert assoc.send_c_echo().Status == 0x0000
    finally:
        assoc.release()
