"""PAdES signatures with pyHanko: the author certifies, the other side countersigns.

The author's certification signature allows form filling only (DocMDP level 2), which is what
lets the countersignature, an incremental update that fills the second signature field, keep
both signatures valid; any other later change breaks the certification.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import threading
from pathlib import Path
from typing import Any

from cryptography.x509.oid import NameOID
from fontTools import subset
from fontTools.ttLib import TTFont
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers, timestamps
from pyhanko.stamp import TextStampStyle

from hub.documents.render import Box
from hub.pki.signer import DocumentSigner

# Room for the CMS signature container: an RSA-2048 signature, the signer's chain, and a
# time-stamp token with the TSA's chain come to ~7 KiB. Reserving a fixed size skips pyHanko's
# estimate, which otherwise signs (and time-stamps) the document twice.
SIGNATURE_BYTES = 16 * 1024
STAMP_TEXT = "%(title)s\n%(name)s\n%(licence)s\nCert %(serial)s\n%(ts)s"
STAMP_FONTS = (
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
# Characters the stamp font keeps: Latin (with Turkish), digits and punctuation. The page above
# the stamp carries the signer's name in the document's own script.
STAMP_CHARS = frozenset(chr(c) for c in [*range(0x20, 0x7F), *range(0xA0, 0x180)])
_font_lock = threading.Lock()
_stamp_style: TextStampStyle | None = None


def _stamp_font() -> str:
    """A small Latin subset of the stamp font, made once per machine.

    PDF/A needs the signature appearance's font embedded; pyHanko subsets it on every signature,
    and doing that from the full Noto Sans (with its layout tables) costs ~2 s, from this subset
    a few milliseconds.
    """

    source = next((Path(p) for p in STAMP_FONTS if Path(p).exists()), None)
    if source is None:
        raise RuntimeError("no stamp font: install Debian's fonts-noto-core")
    tag = hashlib.sha256(f"{source}:{source.stat().st_mtime}".encode()).hexdigest()[:12]
    target = Path(tempfile.gettempdir()) / f"hub-stamp-font-{tag}.ttf"
    if target.exists():
        return str(target)
    font = TTFont(str(source))
    for table in ("GSUB", "GPOS", "GDEF"):
        if table in font:
            del font[table]  # unused by a few lines of Latin; the slow part of subsetting
    options = subset.Options()
    options.layout_features = []
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in STAMP_CHARS])
    subsetter.subset(font)
    partial = target.with_suffix(f".{threading.get_ident()}.tmp")
    font.save(str(partial))
    partial.replace(target)  # atomic: concurrent processes never read a half-written font
    return str(target)


def stamp_style() -> TextStampStyle:
    global _stamp_style
    with _font_lock:
        if _stamp_style is None:
            font = GlyphAccumulatorFactory(_stamp_font(), font_size=7)
            _stamp_style = TextStampStyle(
                stamp_text=STAMP_TEXT,
                border_width=1,
                text_box_style=TextBoxStyle(font=font, font_size=7),
                timestamp_format="%Y-%m-%d %H:%M:%S UTC",
            )
        return _stamp_style


def stamp_safe(text: str) -> str:
    return (
        "".join(c if c in STAMP_CHARS else "?" for c in text)
        if any(c in STAMP_CHARS and c.isalpha() for c in text)
        else ""
    )


def _params(signer: DocumentSigner, title: str) -> dict[str, Any]:

    subject = signer.certificate.subject

    def attr(oid: Any) -> str:
        found = subject.get_attributes_for_oid(oid)
        return str(found[0].value) if found else ""

    name = stamp_safe(attr(NameOID.COMMON_NAME))
    return {
        "title": title,
        "name": name or attr(NameOID.USER_ID),
        "licence": f"Licence {stamp_safe(attr(NameOID.SERIAL_NUMBER))}",
        "serial": format(signer.certificate.serial_number, "x")[:20],
    }


def certify(
    pdf: bytes,
    *,
    signer: DocumentSigner,
    timestamper: timestamps.TimeStamper,
    field: str,
    page: int,
    box: Box,
    empty_fields: list[tuple[str, int, Box]],
    reason: str,
    location: str,
) -> bytes:
    """Sign ``pdf`` as its author (certification, form filling allowed), creating the signature
    fields of the signatures still to come in the same revision."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for name, on_page, other in empty_fields:
        fields.append_signature_field(writer, fields.SigFieldSpec(name, on_page=on_page, box=other))
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        certify=True,
        docmdp_permissions=fields.MDPPerm.FILL_FORMS,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer.pdf_signer(),
        timestamper=timestamper,
        stamp_style=stamp_style(),
        new_field_spec=fields.SigFieldSpec(field, on_page=page, box=box),
    )
    out = pdf_signer.sign_pdf(
        writer,
        bytes_reserved=SIGNATURE_BYTES,
        appearance_text_params=_params(signer, "Certified by"),
    )
    return bytes(out.getvalue())


def countersign(
    pdf: bytes,
    *,
    signer: DocumentSigner,
    timestamper: timestamps.TimeStamper,
    field: str,
    reason: str,
    location: str,
) -> bytes:
    """Fill the existing signature field ``field`` as an incremental update."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
    )
    pdf_signer = signers.PdfSigner(
        meta, signer.pdf_signer(), timestamper=timestamper, stamp_style=stamp_style()
    )
    out = pdf_signer.sign_pdf(
        writer,
        existing_fields_only=True,
        bytes_reserved=SIGNATURE_BYTES,
        appearance_text_params=_params(signer, "Countersigned by"),
    )
    return bytes(out.getvalue())
