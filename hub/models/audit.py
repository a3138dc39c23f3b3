"""The append-only, hash-chained audit log and its single chain-head row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Model


class AuditEvent(Model):
    __tablename__ = "audit_event"
    # SQLite only auto-increments an INTEGER primary key.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(120), index=True)  # domain:subject:action
    outcome: Mapped[str] = mapped_column(String(16))  # ok | denied | failed
    actor_type: Mapped[str] = mapped_column(String(16))  # user | client | system | link
    actor_id: Mapped[str | None] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # HMAC-SHA256 of ``hash`` under the audit key (not in the database); null before the key.
    mac: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Model):
    """One row holding the chain's tip; locking it serialises appends on every database."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))  # of (seq, hash): the head moved shows
