"""The JSON and PDF answers of every domain's document routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from hub.config import Settings
from hub.documents import services as documents
from hub.models import SignedDocument


class LocaleQuery(BaseModel):
    locale: Literal["en", "fa", "ru", "tr", "zh"] | None = Field(
        default=None,
        description="Language of the document; default the health worker's own, else the hub's",
    )


class DocumentOut(BaseModel):
    id: str = Field(description="Public id, as in the verification URL")
    kind: str
    status: str
    locale: str
    verify_url: str
    pdf_sha256: str
    revisions: int
    certified_by: int
    certified_at: datetime
    countersigned_by: int | None
    countersigned_at: datetime | None
    retain_until: datetime
    payload_sha256: str
    jws: str = Field(
        description="Detached compact JWS (RFC 7515 appendix F) of the payload's "
        "canonical JSON: sorted keys, no spaces, UTF-8"
    )
    payload: dict[str, Any]


class DocumentList(BaseModel):
    items: list[DocumentOut]


def document_out(session: Session, settings: Settings, doc: SignedDocument) -> DocumentOut:
    latest = documents.latest_revision(session, doc)
    return DocumentOut(
        id=doc.public_id,
        kind=doc.kind,
        status=doc.status.value,
        locale=doc.locale,
        verify_url=documents.verify_url(settings, doc.public_id),
        pdf_sha256=latest.sha256,
        revisions=latest.seq,
        certified_by=doc.certified_by_id,
        certified_at=doc.certified_at,
        countersigned_by=doc.countersigned_by_id,
        countersigned_at=doc.countersigned_at,
        retain_until=doc.retain_until,
        payload_sha256=doc.payload_sha256,
        jws=doc.jws,
        payload=doc.payload,
    )


def pdf_response(data: bytes, signed: bool, name: str) -> Response:
    """A PDF download named ``name`` (``-draft`` added when unsigned), never cached."""
    resp = Response(data, mimetype="application/pdf")
    filename = f"{name}.pdf" if signed else f"{name}-draft.pdf"
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["X-Document-Status"] = "signed" if signed else "draft"
    return resp
