"""Clinicians' signing certificates issued by the hub's CA, and their revocation."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Model, utcnow, value_enum
from hub.models.people import User


class KeyStore(enum.Enum):
    # The private key sits in this row, encrypted with HUB_PKI_PASSPHRASE.
    SOFTWARE = "software"
    # The private key never leaves a PKCS#11 token; ``key_ref`` names it there.
    PKCS11 = "pkcs11"


class SigningCertificate(Model):
    __tablename__ = "signing_certificate"
    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)  # hex, as in the CRL
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    subject: Mapped[str] = mapped_column(String(500))
    # What the certificate binds the key to, copied here so the CRL and the verification page
    # need not parse certificates.
    licence_number: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facility.id"))
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_store: Mapped[KeyStore] = mapped_column(value_enum(KeyStore))
    key_pem: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted PKCS#8
    key_ref: Mapped[str | None] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_via: Mapped[str] = mapped_column(String(32))  # cli | first_signature
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(40))
    user: Mapped[User] = relationship()
