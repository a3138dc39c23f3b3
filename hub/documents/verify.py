"""Verification of signed PDFs: integrity, chain to the hub root, revocation, modifications.

Used by the public ``/verify`` page and by ``hub verify-pdf``. Never raises on bad input: a file
that is not a PDF, or a PDF without signatures, is a result ("not signed"), not an error.
Reasons and problems are in the reader's language inside a request (English elsewhere, e.g. the
CLI); machines read ``status``, which never changes with the language.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from flask_babel import gettext, ngettext
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

log = logging.getLogger("hub.documents.verify")

# serial → (revoked_at, reason) or None; the hub answers from its own certificate table.
RevocationLookup = Callable[[int], tuple[datetime, str] | None]

VALID, INVALID, NOT_SIGNED = "valid", "invalid", "not_signed"


@dataclass
class SignatureReport:
    field_name: str
    signer: str
    licence: str | None
    role: str | None
    organisation: str | None
    serial: str
    signed_at: datetime | None  # the time-stamp authority's time when there is a time-stamp
    timestamped: bool
    timestamp_trusted: bool
    intact: bool
    valid: bool
    trusted: bool
    certifying: bool
    chain: list[str]
    revoked_at: datetime | None
    revocation_reason: str | None
    modification: str
    covers_whole_file: bool
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Report:
    status: str  # valid | invalid | not_signed
    reason: str
    signatures: list[SignatureReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == VALID


def _name_attr(cert: asn1_x509.Certificate, key: str) -> str | None:
    value = cert.subject.native.get(key)
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


def _check(
    sig: object, context: ValidationContext, lookup: RevocationLookup, last: bool
) -> SignatureReport:
    status = validate_pdf_signature(
        sig,  # type: ignore[arg-type]
        signer_validation_context=context,
        ts_validation_context=context,
    )
    cert = status.signing_cert
    ts = status.timestamp_validity
    signed_at = ts.timestamp if ts is not None else status.signer_reported_dt
    chain: list[str] = []
    if status.validation_path is not None:
        chain = [
            c.subject.human_friendly for c in status.validation_path.iter_certs(include_root=True)
        ]
    revoked = lookup(cert.serial_number)
    report = SignatureReport(
        field_name=str(sig.field_name),  # type: ignore[attr-defined]
        signer=_name_attr(cert, "common_name") or cert.subject.human_friendly,
        licence=_name_attr(cert, "serial_number"),
        role=_name_attr(cert, "title"),
        organisation=_name_attr(cert, "organization_name"),
        serial=format(cert.serial_number, "x"),
        signed_at=signed_at,
        timestamped=ts is not None,
        timestamp_trusted=bool(ts and ts.intact and ts.valid and ts.trusted),
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        certifying=sig.docmdp_level is not None,  # type: ignore[attr-defined]
        chain=chain,
        revoked_at=revoked[0] if revoked else None,
        revocation_reason=revoked[1] if revoked else None,
        modification=(
            status.modification_level.name.lower()
            if status.modification_level is not None
            else "unknown"
        ),
        covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
    )
    if not status.intact:
        report.problems.append(gettext("the signed bytes were changed (digest mismatch)"))
    elif not status.valid:
        report.problems.append(gettext("the cryptographic signature is invalid"))
    if not status.trusted:
        report.problems.append(
            gettext(
                "the signer's certificate does not chain to the hub's root CA "
                "(or is outside its validity period)"
            )
        )
    if ts is not None and not report.timestamp_trusted:
        report.problems.append(gettext("the signature time-stamp is not valid or not trusted"))
    if revoked and (signed_at is None or revoked[0] <= signed_at):
        report.problems.append(
            gettext(
                "the certificate was revoked on %(when)s UTC (%(reason)s), before this signature",
                when=f"{revoked[0]:%Y-%m-%d %H:%M}",
                reason=revoked[1],
            )
        )
    if status.docmdp_ok is False:
        report.problems.append(
            gettext("the document was changed in a way its certification forbids")
        )
    if (
        status.modification_level is not None
        and status.modification_level > ModificationLevel.FORM_FILLING
    ):
        report.problems.append(gettext("the document was modified after this signature"))
    if last and not report.covers_whole_file:
        report.problems.append(gettext("data was appended after the last signature"))
    return report


def verify_pdf(
    data: bytes,
    trust_roots: list[asn1_x509.Certificate],
    other_certs: list[asn1_x509.Certificate],
    lookup: RevocationLookup,
) -> Report:
    """Verify every signature of ``data`` against ``trust_roots``."""
    if b"%PDF-" not in data[:1024]:
        return Report(NOT_SIGNED, gettext("This file is not a PDF, so it carries no signature."))
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = list(reader.embedded_signatures)
    except Exception as exc:  # any parse failure of untrusted input is a result, not a 500
        log.info("unreadable PDF: %s", type(exc).__name__)
        return Report(
            INVALID,
            gettext(
                "The PDF cannot be read (%(problem)s); it is damaged or was altered.",
                problem=type(exc).__name__,
            ),
        )
    if not signatures:
        return Report(NOT_SIGNED, gettext("This PDF is not signed."))
    context = ValidationContext(
        trust_roots=trust_roots,
        other_certs=other_certs,
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    reports: list[SignatureReport] = []
    ordered = sorted(signatures, key=lambda s: s.signed_revision)
    for index, sig in enumerate(ordered):
        try:
            reports.append(_check(sig, context, lookup, last=index == len(ordered) - 1))
        except Exception as exc:
            log.info("signature %s failed to validate: %s", sig.field_name, exc)
            return Report(
                INVALID,
                gettext(
                    "Signature %(name)s cannot be validated (%(problem)s); "
                    "the file is damaged or altered.",
                    name=repr(sig.field_name),
                    problem=type(exc).__name__,
                ),
                reports,
            )
    problems = [f"{r.field_name}: {p}" for r in reports for p in r.problems]
    if problems:
        return Report(INVALID, "; ".join(problems), reports)
    return Report(
        VALID,
        ngettext(
            "%(num)d valid signature; the document is unchanged since it.",
            "%(num)d valid signatures; the document is unchanged since the last one.",
            len(reports),
        ),
        reports,
    )
