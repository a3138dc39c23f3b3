"""Documents rendered by WeasyPrint as PDF/A-3b, the JSON data attached, a QR code to verify.

Rendering uses its own Jinja environment (not Flask's) so the CLI, Celery workers and the
benchmark's process pool render exactly what the web process renders.
"""

from __future__ import annotations

import json
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
import segno
import weasyprint
from markupsafe import Markup
from weasyprint.text.fonts import FontConfiguration

from frontend import TEMPLATES_DIR
from hub.calendars import format_date, format_datetime
from hub.config import SUPPORTED_LOCALES
from hub.documents.registry import DocumentKind
from hub.documents.text import Labels

PDF_VARIANT = "pdf/a-3b"
RTL = frozenset({"fa"})
STYLESHEET = TEMPLATES_DIR / "documents" / "document.css"  # font stacks are explained there
PX_TO_PT = 0.75  # WeasyPrint lays out in CSS px (1/96 in); PDF user space is in points (1/72 in)

Box = tuple[int, int, int, int]

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,  # a missing field is a bug, not an empty line
)
_local = threading.local()


def text_dir(text: object) -> str:
    """``rtl`` or ``ltr`` from the first strongly directional character (the rule of HTML's
    ``dir="auto"``, which WeasyPrint does not implement): English typed into a Persian document
    keeps its own direction, and Persian inside an English one too."""
    for char in str(text or ""):
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def paragraphs(text: str | None) -> Markup:
    """Free text as one <p> per line, each with its own direction. Short paragraphs also lay out
    faster: WeasyPrint breaks each line of a paragraph against the whole rest of it."""
    parts = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return Markup("").join(
        Markup('<p class="text" dir="{}">{}</p>').format(text_dir(p), p) for p in parts
    )


_env.globals.update(
    paragraphs=paragraphs, text_dir=text_dir, doc_date=format_date, doc_datetime=format_datetime
)


def _fonts() -> FontConfiguration:
    """One FontConfiguration per thread: sharing it saves the font lookup on every render."""
    found = getattr(_local, "fonts", None)
    if found is None:
        found = _local.fonts = FontConfiguration()
    return found


def _stylesheet() -> weasyprint.CSS:
    """The documents' stylesheet, parsed once per thread rather than once per document."""
    found = getattr(_local, "css", None)
    if found is None:
        found = _local.css = weasyprint.CSS(
            string=STYLESHEET.read_text(encoding="utf-8"), font_config=_fonts()
        )
    return found


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    # Signature field name → (page index, box in PDF points: x1, y1, x2, y2 from bottom-left).
    slots: dict[str, tuple[int, Box]]
    pages: int


def canonical_json(payload: dict[str, Any]) -> bytes:
    """The exact bytes attached to the PDF and covered by the JWS."""
    return json.dumps(
        payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
    ).encode("utf-8")


def qr_data_uri(url: str) -> str:
    # PNG, not SVG: WeasyPrint draws an SVG QR code path by path, several times slower.
    return str(segno.make(url, error="m").png_data_uri(scale=8, border=2))


def render(
    kind: DocumentKind,
    *,
    locale: str,
    context: dict[str, Any],
    payload: bytes,
    verify_url: str | None,
    labels: Labels,
    issued_at: datetime,
    document_id: str | None,
) -> Rendered:
    """Render ``kind``'s template; ``verify_url`` None renders an unsigned draft."""
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    template = _env.get_template(kind.template)
    html = template.render(
        locale=locale,
        direction="rtl" if locale in RTL else "ltr",
        labels=labels,
        draft=verify_url is None,
        verify_url=verify_url,
        qr=qr_data_uri(verify_url) if verify_url else None,
        issued_at=issued_at,
        document_id=document_id,
        slots={"author": kind.author, "counter": kind.countersigner},
        **context,
    )
    attachment = weasyprint.Attachment(
        string=payload.decode("utf-8"),
        name=kind.attachment_name,
        description="Machine-readable data of this document (JSON)",
        relationship="Data",
    )
    document = weasyprint.HTML(string=html, base_url=str(TEMPLATES_DIR)).render(
        stylesheets=[_stylesheet()], font_config=_fonts(), pdf_variant=PDF_VARIANT
    )
    pdf = document.write_pdf(attachments=[attachment], pdf_variant=PDF_VARIANT)
    slots: dict[str, tuple[int, Box]] = {}
    for slot in (kind.author, kind.countersigner):
        if slot is None:
            continue
        for index in range(len(document.pages) - 1, -1, -1):
            page = document.pages[index]
            anchor = page.anchors.get(slot.anchor)
            if anchor is None:
                continue
            x1, y1, x2, y2 = anchor
            height = page.height * PX_TO_PT
            slots[slot.field] = (
                index,
                (
                    round(x1 * PX_TO_PT),
                    round(height - y2 * PX_TO_PT),
                    round(x2 * PX_TO_PT),
                    round(height - y1 * PX_TO_PT),
                ),
            )
            break
        else:
            raise ValueError(f"template {kind.template} has no element #{slot.anchor}")
    assert pdf is not None
    return Rendered(pdf=pdf, slots=slots, pages=len(document.pages))
