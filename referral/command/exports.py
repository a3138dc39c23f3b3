"""Progress reports as files: CSV (cells a spreadsheet will not run as formulas) and a PDF/A
signed (PAdES, time-stamped) under the hub's certification authority.

Command staff hold no clinician's signing certificate, so the PDF is sealed by the hub for the
officer who exports it: a one-time certificate from the hub's issuing CA names them and the
export, its key lives only for that signature, and the certificate is kept with the export's
row (``progress_export``) so a file can be traced back to who asked for it and when.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask_babel import force_locale
from sqlalchemy.orm import Session

from consult.schemas import SPECIALTY_LABELS
from hub import audit, spreadsheet
from hub.auth.principal import Principal
from hub.config import SUPPORTED_LOCALES, Settings
from hub.documents import pdfsign, render
from hub.documents.facts import pick_locale
from hub.documents.registry import DocumentKind, SignatureSlot
from hub.documents.text import Labels
from hub.models import MacroRegion, User, utcnow
from hub.pki import ca
from hub.pki.signer import SoftwareSigner
from hub.pki.tsa import timestamper
from referral.command import progress
from referral.command.monitoring_models import ProgressExport
from referral.command.report_text import TEXT

# Not registered with the signed-document kinds: an export is sealed once and kept as a file,
# never countersigned or looked up by subject.
KIND = DocumentKind(
    code="progress_report",
    subject_type="progress_export",
    template="documents/progress_report.html",
    attachment_name="progress-report.json",
    author=SignatureSlot(field="Seal", anchor="sig-seal"),
)
SEAL_DAYS = 3650  # as long as the report is kept
KEY_BITS = 2048  # RSA: an ECDSA signature would mark the PDF/A-3 file as PDF 2.0

CSV_COLUMNS = (
    "period_from",
    "period_to",
    "region_code",
    "region_name",
    "scope",
    "code",
    "name",
    "headquarters",
    "teleradiology",
    "virtual_clinics",
    "specialty_clinics_running",
    "consults",
    "reading_requests",
    "referrals",
    "transfers",
    "sla_decided",
    "sla_met",
    "sla_compliance_pct",
    "referral_loops_opened",
    "referral_loops_closed",
    "referral_loop_closure_pct",
    "critical_results",
    "critical_acknowledged_in_window",
    "critical_acknowledged_pct",
)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _csv_values(
    report: progress.Report,
    region: progress.RegionProgress,
    scope: str,
    code: str,
    name: str,
    f: progress.Figures,
) -> list[Any]:
    values: list[Any] = [
        report.period_from.isoformat(),
        report.period_to.isoformat(),
        region.code,
        region.name,
        scope,
        code,
        name,
        _yes(f.headquarters),
        _yes(f.teleradiology),
        _yes(f.virtual_clinics),
        f.specialties_running,
        f.consults,
        f.reading_requests,
        f.referrals,
        f.transfers,
        f.sla_decided,
        f.sla_met,
        f.sla_compliance,
        f.loops_opened,
        f.loops_closed,
        f.loop_closure,
        f.critical_results,
        f.critical_in_window,
        f.critical_acknowledged,
    ]
    values += [_yes(f.specialties.get(c, False)) for c in report.specialties]
    return ["" if v is None else v for v in values]


def to_csv(report: progress.Report) -> str:
    """One row per region and per university; names pass through the formula guard."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*CSV_COLUMNS, *(f"clinic_{c}" for c in report.specialties)])
    for region in report.regions:
        writer.writerow(
            spreadsheet.row(
                _csv_values(report, region, "region", region.code, region.name, region.figures)
            )
        )
        for uni in region.universities:
            writer.writerow(
                spreadsheet.row(
                    _csv_values(report, region, "university", uni.code, uni.name, uni.figures)
                )
            )
    return out.getvalue()


def _specialty_names(codes: list[str], locale: str) -> dict[str, str]:
    with force_locale(locale):
        return {c: str(SPECIALTY_LABELS[c]) if c in SPECIALTY_LABELS else c for c in codes}


def _seal(
    settings: Settings, authority: ca.Authority, user: User, export_id: int, country: str
) -> SoftwareSigner:
    """A one-time key and certificate naming the exporting officer and this export."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Regional command centre"),
            x509.NameAttribute(NameOID.TITLE, "command"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"PR-{export_id}"),
            x509.NameAttribute(NameOID.USER_ID, user.username),
            x509.NameAttribute(NameOID.COMMON_NAME, user.full_name[:64]),
        ]
    )
    now = utcnow()
    cert = ca.issue(
        authority,
        subject=subject,
        public_key=key.public_key(),
        base_url=settings.base_url,
        not_before=now - ca.BACKDATE,
        not_after=now + timedelta(days=SEAL_DAYS),
    )
    return SoftwareSigner(cert, key, authority.chain())


def to_signed_pdf(
    session: Session,
    settings: Settings,
    principal: Principal,
    report: progress.Report,
    *,
    region: MacroRegion | None,
    locale: str | None,
    reader_locale: str | None,
) -> tuple[bytes, ProgressExport]:
    """Render the report in the language asked for (else the reader's) and seal it; the
    export is recorded and audited in the caller's transaction."""
    chosen = pick_locale(
        locale if locale in SUPPORTED_LOCALES else None, reader_locale, settings.default_locale
    )
    authority = ca.load(settings.pki)  # refuses clearly when the PKI is not set up
    user = session.get_one(User, principal.user_id)
    export = ProgressExport(
        region_id=region.id if region is not None else None,
        period_from=report.period_from,
        period_to=report.period_to,
        locale=chosen,
        requested_by_id=user.id,
        certificate_serial="",
        certificate_der=b"",
        sha256="",
    )
    session.add(export)
    session.flush()
    country = region.country.code if region is not None else "IR"
    signer = _seal(settings, authority, user, export.id, country)
    labels = Labels(chosen, TEXT)
    document_id = f"PR-{export.id}"
    issued = utcnow()
    payload = {
        "document": {"id": document_id, "kind": KIND.code, "locale": chosen},
        "exported_by": user.username,
        **report.as_dict(),
    }
    place = region.name if region is not None else labels.national
    rendered = render.render(
        KIND,
        locale=chosen,
        context={
            "hub_name": labels.hub_name,
            "report": report,
            "place": place,
            "specialty_names": _specialty_names(report.specialties, chosen),
            "signers": {"author": {"name": user.full_name, "licence": None, "facility": place}},
            "signature_roles": {"author": labels.sealed},
        },
        payload=render.canonical_json(payload),
        verify_url=f"{settings.base_url.rstrip('/')}/verify",
        labels=labels,
        issued_at=issued,
        document_id=document_id,
    )
    page, box = rendered.slots[KIND.author.field]
    pdf = pdfsign.certify(
        rendered.pdf,
        signer=signer,
        timestamper=timestamper(authority, settings.pki.tsa_url),
        field=KIND.author.field,
        page=page,
        box=box,
        empty_fields=[],
        reason="Progress report exported by the regional command centre",
        location=place,
    )
    export.certificate_serial = format(signer.certificate.serial_number, "x")
    export.certificate_der = signer.certificate.public_bytes(serialization.Encoding.DER)
    export.sha256 = hashlib.sha256(pdf).hexdigest()
    audit.record(
        session,
        principal,
        "command:progress:exported",
        object_type="progress_export",
        object_id=export.id,
        details={
            "format": "pdf",
            "region": region.code if region is not None else None,
            "from": report.period_from.isoformat(),
            "to": report.period_to.isoformat(),
            "sha256": export.sha256,
        },
    )
    return pdf, export
