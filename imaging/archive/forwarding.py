"""Forwarding received instances to the central archive over C-STORE (SEEDS 002).

Each instance has a row in ``dicom_forward`` written in the same transaction as the instance.
A worker leases a batch (urgent studies first), sends it over one association and records each
outcome, renewing its lease while the batch is under way and handing unsent rows back after
``BATCH_SECONDS`` so urgent studies never queue behind a long batch on a slow link. A worker that
dies mid-batch leaves leases that expire; the rows are sent again and counted in ``resent`` (the
archive ignores a SOP Instance UID it already holds, so such a resend is a harmless duplicate).
A refused association or a lost connection backs the rows off and retries them; a status that
says the instance itself is unacceptable fails it permanently, with the reason kept for the
study's page.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from hub import db
from hub.config import ImagingSettings
from hub.models import utcnow
from imaging.archive.central import CentralArchive
from imaging.archive.errors import ArchiveError, ArchiveUnavailable
from imaging.models import ForwardItem, ForwardState, Instance

log = logging.getLogger("imaging.forwarding")
LEASE = timedelta(minutes=5)
# On a slow link (2 Mbit/s: a 200-instance CT batch takes ~7 minutes) a batch outlasts its
# lease; the worker renews it while it makes progress, so no other worker sends those rows too.
RENEW_EVERY = LEASE / 3
# A batch gives its unsent rows back after this long, so an urgent study that arrives while a
# long routine batch crawls over a slow link waits seconds for the next claim, not minutes.
BATCH_SECONDS = 15.0
MAX_BACKOFF = timedelta(minutes=5)
RUN_BUDGET_SECONDS = 50.0
RECORD_EVERY = 25


@dataclass(frozen=True)
class _Item:
    forward_id: int
    path: str | None
    sop_class: str
    transfer_syntax: str
    sop_uid: str
    urgent: bool


def backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=2 ** min(attempts, 9)))


def _claim(factory: sessionmaker[Session], limit: int) -> tuple[str, list[_Item]]:
    token = secrets.token_hex(8)
    with factory() as session, session.begin():
        now = utcnow()
        stmt = (
            select(ForwardItem.id, ForwardItem.leased_until)
            .where(
                ForwardItem.state == ForwardState.PENDING,
                ForwardItem.available_at <= now,
                or_(ForwardItem.leased_until.is_(None), ForwardItem.leased_until < now),
            )
            .order_by(ForwardItem.urgent.desc(), ForwardItem.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Several workers lease side by side without taking the same rows.
            stmt = stmt.with_for_update(skip_locked=True)
        rows = session.execute(stmt).all()
        if not rows:
            return token, []
        ids = [r[0] for r in rows]
        lost = [r[0] for r in rows if r[1] is not None]
        session.execute(
            update(ForwardItem)
            .where(ForwardItem.id.in_(ids))
            .values(leased_until=now + LEASE, lease_token=token, attempts=ForwardItem.attempts + 1)
        )
        if lost:
            # Their previous worker vanished without recording an outcome: it may have sent
            # them already, so this send may be a duplicate.
            session.execute(
                update(ForwardItem)
                .where(ForwardItem.id.in_(lost))
                .values(resent=ForwardItem.resent + 1)
            )
        details = session.execute(
            select(
                ForwardItem.id,
                Instance.path,
                Instance.sop_class_uid,
                Instance.transfer_syntax_uid,
                Instance.sop_instance_uid,
                ForwardItem.urgent,
            )
            .join(Instance, Instance.id == ForwardItem.instance_id)
            .where(ForwardItem.id.in_(ids))
            .order_by(ForwardItem.urgent.desc(), ForwardItem.id)
        ).all()
    return token, [_Item(*row) for row in details]


class _Recorder:
    """Writes outcomes in small groups, only for rows this worker still leases."""

    def __init__(self, factory: sessionmaker[Session], token: str) -> None:
        self.factory = factory
        self.token = token
        self.sent: list[int] = []
        self.failed: list[tuple[int, str]] = []
        self.retry: list[tuple[int, str]] = []
        self.returned: list[int] = []  # unsent, handed back for the next claim without delay
        self.delivered = 0
        self.renewed = time.monotonic()

    def keep_lease(self) -> None:
        """Extend the lease of this worker's unfinished rows when it is due for renewal."""
        if time.monotonic() - self.renewed < RENEW_EVERY.total_seconds():
            return
        self.flush()
        with self.factory() as session, session.begin():
            session.execute(
                update(ForwardItem)
                .where(ForwardItem.lease_token == self.token)
                .values(leased_until=utcnow() + LEASE)
            )
        self.renewed = time.monotonic()

    def flush(self) -> None:
        if not (self.sent or self.failed or self.retry or self.returned):
            return
        with self.factory() as session, session.begin():
            now = utcnow()
            mine = ForwardItem.lease_token == self.token
            if self.sent:
                session.execute(
                    update(ForwardItem)
                    .where(ForwardItem.id.in_(self.sent), mine)
                    .values(
                        state=ForwardState.SENT,
                        sent_at=now,
                        leased_until=None,
                        lease_token=None,
                        last_error=None,
                    )
                )
            for forward_id, reason in self.failed:
                session.execute(
                    update(ForwardItem)
                    .where(ForwardItem.id == forward_id, mine)
                    .values(
                        state=ForwardState.FAILED,
                        leased_until=None,
                        lease_token=None,
                        last_error=reason[:2000],
                    )
                )
            if self.returned:
                session.execute(
                    update(ForwardItem)
                    .where(ForwardItem.id.in_(self.returned), mine)
                    # Not tried, so not an attempt (attempts set the backoff).
                    .values(leased_until=None, lease_token=None, attempts=ForwardItem.attempts - 1)
                )
            for forward_id, reason in self.retry:
                row = session.get(ForwardItem, forward_id)
                if row is None or row.lease_token != self.token:
                    continue
                row.available_at = now + backoff(row.attempts)
                row.leased_until, row.lease_token = None, None
                row.last_error = reason[:2000]
        self.delivered += len(self.sent)
        self.sent, self.failed, self.retry, self.returned = [], [], [], []


def send_batch(
    archive: CentralArchive, settings: ImagingSettings, items: list[_Item], recorder: _Recorder
) -> None:
    """Send ``items`` over one association; every item ends sent, failed or to retry.

    Raises :class:`ArchiveUnavailable` when the archive stops taking instances.
    """
    assert settings.storage_dir is not None
    contexts: dict[str, set[str]] = {}
    for item in items:
        contexts.setdefault(item.sop_class, set()).add(item.transfer_syntax)
    pairs = [(cls, ts) for cls, syntaxes in contexts.items() for ts in sorted(syntaxes)]
    try:
        connection = archive.store(pairs)
    except ArchiveUnavailable as exc:
        for item in items:
            recorder.retry.append((item.forward_id, str(exc)))
        recorder.flush()
        raise
    ends_at = time.monotonic() + BATCH_SECONDS
    with connection:
        try:
            for index, item in enumerate(items):
                if index and time.monotonic() > ends_at:
                    recorder.returned.extend(rest.forward_id for rest in items[index:])
                    break
                if not connection.established:
                    for rest in items[index:]:
                        recorder.retry.append((rest.forward_id, "connection lost"))
                    raise ArchiveUnavailable("connection lost")
                if item.path is None:
                    recorder.failed.append((item.forward_id, "the file was deleted (retention)"))
                    continue
                path = Path(settings.storage_dir) / item.path
                if not path.exists():
                    recorder.failed.append((item.forward_id, "the stored file is missing"))
                    continue
                if not connection.accepts(item.sop_class, item.transfer_syntax):
                    recorder.failed.append(
                        (
                            item.forward_id,
                            "the archive accepts no context for "
                            f"{item.sop_class} in {item.transfer_syntax}",
                        )
                    )
                    continue
                try:
                    refused = connection.send(
                        path,
                        item.sop_class,
                        item.sop_uid,
                        item.transfer_syntax,
                        index + 1,
                        urgent=item.urgent,
                    )
                except ArchiveUnavailable as exc:
                    # The archive went away or stopped answering while this one was sent.
                    # Handed back for a retry now: left leased, the rest of the batch would
                    # wait for its lease to run out (minutes) before anyone sent it again.
                    # Resending is harmless: the archive keeps one copy per SOP Instance UID.
                    for rest in items[index:]:
                        recorder.retry.append((rest.forward_id, str(exc)))
                    raise
                if refused is None:
                    recorder.sent.append(item.forward_id)
                elif refused.permanent:
                    recorder.failed.append((item.forward_id, str(refused)))
                else:
                    recorder.retry.append((item.forward_id, str(refused)))
                if len(recorder.sent) + len(recorder.failed) + len(recorder.retry) >= RECORD_EVERY:
                    recorder.flush()
                recorder.keep_lease()
        finally:
            recorder.flush()


def drain(app: Flask, settings: ImagingSettings, budget_seconds: float = RUN_BUDGET_SECONDS) -> int:
    """Forward due instances until none are left, the archive fails, or the budget is spent."""
    if settings.central_pacs is None:
        return 0
    archive = CentralArchive.from_settings(settings)
    factory = db.get_db(app).session_factory
    assert factory is not None
    deadline = time.monotonic() + budget_seconds
    delivered = 0
    while time.monotonic() < deadline:
        token, items = _claim(factory, settings.forward_batch)
        if not items:
            break
        recorder = _Recorder(factory, token)
        try:
            send_batch(archive, settings, items, recorder)
        except ArchiveError as exc:
            delivered += recorder.delivered
            log.warning("forwarding to %s paused: %s", settings.central_pacs, exc)
            break
        except Exception as exc:
            # Unknown trouble: leases expire and the rows are retried; never lose them.
            delivered += recorder.delivered
            log.error("forwarding to %s failed: %s", settings.central_pacs, type(exc).__name__)
            break
        delivered += recorder.delivered
    return delivered


@dataclass(frozen=True)
class StudyForwarding:
    status: str  # not_configured | received | forwarding | forwarded | failed
    total: int
    sent: int
    pending: int
    failed: int
    resent: int
    reason: str | None

    @property
    def forwarded(self) -> int:
        return self.sent


def study_status(session: Session, study_id: int, configured: bool) -> StudyForwarding:
    """Forwarding status of one study, from its instances' outbox rows."""
    row = session.execute(
        select(
            func.count(ForwardItem.id),
            func.sum(case((ForwardItem.state == ForwardState.SENT, 1), else_=0)),
            func.sum(case((ForwardItem.state == ForwardState.FAILED, 1), else_=0)),
            func.sum(case((ForwardItem.attempts > 0, 1), else_=0)),
            func.coalesce(func.sum(ForwardItem.resent), 0),
        ).where(ForwardItem.study_id == study_id)
    ).one()
    total, sent, failed, tried, resent = (int(v or 0) for v in row)
    pending = total - sent - failed
    reason = session.scalar(
        select(ForwardItem.last_error)
        .where(ForwardItem.study_id == study_id, ForwardItem.last_error.is_not(None))
        .order_by(
            case((ForwardItem.state == ForwardState.FAILED, 0), else_=1), ForwardItem.id.desc()
        )
        .limit(1)
    )
    if total == 0:
        status = "not_configured" if not configured else "received"
    elif failed:
        status = "failed"
    elif pending == 0:
        status = "forwarded"
    elif tried or sent:
        status = "forwarding"
    else:
        status = "received"
    return StudyForwarding(
        status,
        total,
        sent,
        pending,
        failed,
        resent,
        reason if status in {"failed", "forwarding"} else None,
    )
