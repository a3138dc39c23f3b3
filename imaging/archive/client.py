"""A client of an outside DICOM archive, shared by every archive the hub talks to (the central
PACS today, the national dose node later): C-STORE, C-FIND and C-GET as a calling AE title,
and deletion through the archive's Orthanc-compatible REST API (DICOM has no delete).

Every failure is an :class:`ArchiveUnavailable` (retrying may help) or an
:class:`ArchiveRefused` (it will not). The archive's address comes parsed from the settings
(``hub.config.env_dicom_peer`` reads any ``dicom://AET@host:port`` variable).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, StoragePresentationContexts, build_role, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)

from hub.config import DicomPeer
from imaging.archive.errors import ArchiveError, ArchiveRefused, ArchiveUnavailable
from imaging.dicom import sender
from imaging.dicom.transport import set_nodelay
from imaging.dicom.transport import tune as tune_transport
from imaging.storage import IMPLEMENTATION_CLASS_UID

SUCCESS, CANNOT_UNDERSTAND = 0x0000, 0xC000
PENDING = (0xFF00, 0xFF01)
_OUT_OF_RESOURCES = (0xA700, 0xA7FF)  # the archive may recover
_STORE_WARNINGS = frozenset({0xB000, 0xB006, 0xB007, 0x0001})
_GET_DONE = frozenset({SUCCESS, 0xFF00, 0xB000})  # 0xB000: some sub-operations failed
# One presentation context is the C-GET itself; the rest carry the archive's C-STOREs.
STORAGE_CLASSES: list[str] = [
    str(cx.abstract_syntax) for cx in StoragePresentationContexts[:127] if cx.abstract_syntax
]
MAX_CONTEXTS = 128
REST_TIMEOUT = 30


@dataclass(frozen=True)
class Timeouts:
    """Seconds for association set-up, each DIMSE answer, and network silence."""

    acse: float
    dimse: float
    network: float


STORE_TIMEOUTS = Timeouts(30, 60, 60)
FIND_TIMEOUTS = Timeouts(15, 30, 30)
GET_TIMEOUTS = Timeouts(15, 120, 120)

# (SOP class, SOP instance UID, transfer syntax, dataset bytes) -> the C-STORE status to answer.
InstanceHandler = Callable[[str, str, str, bytes], int]


def _status_of(result: Any) -> int | None:
    status = getattr(result, "Status", None)
    return int(status) if status is not None else None


def _retryable(status: int) -> bool:
    return _OUT_OF_RESOURCES[0] <= status <= _OUT_OF_RESOURCES[1]


class StoreAssociation:
    """An association open for C-STORE; ``with`` it to send, then it is released."""

    def __init__(self, assoc: Association) -> None:
        self._assoc = assoc
        self._contexts = {
            (str(cx.abstract_syntax), str(cx.transfer_syntax[0])): int(cx.context_id or 0)
            for cx in assoc.accepted_contexts
        }
        self._paused = sender.reactor_paused(assoc)

    def __enter__(self) -> StoreAssociation:
        self._paused.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._paused.__exit__(kind, exc, tb)
        finally:
            if self._assoc.is_established:
                self._assoc.release()
            else:
                self._assoc.abort()

    @property
    def established(self) -> bool:
        return bool(self._assoc.is_established)

    def accepts(self, sop_class: str, transfer_syntax: str) -> bool:
        return (sop_class, transfer_syntax) in self._contexts

    def send(
        self,
        path: Path,
        sop_class: str,
        sop_uid: str,
        transfer_syntax: str,
        message_id: int,
        *,
        urgent: bool = False,
    ) -> ArchiveError | None:
        """Send one stored file exactly as stored; None once the archive has it, else why this
        instance was not taken (retryable or permanent, for it alone).

        Raises :class:`ArchiveUnavailable` when the association itself is lost.
        """
        try:
            result = sender.store_file(
                self._assoc,
                path,
                self._contexts[(sop_class, transfer_syntax)],
                sop_class,
                sop_uid,
                message_id,
                sender.PRIORITY_HIGH if urgent else sender.PRIORITY_MEDIUM,
            )
        except ConnectionError as exc:  # store_file's every socket error
            raise ArchiveUnavailable("connection lost") from exc
        status = _status_of(result)
        if status is None:
            # No answer: timeout or aborted association.
            raise ArchiveUnavailable("no response from the archive")
        if status == SUCCESS or status in _STORE_WARNINGS:
            return None
        if _retryable(status):
            return ArchiveUnavailable(f"archive status 0x{status:04X}")
        comment = str(getattr(result, "ErrorComment", "") or "")
        return ArchiveRefused(f"archive refused it: status 0x{status:04X} {comment}".strip())


class ArchiveClient:
    """One outside archive: its DICOM address, the AE title the hub calls it as, and the base
    URL of its REST API (only deletion needs it)."""

    name = "archive"  # as messages name it: "The archive cannot be reached now."

    def __init__(self, peer: DicomPeer | None, calling_ae: str, rest_url: str | None = None):
        self.peer = peer
        self.calling_ae = calling_ae
        self.rest_url = rest_url.rstrip("/") if rest_url else None

    # --- DICOM -------------------------------------------------------------------------------

    def _associate(
        self,
        contexts: Iterable[str | tuple[str, str]],
        timeouts: Timeouts,
        *,
        terse: bool = False,
        ext_neg: list[Any] | None = None,
        handlers: Iterable[tuple[Any, Any]] = (),
    ) -> Association:
        if self.peer is None:
            raise ArchiveRefused(f"No DICOM address is configured for the {self.name}.")
        ae = AE(ae_title=self.calling_ae)
        ae.implementation_class_uid = IMPLEMENTATION_CLASS_UID
        ae.acse_timeout, ae.dimse_timeout = timeouts.acse, timeouts.dimse
        ae.network_timeout = timeouts.network
        for context in contexts:
            if isinstance(context, tuple):
                ae.add_requested_context(*context)
            else:
                ae.add_requested_context(context)
        assoc = ae.associate(
            self.peer.host,
            self.peer.port,
            ae_title=self.peer.ae_title,
            ext_neg=ext_neg,
            evt_handlers=[(evt.EVT_CONN_OPEN, set_nodelay), *handlers],
        )
        if not assoc.is_established:
            if terse:  # a reason kept per instance, shown on the study's page
                raise ArchiveUnavailable(
                    "association rejected" if assoc.is_rejected else "archive unreachable"
                )
            raise ArchiveUnavailable(f"The {self.name} cannot be reached now.")
        return assoc

    def store(self, contexts: list[tuple[str, str]]) -> StoreAssociation:
        """An association for C-STORE of these (SOP class, transfer syntax) pairs (the first
        128), each dataset sent with the transfer syntax it was stored in."""
        tune_transport()
        return StoreAssociation(
            self._associate(contexts[:MAX_CONTEXTS], STORE_TIMEOUTS, terse=True)
        )

    def find(
        self, identifiers: Iterable[Dataset], timeouts: Timeouts = FIND_TIMEOUTS
    ) -> list[Dataset]:
        """Study-root C-FIND of each identifier over one association; every answer, in order."""
        assoc = self._associate([StudyRootQueryRetrieveInformationModelFind], timeouts)
        answers: list[Dataset] = []
        try:
            for identifier in identifiers:
                for status, answer in assoc.send_c_find(
                    identifier, StudyRootQueryRetrieveInformationModelFind
                ):
                    code = int(getattr(status, "Status", CANNOT_UNDERSTAND))
                    if code in PENDING and answer is not None:
                        answers.append(answer)
                    elif code not in (SUCCESS, *PENDING):
                        raise self._failed(code, f"The {self.name} refused the query.")
        finally:
            if assoc.is_established:
                assoc.release()
        return answers

    def get(self, identifier: Dataset, on_instance: InstanceHandler) -> None:
        """Study-root C-GET: the hub acts as storage SCP for the archive's sub-operations, and
        each instance sent goes to ``on_instance``, whose answer is its C-STORE status."""

        def on_store(event: evt.Event) -> int:
            request: Any = event.request
            return on_instance(
                str(request.AffectedSOPClassUID),
                str(request.AffectedSOPInstanceUID),
                str(event.context.transfer_syntax),
                event.encoded_dataset(include_meta=False),
            )

        # We act as the storage SCP for the archive's sub-operations (C-GET needs no move target).
        roles: list[Any] = [build_role(uid, scp_role=True) for uid in STORAGE_CLASSES]
        assoc = self._associate(
            [StudyRootQueryRetrieveInformationModelGet, *STORAGE_CLASSES],
            GET_TIMEOUTS,
            ext_neg=roles,
            handlers=[(evt.EVT_C_STORE, on_store)],
        )
        try:
            for status, _identifier in assoc.send_c_get(
                identifier, StudyRootQueryRetrieveInformationModelGet
            ):
                code = int(getattr(status, "Status", CANNOT_UNDERSTAND))
                if code not in _GET_DONE:
                    raise self._failed(code, f"The {self.name} could not send the study.")
        finally:
            if assoc.is_established:
                assoc.release()

    @staticmethod
    def _failed(status: int, message: str) -> ArchiveError:
        return ArchiveUnavailable(message) if _retryable(status) else ArchiveRefused(message)

    # --- REST --------------------------------------------------------------------------------

    def _rest(self, method: str, path: str, body: bytes | None = None) -> Any:
        if self.rest_url is None:
            raise ArchiveRefused(f"No REST address is configured for the {self.name}.")
        request = urllib.request.Request(  # noqa: S310 (http/https checked by the settings)
            self.rest_url + path, data=body, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=REST_TIMEOUT) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code >= 500 or exc.code == 429:
                raise ArchiveUnavailable(f"archive answered {exc.code}") from None
            raise ArchiveRefused(f"archive refused {method}: {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ArchiveUnavailable(f"archive unreachable ({type(exc).__name__})") from None
        return json.loads(raw) if raw else None

    def delete(self, sop_instance_uid: str) -> bool:
        """Delete the instance if the archive holds it; True when something was deleted."""
        found = self._rest("POST", "/tools/lookup", sop_instance_uid.encode("ascii")) or []
        deleted = False
        for match in found:
            if match.get("Type") == "Instance":
                ident = urllib.parse.quote(str(match["ID"]), safe="")
                self._rest("DELETE", f"/instances/{ident}")
                deleted = True
        return deleted
