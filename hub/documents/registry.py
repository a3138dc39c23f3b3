"""The registry of signable document kinds; each domain registers its own in ``init_app``.

A kind names its template, the signature fields it carries and where they sit (an element id in
the template), so the core renders, signs and verifies every kind the same way. The consult
outcome and the e-prescription come from ``consult``; the imaging report will come from
``imaging``, referral letters from ``referral``, the consent form from the patient pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub import hooks


@dataclass(frozen=True)
class SignatureSlot:
    field: str  # the PDF signature field's name, e.g. "Consultant"
    anchor: str  # id of the empty box in the template the visible signature covers


@dataclass(frozen=True)
class DocumentKind:
    code: str  # stored in signed_document.kind, e.g. "consult_outcome"
    subject_type: str  # what the document is about, e.g. "consult"
    template: str  # under frontend/templates, e.g. "documents/consult_outcome.html"
    attachment_name: str  # name of the machine-readable JSON inside the PDF
    author: SignatureSlot  # certifies the document (first signature)
    countersigner: SignatureSlot | None = None  # signs next, as an incremental update
    retention_years: int = 10  # SEEDS 000/001: reports and exchanged records kept 10 years
    # What pages call it (a lazy_gettext string, so the reader's language); None: the code.
    title: Any = None


def register(kind: DocumentKind) -> DocumentKind:
    """Add a kind to the ``document_kinds`` seam (the same kind twice is fine, a clash is not)."""
    return hooks.document_kinds.register(kind.code, kind)


def get(code: str) -> DocumentKind | None:
    return hooks.document_kinds.get(code)


def all_kinds() -> list[DocumentKind]:
    return sorted(hooks.document_kinds.values(), key=lambda k: k.code)
