"""Clinicians' certificates: issue (on demand or at first signature), check, revoke, publish."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import SYSTEM, Principal
from hub.config import Settings
from hub.errors import NotFound, ValidationFailed
from hub.models import KeyStore, Role, SigningCertificate, User, utcnow
from hub.pki import ca, keys
from hub.pki.errors import CertificateRefused, PkiUnavailable
from hub.pki.signer import DocumentSigner, SoftwareSigner

# The role printed in the certificate: the most specific clinical one the person holds.
ROLE_ORDER = (Role.SPECIALIST, Role.RADIOLOGIST, Role.GP, Role.NURSE, Role.CHW, Role.QA_PHYSICIAN)
# RSA rather than ECDSA keys for people: pyHanko marks a PDF signed with a P-256 key as PDF 2.0
# (ISO 32002), which a PDF/A-3 file (based on PDF 1.7) must not claim to be.
KEY_BITS = 2048
REVOCATION_REASONS = (
    "key_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "licence_suspended",
    "unspecified",
)


def authority(settings: Settings) -> ca.Authority:
    return ca.load(settings.pki)


def _role_of(user: User) -> Role:
    for role in ROLE_ORDER:
        if role in user.role_set:
            return role
    raise CertificateRefused(
        "Only clinicians receive signing certificates.",
        details={"roles": sorted(r.value for r in user.role_set)},
    )


def _subject(user: User, role: Role, licence: str) -> x509.Name:
    attrs = [
        x509.NameAttribute(
            NameOID.COUNTRY_NAME, user.facility.region.country.code if user.facility else "IR"
        )
    ]
    if user.facility is not None:
        attrs += [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, user.facility.name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, user.facility.code),
        ]
    attrs += [
        x509.NameAttribute(NameOID.TITLE, role.value),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, licence),
        x509.NameAttribute(NameOID.USER_ID, user.username),
        x509.NameAttribute(NameOID.COMMON_NAME, user.full_name),
    ]
    return x509.Name(attrs)


def issue_for_user(
    session: Session,
    settings: Settings,
    user: User,
    *,
    via: str,
    principal: Principal = SYSTEM,
    licence: str | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> SigningCertificate:
    """Generate a key pair and a certificate bound to the user's licence, role and facility."""
    if licence:
        licence = licence.strip()
        if not 2 <= len(licence) <= 64:
            raise ValidationFailed("A licence number has 2 to 64 characters.")
        user.licence_number = licence
    if not user.licence_number:
        raise CertificateRefused(
            "No licence number is on file for this account, and a signing certificate is bound "
            "to it: an administrator runs `hub pki issue USER --licence NUMBER`.",
            code="licence_missing",
        )
    if not user.is_active:
        raise CertificateRefused("This account is disabled.", code="account_disabled")
    role = _role_of(user)
    passphrase = settings.pki.passphrase
    if not passphrase:
        raise PkiUnavailable("The hub's PKI needs HUB_PKI_PASSPHRASE to issue certificates.")
    auth = authority(settings)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    now = utcnow()
    start = not_before or now - ca.BACKDATE
    end = not_after or now + timedelta(days=settings.pki.cert_days)
    cert = ca.issue(
        auth,
        subject=_subject(user, role, user.licence_number),
        public_key=key.public_key(),
        base_url=settings.base_url,
        not_before=start,
        not_after=end,
    )
    row = SigningCertificate(
        serial=format(cert.serial_number, "x"),
        user_id=user.id,
        subject=cert.subject.rfc4514_string(),
        licence_number=user.licence_number,
        role=role.value,
        facility_id=user.facility_id,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        certificate_der=cert.public_bytes(serialization.Encoding.DER),
        key_store=KeyStore.SOFTWARE,
        key_pem=keys.encrypt_key(key, passphrase),
        issued_via=via,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal,
        "pki:certificate:issued",
        object_type="certificate",
        object_id=row.serial,
        details={"user_id": user.id, "via": via},
    )
    return row


def latest_certificate(session: Session, user_id: int) -> SigningCertificate | None:
    return session.scalar(
        select(SigningCertificate)
        .where(SigningCertificate.user_id == user_id)
        .order_by(SigningCertificate.id.desc())
        .limit(1)
    )


def certificate_for_signing(
    session: Session, settings: Settings, user: User, principal: Principal
) -> SigningCertificate:
    """The user's current certificate, issued now on their first signature.

    A revoked or expired certificate is refused rather than silently replaced: a revocation is a
    decision (licence suspended, key compromised) that only an administrator's new
    ``hub pki issue`` reverses.
    """
    row = latest_certificate(session, user.id)
    if row is None:
        return issue_for_user(session, settings, user, via="first_signature", principal=principal)
    now = utcnow()
    if row.revoked_at is not None:
        raise CertificateRefused(
            f"Your signing certificate {row.serial} was revoked on "
            f"{row.revoked_at:%Y-%m-%d %H:%M} UTC ({row.revocation_reason}); it can no longer "
            "sign. An administrator can issue a new one with `hub pki issue`.",
            code="certificate_revoked",
            details={"serial": row.serial, "revoked_at": row.revoked_at.isoformat()},
        )
    if row.not_after <= now:
        raise CertificateRefused(
            f"Your signing certificate {row.serial} expired on {row.not_after:%Y-%m-%d} UTC; "
            "an administrator can issue a new one with `hub pki issue`.",
            code="certificate_expired",
            details={"serial": row.serial, "not_after": row.not_after.isoformat()},
        )
    if row.not_before > now:
        raise CertificateRefused(
            f"Your signing certificate {row.serial} is not valid yet.",
            code="certificate_not_yet_valid",
        )
    return row


def signer_for(settings: Settings, row: SigningCertificate) -> DocumentSigner:
    """The signer behind a certificate; a PKCS#11 key store plugs in here."""
    if row.key_store is not KeyStore.SOFTWARE or row.key_pem is None:
        raise PkiUnavailable(
            f"The key of certificate {row.serial} is kept in "
            f"{row.key_store.value}, which this hub node cannot reach."
        )
    passphrase = settings.pki.passphrase
    if not passphrase:
        raise PkiUnavailable("The hub's PKI needs HUB_PKI_PASSPHRASE to sign.")
    auth = authority(settings)
    cert = x509.load_der_x509_certificate(row.certificate_der)
    return SoftwareSigner(cert, keys.decrypt_key(row.key_pem, passphrase), auth.chain())


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No account {username!r}.")
    return user


def revoke(
    session: Session, serial: str, reason: str, principal: Principal = SYSTEM
) -> SigningCertificate:
    """Revoke one certificate; it appears on the next CRL and can no longer sign."""
    if reason not in REVOCATION_REASONS:
        raise ValidationFailed(f"reason must be one of {', '.join(REVOCATION_REASONS)}")
    wanted = serial.strip().lower().removeprefix("0x").replace(":", "").lstrip("0") or "0"
    row = session.scalar(select(SigningCertificate).where(SigningCertificate.serial == wanted))
    if row is None:
        raise NotFound(f"No certificate with serial {serial}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.revocation_reason = reason
        session.flush()
        audit.record(
            session,
            principal,
            "pki:certificate:revoked",
            object_type="certificate",
            object_id=row.serial,
            details={"reason": reason, "user_id": row.user_id},
        )
    return row


def revocation_status(session: Session, serial: int) -> tuple[datetime, str] | None:
    """When and why the certificate with this serial was revoked; None when it was not."""
    row = session.scalar(
        select(SigningCertificate).where(SigningCertificate.serial == format(serial, "x"))
    )
    if row is None or row.revoked_at is None:
        return None
    return row.revoked_at, row.revocation_reason or "unspecified"


_crl_cache: dict[str, tuple[tuple[object, ...], bytes, datetime]] = {}
_crl_lock = threading.Lock()


def current_crl(session: Session, settings: Settings) -> bytes:
    """The issuing CA's CRL (DER): re-signed when a revocation happened or hourly."""
    auth = authority(settings)
    revoked = [
        (int(serial, 16), at)
        for serial, at in session.execute(
            select(SigningCertificate.serial, SigningCertificate.revoked_at)
            .where(SigningCertificate.revoked_at.is_not(None))
            .order_by(SigningCertificate.id)
        )
        if at is not None
    ]
    state = tuple(revoked)
    key = str(auth.directory)
    with _crl_lock:
        cached = _crl_cache.get(key)
        if cached and cached[0] == state and cached[2] > utcnow():
            return cached[1]
    data = ca.issuing_crl(auth, revoked)
    with _crl_lock:
        _crl_cache[key] = (state, data, utcnow() + timedelta(hours=1))
    return data
