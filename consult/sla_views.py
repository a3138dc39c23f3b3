"""The SLA targets page (/sla-targets): the times to accept and to answer a consult per urgency,
nationally and per macro-region. National administrators change them (as `hub sla set` does);
facility administrators see the national targets and their own region's.
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from consult import sla
from consult.display import URGENCY_LABELS
from consult.models import Urgency
from hub import db
from hub.auth.principal import Principal, user_principal
from hub.errors import AccessDenied, HubError

bp = Blueprint("sla_pages", __name__)

SOURCE_LABELS = {
    "region": _l("this region's own target"),
    "national": _l("the national target"),
    "default": _l("the hub's default"),
}


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


@bp.get("/sla-targets")
@login_required
def targets() -> ResponseReturnValue:
    session = db.session()
    places = sla.overview(session, _principal())
    html = render_template(
        "consult/sla_targets.html",
        places=places,
        urgency_labels=URGENCY_LABELS,
        source_labels=SOURCE_LABELS,
        accept_max=sla.ACCEPT_MAX,
        answer_max=sla.ANSWER_MAX,
    )
    session.commit()
    return html


def _minutes(name: str) -> int:
    raw = request.form.get(name, "").strip()
    if not raw.isdigit() or len(raw) > 6:
        raise HubError(_("Give whole minutes."), code="bad_minutes")
    return int(raw)


@bp.post("/sla-targets")
@login_required
def change_target() -> ResponseReturnValue:
    """Set one urgency's targets for the national policy or a region; back to the page."""
    session = db.session()
    region_code = request.form.get("region", "").strip()[:32] or None
    try:
        urgency = Urgency(request.form.get("urgency", ""))
    except ValueError:
        urgency = None
    try:
        if urgency is None:
            raise HubError(_("Choose an urgency."), code="bad_urgency")
        sla.set_target(
            session,
            _principal(),
            region_code=region_code,
            urgency=urgency,
            accept_minutes=_minutes("accept_minutes"),
            answer_minutes=_minutes("answer_minutes"),
        )
        session.commit()
        flash(_("Targets saved."))
    except AccessDenied:
        raise  # the hub's handler audits the refusal and answers 403
    except HubError as exc:
        session.rollback()
        flash(_("Not saved: %(reason)s", reason=_sla_reason(exc)))
    return redirect(url_for("sla_pages.targets"))


def _sla_reason(exc: HubError) -> str:
    """The refusal in the reader's language (the service's messages are the API's English)."""
    reasons = {
        "answer_before_accept": _("the time to answer cannot be shorter than the time to accept."),
        "unknown_region": _("unknown region."),
        "validation_failed": _(
            "the time to accept is 1 to %(accept)s minutes, the time to answer 1 to "
            "%(answer)s minutes.",
            accept=sla.ACCEPT_MAX,
            answer=sla.ANSWER_MAX,
        ),
    }
    return reasons.get(exc.code, exc.message)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
