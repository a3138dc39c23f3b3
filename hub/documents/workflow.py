"""The steps every signable document shares: sign (certify) it, countersign it, hand out its PDF,
each audited the same way. The owning package decides who may do each step and what changes
with it (a consult moves to ``signed``, a report becomes final); this module does the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents import services as documents
from hub.documents.facts import pick_locale
from hub.documents.registry import DocumentKind
from hub.errors import Conflict
from hub.models import SignedDocument, User


@dataclass(frozen=True)
class Subject:
    """What a document is about, as its owning package describes it to these steps."""

    kind: DocumentKind
    id: int  # the consult's, study's or consent's id
    object_type: str  # in the audit log: "consult", "study", "consent"
    audit_as: str  # the audit action's prefix, e.g. "consult:outcome" -> "consult:outcome:signed"
    content: Callable[[str], documents.Content]  # template context and data, in a language
    audit_details: Mapping[str, Any] = field(default_factory=dict)  # e.g. the patient's id


def _record(
    session: Session,
    principal: Principal,
    subject: Subject,
    verb: str,
    details: Mapping[str, Any],
) -> None:
    audit.record(
        session,
        principal,
        f"{subject.audit_as}:{verb}",
        object_type=subject.object_type,
        object_id=subject.id,
        details=dict(details),
    )


def sign(
    session: Session,
    settings: Settings,
    principal: Principal,
    subject: Subject,
    *,
    author: User,
    locale: str | None,
    reader_locale: str | None,
) -> SignedDocument:
    """Certify the subject's document as ``author``, in the language asked for, else the
    reader's, else the hub's; refused (409) once signed. Audit with ``audit_signed``."""
    chosen = pick_locale(locale, reader_locale, settings.default_locale)
    return documents.certify(
        session,
        settings,
        principal,
        subject.kind,
        subject.id,
        author=author,
        content=subject.content(chosen),
        locale=chosen,
    )


def audit_signed(
    session: Session,
    principal: Principal,
    subject: Subject,
    doc: SignedDocument,
    **extra: Any,
) -> None:
    """Audit a signature, after the owning package's own changes are written."""
    _record(
        session,
        principal,
        subject,
        "signed",
        {"document": doc.public_id, **extra, **subject.audit_details},
    )


def countersign(
    session: Session,
    settings: Settings,
    principal: Principal,
    subject: Subject,
    *,
    not_signed: str,
    location: Callable[[User], str],
) -> SignedDocument:
    """Add the caller's signature to the signed document (``not_signed``: the 409's message
    while there is none); audited."""
    doc = documents.find(session, subject.kind, subject.id)
    if doc is None:
        raise Conflict(not_signed, code="not_signed")
    signer = session.get_one(User, principal.user_id)
    documents.countersign(
        session,
        settings,
        principal,
        subject.kind,
        doc,
        signer_user=signer,
        location=location(signer),
    )
    _record(
        session,
        principal,
        subject,
        "countersigned",
        {"document": doc.public_id, **subject.audit_details},
    )
    return doc


def pdf(
    session: Session,
    settings: Settings,
    principal: Principal,
    subject: Subject,
    *,
    locale: str | None,
    reader_locale: str | None,
    draftable: Callable[[], None] | None = None,
) -> tuple[bytes, bool]:
    """The signed PDF as stored (latest revision), or an unsigned draft; (bytes, signed).

    ``draftable`` raises (NotFound) when there is nothing to draft yet; audited either way."""

    def draft() -> tuple[documents.Content, str]:
        if draftable is not None:
            draftable()
        chosen = pick_locale(locale, reader_locale, settings.default_locale)
        return subject.content(chosen), chosen

    data, doc = documents.stored_or_draft(session, subject.kind, subject.id, draft)
    _record(
        session,
        principal,
        subject,
        "downloaded",
        {"document": doc.public_id if doc else None, "draft": doc is None},
    )
    return data, doc is not None
