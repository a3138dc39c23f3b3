"""Signed documents (consult outcome, e-prescription, imaging report, ...) and their revisions.

A revision is never changed: a countersignature is a new revision whose PDF starts with the bytes
of the previous one (a PDF incremental update), so every signed state stays retrievable.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Model, utcnow, value_enum
from hub.models.people import User
from hub.models.pki import SigningCertificate


class DocumentStatus(enum.Enum):
    CERTIFIED = "certified"  # signed by its author (certification signature)
    COUNTERSIGNED = "countersigned"  # and by the other side


class SignedDocument(Model):
    __tablename__ = "signed_document"
    __table_args__ = (UniqueConstraint("kind", "subject_type", "subject_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # in the QR code's URL
    kind: Mapped[str] = mapped_column(String(40))  # a code of hub.documents.registry
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int]
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    locale: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]]
    payload_sha256: Mapped[str] = mapped_column(String(64))
    jws: Mapped[str] = mapped_column(Text)  # detached compact JWS of the canonical payload
    status: Mapped[DocumentStatus] = mapped_column(value_enum(DocumentStatus))
    certified_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    certified_at: Mapped[datetime]
    certificate_id: Mapped[int] = mapped_column(ForeignKey("signing_certificate.id"))
    countersigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    countersigned_at: Mapped[datetime | None]
    countersign_certificate_id: Mapped[int | None] = mapped_column(
        ForeignKey("signing_certificate.id")
    )
    retain_until: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    certified_by: Mapped[User] = relationship(foreign_keys=[certified_by_id])
    countersigned_by: Mapped[User | None] = relationship(foreign_keys=[countersigned_by_id])
    certificate: Mapped[SigningCertificate] = relationship(foreign_keys=[certificate_id])
    revisions: Mapped[list[DocumentRevision]] = relationship(
        back_populates="document", order_by="DocumentRevision.seq"
    )


class DocumentRevision(Model):
    __tablename__ = "signed_document_revision"
    __table_args__ = (UniqueConstraint("document_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("signed_document.id"), index=True)
    seq: Mapped[int]
    field_name: Mapped[str] = mapped_column(String(40))
    signer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    document: Mapped[SignedDocument] = relationship(back_populates="revisions")
