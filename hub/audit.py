"""Append-only, hash-chained audit log of every read and change of patient data.

Each event's hash covers its own fields and the previous event's hash, so altering or deleting any
row breaks the chain at that row; the chain head row catches deletions at the tail.

A hash chain alone can be recomputed by whoever can write the database, so each event and the
head also carry an HMAC under the audit key (``HUB_AUDIT_KEY``/``_FILE``), which is not in the
database: rewriting an event and every later hash, or moving the head back over a truncated
tail, leaves MACs that no longer match. Signed checkpoints kept outside the database
(``hub.audit_checkpoints``) anchor the chain's length and tip against a full rewrite.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from hub import db
from hub.auth.principal import Principal
from hub.models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64
# The audit key of this process (``configure``, from the settings, when the app is built).
_key: bytes | None = None


def configure(key: bytes | None) -> None:
    """Key every event sealed from now on in this process."""
    global _key
    _key = key


def configured_key() -> bytes | None:
    return _key


def event_mac(key: bytes, digest: str) -> str:
    return hmac.new(key, b"event:" + digest.encode("ascii"), hashlib.sha256).hexdigest()


def head_mac(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"head:{seq}:{digest}".encode("ascii"), hashlib.sha256).hexdigest()


ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
OUTCOMES = frozenset({"ok", "denied", "failed"})


def _digest(
    seq: int,
    occurred_at: datetime,
    action: str,
    outcome: str,
    actor_type: str,
    actor_id: str | None,
    object_type: str | None,
    object_id: str | None,
    request_id: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        [
            seq,
            occurred_at.isoformat(timespec="microseconds"),
            action,
            outcome,
            actor_type,
            actor_id,
            object_type,
            object_id,
            request_id,
            details,
            prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def digest_of(ev: AuditEvent, prev_hash: str) -> str:
    """The hash a stored event must carry when it follows ``prev_hash``."""
    return _digest(
        ev.seq,
        ev.occurred_at,
        ev.action,
        ev.outcome,
        ev.actor_type,
        ev.actor_id,
        ev.object_type,
        ev.object_id,
        ev.request_id,
        ev.details,
        prev_hash,
    )


def record(
    session: Session,
    principal: Principal,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    """Append one event to the caller's transaction: it is written when that transaction
    commits, and dropped if the change it describes rolls back.

    ``details`` must hold identifiers and codes only, never names or clinical text.
    """
    if not ACTION_PATTERN.match(action):
        raise ValueError(f"audit action {action!r} is not domain:subject:action")
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {outcome!r} is not one of {sorted(OUTCOMES)}")
    if request_id is None:
        request_id = _current_request_id()
    _pending.add(
        session,
        {
            "occurred_at": utcnow(),
            "action": action,
            "outcome": outcome,
            "actor_type": principal.kind,
            "actor_id": principal.actor_id,
            "object_type": object_type,
            "object_id": None if object_id is None else str(object_id),
            "request_id": request_id,
            "details": json.loads(json.dumps(details or {}, default=str)),
        },
    )


_BUMP_HEAD = (
    update(AuditHead)
    .where(AuditHead.id == 1)
    .values(seq=AuditHead.seq + bindparam("count"))
    .returning(AuditHead.seq, AuditHead.hash)
)
_SET_HEAD = (
    update(AuditHead)
    .where(AuditHead.id == 1)
    .values(hash=bindparam("head"), mac=bindparam("head_mac"))
)
_COLUMNS = (
    "seq bigint, occurred_at timestamptz, action varchar, outcome varchar, actor_type varchar, "
    "actor_id varchar, object_type varchar, object_id varchar, request_id varchar, "
    "details json, prev_hash varchar, hash varchar, mac varchar"
)
_NAMES = ", ".join(c.split()[0] for c in _COLUMNS.split(", "))
# The events and the new head in one statement: one round trip less while the head's lock is
# held (PostgreSQL runs a data-modifying WITH whether or not it is read). The events travel as
# one JSON parameter, so the statement is the same text whatever their number and is compiled
# and prepared once, where a multi-row VALUES is compiled again for every transaction.
_SEAL_PG = text(
    f"WITH sealed AS (INSERT INTO audit_event ({_NAMES}) SELECT {_NAMES} "  # noqa: S608
    f"FROM json_to_recordset(CAST(:events AS json)) AS e({_COLUMNS}) RETURNING seq) "
    "UPDATE audit_head SET hash = :head, mac = :head_mac WHERE id = 1"
)


def _as_json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "occurred_at": row["occurred_at"].astimezone(UTC).isoformat()}


def _seal(session: Session, events: list[dict[str, Any]]) -> None:
    """Chain the transaction's events onto the head, just before it commits.

    Bumping the head takes its row lock (PostgreSQL) or the write lock (SQLite), so concurrent
    transactions queue here instead of forking the chain. Doing it at the very end holds that
    lock for the commit only, not for the whole request: the log is one global order, and a
    lock held from a request's first event would serialise every write of the hub.
    """
    last_seq, prev_hash = session.execute(_BUMP_HEAD, {"count": len(events)}).one()
    key = _key
    rows = []
    for seq, fields in enumerate(events, start=last_seq - len(events) + 1):
        digest = _digest(seq=seq, prev_hash=prev_hash, **fields)
        mac = event_mac(key, digest) if key is not None else None
        rows.append({"seq": seq, "prev_hash": prev_hash, "hash": digest, "mac": mac, **fields})
        prev_hash = digest
    params = {"head": prev_hash, "head_mac": head_mac(key, last_seq, prev_hash) if key else None}
    if session.connection().dialect.name == "postgresql":
        payload = json.dumps([_as_json(r) for r in rows], ensure_ascii=False)
        session.execute(_SEAL_PG, {"events": payload, **params})
    else:
        session.execute(insert(AuditEvent), rows)
        session.execute(_SET_HEAD, params)


# Events are kept with the session until its outermost transaction commits (dropped with a
# rolled-back SAVEPOINT or transaction, as the change they describe).
_pending: db.AtCommit[dict[str, Any]] = db.AtCommit("hub.audit.pending", _seal)


def _current_request_id() -> str | None:

    if has_request_context():
        return g.get("request_id")
    return None


def _mac_matches(stored: str | None, expected: str) -> bool:
    return stored is not None and hmac.compare_digest(stored, expected)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    keyed: int = 0  # events whose MAC was checked
    checkpoints: int = 0  # checkpoints the chain was held against


@dataclass(frozen=True)
class Anchor:
    """A point of the chain recorded outside the database (a signed checkpoint)."""

    seq: int
    hash: str
    name: str  # where it came from, for the report


def verify(
    session: Session,
    batch: int = 5000,
    *,
    key: bytes | None = None,
    anchors: list[Anchor] | None = None,
) -> VerifyResult:
    """Walk the whole chain in order; report the first event whose hash, link or MAC is wrong,
    or where it departs from a checkpoint.

    Without ``key`` the MACs are not checked (only someone without the key could be fooled).
    Events without a MAC are accepted only before the first keyed one (written before the key
    existed); a later one was rewritten by someone without the key.
    """
    by_seq = {a.seq: a for a in anchors or []}
    prev_hash = GENESIS
    expected_seq = 1
    checked = keyed = 0
    seen_keyed = False

    def broken(seq: int | None, reason: str) -> VerifyResult:
        return VerifyResult(False, checked, seq, reason, keyed, len(by_seq))

    while True:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq >= expected_seq)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            if ev.seq != expected_seq:
                return broken(
                    expected_seq, f"event {expected_seq} is missing (next present is {ev.seq})"
                )
            if ev.prev_hash != prev_hash:
                return broken(ev.seq, f"event {ev.seq} does not link to event {ev.seq - 1}")
            digest = digest_of(ev, ev.prev_hash)
            if digest != ev.hash:
                return broken(ev.seq, f"event {ev.seq} was altered (its hash does not match)")
            if ev.mac is None:
                if seen_keyed:
                    return broken(
                        ev.seq, f"event {ev.seq} has no MAC after keyed events: it was rewritten"
                    )
            else:
                seen_keyed = True
                if key is not None:
                    if not hmac.compare_digest(ev.mac, event_mac(key, ev.hash)):
                        return broken(
                            ev.seq,
                            f"event {ev.seq}'s MAC does not match: it was rewritten without "
                            "the audit key",
                        )
                    keyed += 1
            anchor = by_seq.get(ev.seq)
            if anchor is not None and anchor.hash != ev.hash:
                return broken(
                    ev.seq,
                    f"event {ev.seq} differs from checkpoint {anchor.name}: the chain was "
                    "rewritten from there or earlier",
                )
            prev_hash = ev.hash
            expected_seq += 1
            checked += 1
        session.expunge_all()
    beyond = [a for a in by_seq.values() if a.seq > checked]
    if beyond:
        first = min(beyond, key=lambda a: a.seq)
        return broken(
            checked + 1,
            f"the chain ends at event {checked} but checkpoint {first.name} recorded event "
            f"{first.seq}: events after {checked} were deleted",
        )
    head = session.get(AuditHead, 1)
    if head is None:
        return broken(None, "the chain head row is missing")
    if head.seq != checked or head.hash != prev_hash:
        return broken(
            checked + 1,
            f"the chain ends at event {checked} but the head records "
            f"{head.seq}: events after {checked} were deleted",
        )
    head_ok = (
        key is None or not seen_keyed or _mac_matches(head.mac, head_mac(key, head.seq, head.hash))
    )
    if not head_ok:
        return broken(
            checked + 1,
            "the chain head's MAC does not match: the head was moved (a truncated tail)",
        )
    return VerifyResult(True, checked, keyed=keyed, checkpoints=len(by_seq))
