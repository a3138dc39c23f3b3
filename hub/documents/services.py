"""Signing documents of any registered kind: certify, countersign, fetch, verify.

Domain packages decide *who* may sign *what* (and audit it); this module renders, signs, stores
and verifies. A stored revision is never changed (retention: 10 years, SEEDS 000/001).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents import pdfsign, render
from hub.documents.registry import DocumentKind
from hub.documents.text import Labels
from hub.documents.verify import Report, verify_pdf
from hub.errors import Conflict
from hub.models import (
    DocumentRevision,
    DocumentStatus,
    SignedDocument,
    User,
    utcnow,
)
from hub.pki import ca
from hub.pki import services as pki
from hub.pki.signer import to_asn1
from hub.pki.tsa import timestamper


def verify_url(settings: Settings, public_id: str) -> str:
    return f"{settings.base_url.rstrip('/')}/verify/{public_id}"


@dataclass(frozen=True)
class Content:
    """What a domain supplies for one document: template context, JSON data, wording."""

    context: dict[str, Any]
    payload: dict[str, Any]
    labels: Labels
    patient_id: int | None
    location: str  # the signing place printed in the signature (facility name)


def find(session: Session, kind: DocumentKind, subject_id: int) -> SignedDocument | None:
    return session.scalar(
        select(SignedDocument).where(
            SignedDocument.kind == kind.code,
            SignedDocument.subject_type == kind.subject_type,
            SignedDocument.subject_id == subject_id,
        )
    )


def latest_revision(session: Session, document: SignedDocument) -> DocumentRevision:
    row = session.scalar(
        select(DocumentRevision)
        .where(DocumentRevision.document_id == document.id)
        .order_by(DocumentRevision.seq.desc())
        .limit(1)
    )
    assert row is not None, "a signed document always has its first revision"
    return row


def render_draft(kind: DocumentKind, content: Content, locale: str) -> bytes:
    """An unsigned preview, marked as a draft and without a verification code."""
    now = utcnow()
    return render.render(
        kind,
        locale=locale,
        context=content.context,
        payload=render.canonical_json(content.payload),
        verify_url=None,
        labels=content.labels,
        issued_at=now,
        document_id=None,
    ).pdf


def stored_or_draft(
    session: Session,
    kind: DocumentKind,
    subject_id: int,
    draft: Callable[[], tuple[Content, str]],
) -> tuple[bytes, SignedDocument | None]:
    """The signed PDF as stored (latest revision) and its document, or, when it is not signed
    yet, a draft rendered from what ``draft()`` supplies (content, locale) and None."""
    doc = find(session, kind, subject_id)
    if doc is not None:
        return latest_revision(session, doc).pdf, doc
    content, locale = draft()
    return render_draft(kind, content, locale), None


def certify(
    session: Session,
    settings: Settings,
    principal: Principal,
    kind: DocumentKind,
    subject_id: int,
    *,
    author: User,
    content: Content,
    locale: str,
) -> SignedDocument:
    """Render and sign as the author; refuses (409) when this document was already signed."""
    if find(session, kind, subject_id) is not None:
        raise Conflict(
            "This document is already signed; a signed document never changes.",
            code="already_signed",
            details={"kind": kind.code},
        )
    cert_row = pki.certificate_for_signing(session, settings, author, principal)
    signer = pki.signer_for(settings, cert_row)
    authority = pki.authority(settings)
    public_id = uuid.uuid4().hex
    url = verify_url(settings, public_id)
    now = utcnow()
    payload = {
        "document": {
            "id": public_id,
            "kind": kind.code,
            "locale": locale,
            "issued_at": now.isoformat(),
            "verify_url": url,
        },
        **content.payload,
    }
    canonical = render.canonical_json(payload)
    rendered = render.render(
        kind,
        locale=locale,
        context=content.context,
        payload=canonical,
        verify_url=url,
        labels=content.labels,
        issued_at=now,
        document_id=public_id,
    )
    page, box = rendered.slots[kind.author.field]
    empty = (
        [(kind.countersigner.field, *rendered.slots[kind.countersigner.field])]
        if kind.countersigner
        else []
    )
    pdf = pdfsign.certify(
        rendered.pdf,
        signer=signer,
        timestamper=timestamper(authority, settings.pki.tsa_url),
        field=kind.author.field,
        page=page,
        box=box,
        empty_fields=empty,
        reason=f"Author of {kind.code}",
        location=content.location,
    )
    document = SignedDocument(
        public_id=public_id,
        kind=kind.code,
        subject_type=kind.subject_type,
        subject_id=subject_id,
        patient_id=content.patient_id,
        locale=locale,
        payload=payload,
        payload_sha256=hashlib.sha256(canonical).hexdigest(),
        jws=signer.detached_jws(canonical),
        status=DocumentStatus.CERTIFIED,
        certified_by_id=author.id,
        certified_at=now,
        certificate_id=cert_row.id,
        retain_until=now + timedelta(days=366 * kind.retention_years),
    )
    try:
        with session.begin_nested():
            session.add(document)
            session.flush()
    except IntegrityError:
        # Two signing requests raced; the first one's document stands.
        raise Conflict("This document is already signed.", code="already_signed") from None
    _add_revision(session, document, pdf, kind.author.field, author.id)
    return document


def countersign(
    session: Session,
    settings: Settings,
    principal: Principal,
    kind: DocumentKind,
    document: SignedDocument,
    *,
    signer_user: User,
    location: str,
) -> SignedDocument:
    """Add the other side's signature to the certified PDF as an incremental update."""
    if kind.countersigner is None:
        raise Conflict("This kind of document has no countersignature.", code="no_countersignature")
    if document.status is DocumentStatus.COUNTERSIGNED:
        raise Conflict("This document is already countersigned.", code="already_countersigned")
    cert_row = pki.certificate_for_signing(session, settings, signer_user, principal)
    signer = pki.signer_for(settings, cert_row)
    authority = pki.authority(settings)
    previous = latest_revision(session, document)
    pdf = pdfsign.countersign(
        previous.pdf,
        signer=signer,
        timestamper=timestamper(authority, settings.pki.tsa_url),
        field=kind.countersigner.field,
        reason=f"Countersignature of {kind.code}",
        location=location,
    )
    document.status = DocumentStatus.COUNTERSIGNED
    document.countersigned_by_id = signer_user.id
    document.countersigned_at = utcnow()
    document.countersign_certificate_id = cert_row.id
    _add_revision(session, document, pdf, kind.countersigner.field, signer_user.id)
    return document


def _add_revision(
    session: Session, document: SignedDocument, pdf: bytes, field: str, signer_id: int
) -> DocumentRevision:
    seq = len(document.revisions) + 1
    row = DocumentRevision(
        document_id=document.id,
        seq=seq,
        field_name=field,
        signer_id=signer_id,
        pdf=pdf,
        sha256=hashlib.sha256(pdf).hexdigest(),
        size=len(pdf),
    )
    session.add(row)
    session.flush()
    session.expire(document, ["revisions"])
    return row


def verify_bytes(session: Session | None, settings: Settings, data: bytes) -> Report:
    """Verify a PDF against the hub's root; revocation from the certificate table."""

    roots = []
    others = []
    if ca.is_initialised(settings.pki):
        authority = ca.load(settings.pki)
        roots = [to_asn1(authority.root)]
        others = [to_asn1(authority.issuing), to_asn1(authority.tsa)]

    def lookup(serial: int) -> Any:
        return pki.revocation_status(session, serial) if session is not None else None

    return verify_pdf(data, roots, others, lookup)


def by_public_id(session: Session, public_id: str) -> SignedDocument | None:
    return session.scalar(select(SignedDocument).where(SignedDocument.public_id == public_id))


def revision_by_digest(session: Session, sha256: str) -> DocumentRevision | None:
    return session.scalar(select(DocumentRevision).where(DocumentRevision.sha256 == sha256))
