"""The audit log viewer for national administrators and QA physicians: read-only, filtered,
paged newest first, with the chain's verification on demand (as ``hub audit verify``).

Reading the log is itself recorded (``hub:audit:viewed``): its details name patients and
accounts by id.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from hub import audit, audit_checkpoints, db
from hub.auth.principal import Principal, user_principal
from hub.models import AuditEvent, Role
from hub.permissions import require

bp = Blueprint("audit_pages", __name__, url_prefix="/admin/audit")

PAGE_SIZE = 50
AUDIT_READERS = frozenset({Role.NATIONAL_ADMIN, Role.QA_PHYSICIAN})
OUTCOMES = ("ok", "denied", "failed")
FILTERS = ("action", "outcome", "actor", "object_type", "object_id", "since", "until")


def _principal() -> Principal:
    principal = user_principal(current_user.user, "session")
    require(principal, "audit:read", roles=AUDIT_READERS, action="hub:audit:viewed")
    return principal


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _filters() -> tuple[dict[str, str], dict[str, str]]:
    """The filters as typed (to show them again) and the refused ones, by field."""
    values = {name: (request.args.get(name) or "").strip()[:120] for name in FILTERS}
    errors: dict[str, str] = {}
    if values["outcome"] and values["outcome"] not in OUTCOMES:
        errors["outcome"] = _("Choose an outcome from the list.")
    for name in ("since", "until"):
        if values[name] and _day(values[name]) is None:
            errors[name] = _("Enter a date as year-month-day.")
    return values, errors


def _events(values: dict[str, str], before: int | None) -> list[AuditEvent]:
    stmt = select(AuditEvent)
    if values["action"]:
        # A prefix: "consult:" finds every consult event, "hub:login:refused" one action.
        stmt = stmt.where(AuditEvent.action.startswith(values["action"], autoescape=True))
    if values["outcome"] in OUTCOMES:
        stmt = stmt.where(AuditEvent.outcome == values["outcome"])
    if values["actor"]:
        stmt = stmt.where(AuditEvent.actor_id == values["actor"])
    if values["object_type"]:
        stmt = stmt.where(AuditEvent.object_type == values["object_type"])
    if values["object_id"]:
        stmt = stmt.where(AuditEvent.object_id == values["object_id"])
    since, until = _day(values["since"]), _day(values["until"])
    if since:
        stmt = stmt.where(AuditEvent.occurred_at >= datetime.combine(since, time()))
    if until:
        stmt = stmt.where(
            AuditEvent.occurred_at < datetime.combine(until + timedelta(days=1), time())
        )
    if before is not None:
        stmt = stmt.where(AuditEvent.seq < before)
    return list(db.session().scalars(stmt.order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE + 1)))


def _verify() -> dict[str, Any]:
    """The chain's state as ``hub audit verify`` reports it, in the reader's words."""
    settings = current_app.config["HUB_SETTINGS"]
    try:
        anchors = audit_checkpoints.load(settings)
    except audit_checkpoints.CheckpointError as exc:
        return {"ok": False, "text": _("A checkpoint could not be read: %(reason)s", reason=exc)}
    # Its own session: verification walks the whole chain and clears what it loaded. The
    # request's session ends its read first (on SQLite an open transaction holds the lock).
    db.session().commit()
    with db.transaction() as sess:
        result = audit.verify(sess, key=settings.audit.key, anchors=anchors)
    if result.ok:
        text = _(
            "The chain is intact: %(events)s events, %(keyed)s with their MAC checked, "
            "%(checkpoints)s checkpoints.",
            events=result.checked,
            keyed=result.keyed,
            checkpoints=result.checkpoints,
        )
        return {"ok": True, "text": text}
    text = _("The chain is broken at event %(seq)s.", seq=result.first_bad_seq or "?")
    # The reason names event numbers and stays in English, as the command prints it.
    return {"ok": False, "text": text, "reason": result.reason}


@bp.get("")
@login_required
def events() -> ResponseReturnValue:
    principal = _principal()
    values, errors = _filters()
    raw_before = request.args.get("before", "")
    before = int(raw_before) if raw_before.isdigit() and len(raw_before) < 19 else None
    rows = [] if errors else _events(values, before)
    chain = _verify() if request.args.get("verify") == "1" else None
    session = db.session()
    audit.record(
        session,
        principal,
        "hub:audit:viewed",
        details={k: v for k, v in values.items() if v} | {"verified": chain is not None},
    )
    html = render_template(
        "admin/audit.html",
        events=rows[:PAGE_SIZE],
        next_before=rows[PAGE_SIZE - 1].seq if len(rows) > PAGE_SIZE else None,
        values=values,
        errors=errors,
        outcomes=OUTCOMES,
        chain=chain,
        first_page=before is None,
    )
    session.commit()
    return html, 422 if errors else 200


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
