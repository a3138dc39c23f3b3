"""The public verification page: upload a PDF, or open the URL of a document's QR code.

Anyone may verify, without an account. The page shows the signatures (signer, licence, times,
chain, revocation, integrity) and never the document's clinical content or the patient.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from hub import audit, db
from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents import registry
from hub.documents import services as documents
from hub.documents.verify import NOT_SIGNED, Report

bp = Blueprint("verify", __name__)
ANONYMOUS = Principal(kind="anonymous", via="none")
MAX_UPLOAD = 32 * 1024 * 1024


def _settings() -> Settings:
    settings: Settings = current_app.config["HUB_SETTINGS"]
    return settings


def _as_json(report: Report, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": report.status,
        "ok": report.ok,
        "reason": report.reason,
        **extra,
        "signatures": [
            {
                "field": s.field_name,
                "signer": s.signer,
                "licence": s.licence,
                "role": s.role,
                "organisation": s.organisation,
                "serial": s.serial,
                "signed_at": s.signed_at.isoformat() if s.signed_at else None,
                "timestamped": s.timestamped,
                "intact": s.intact,
                "valid": s.valid,
                "trusted": s.trusted,
                "certifying": s.certifying,
                "chain": s.chain,
                "revoked_at": s.revoked_at.isoformat() if s.revoked_at else None,
                "revocation_reason": s.revocation_reason,
                "modification": s.modification,
                "covers_whole_file": s.covers_whole_file,
                "problems": s.problems,
            }
            for s in report.signatures
        ],
    }


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


# What a page says for the registry's states and pyHanko's modification levels.
STATUS_TEXT = {"certified": _l("signed by its author"), "countersigned": _l("countersigned")}
MODIFICATION_TEXT = {
    "none": _l("no change after signing"),
    "lta_updates": _l("only long-term validation data added"),
    "form_filling": _l("only form fields filled in"),
    "annotations": _l("annotations added"),
    "other": _l("other changes"),
    "unknown": _l("changes could not be assessed"),
}


def _answer(
    report: Report,
    registered: dict[str, Any] | None,
    status: int = 200,
) -> ResponseReturnValue:
    if _wants_json():
        return jsonify(_as_json(report, {"registered": registered})), status
    page = render_template(
        "documents/verify.html",
        report=report,
        registered=registered,
        status_text=STATUS_TEXT,
        modification_text=MODIFICATION_TEXT,
    )
    return page, status


def _registered(doc: Any, revision: Any, latest_seq: int) -> dict[str, Any]:
    kind = registry.get(doc.kind)
    return {
        "id": doc.public_id,
        "kind": doc.kind,
        "title": str(kind.title) if kind and kind.title else doc.kind,
        "status": doc.status.value,
        "certified_at": doc.certified_at.isoformat(),
        "countersigned_at": doc.countersigned_at.isoformat() if doc.countersigned_at else None,
        "revision": revision.seq if revision else None,
        "latest_revision": latest_seq,
        "is_latest": revision is not None and revision.seq == latest_seq,
    }


@bp.get("/verify")
def verify_form() -> ResponseReturnValue:
    return render_template("documents/verify.html", report=None, registered=None)


@bp.post("/verify")
def verify_upload() -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None:
        report = Report(NOT_SIGNED, gettext("Choose a PDF file to verify."))
        return _answer(report, None, 400)
    data = upload.stream.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return _answer(
            Report(NOT_SIGNED, gettext("The file is too large to be a hub document.")), None, 413
        )
    sess = db.session()
    report = documents.verify_bytes(sess, _settings(), data)
    revision = documents.revision_by_digest(sess, hashlib.sha256(data).hexdigest())
    registered = None
    if revision is not None:
        doc = revision.document
        registered = _registered(doc, revision, documents.latest_revision(sess, doc).seq)
    audit.record(
        sess,
        ANONYMOUS,
        "documents:document:verified",
        object_type="document",
        object_id=registered["id"] if registered else None,
        details={"status": report.status, "via": "upload"},
    )
    sess.commit()
    return _answer(report, registered)


@bp.get("/verify/<public_id>")
def verify_registered(public_id: str) -> ResponseReturnValue:
    sess = db.session()
    doc = documents.by_public_id(sess, public_id[:40])
    if doc is None:
        return _answer(
            Report(NOT_SIGNED, gettext("No document with this number was signed at this hub.")),
            None,
            404,
        )
    latest = documents.latest_revision(sess, doc)
    report = documents.verify_bytes(sess, _settings(), latest.pdf)
    audit.record(
        sess,
        ANONYMOUS,
        "documents:document:verified",
        object_type="document",
        object_id=doc.public_id,
        details={"status": report.status, "via": "link"},
    )
    sess.commit()
    registered = _registered(doc, latest, latest.seq)
    registered["sha256"] = latest.sha256
    return _answer(report, registered)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # Verifying changes nothing and acts for nobody (no login involved), so a forged cross-site
    # POST gains nothing; without the exemption `curl -F file=@x.pdf` could not verify.
    app.extensions["csrf"].exempt(verify_upload)
