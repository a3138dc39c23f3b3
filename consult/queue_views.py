"""The queue board page (/queues): open consults of the officer's region with their SLA clocks.
The page refreshes its tables itself (every 30 s) so a wall screen stays current."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required

from consult.queues import open_queue
from consult.views import STATUS_LABELS, URGENCY_LABELS
from hub import db
from hub.auth.principal import user_principal
from hub.permissions import has_scope

bp = Blueprint("consult_queue_pages", __name__)
REFRESH_SECONDS = 30


def duration(value: timedelta) -> str:
    """A waiting time as staff say it: minutes under two hours, then hours, then days."""
    minutes = max(0, int(value.total_seconds() // 60))
    if minutes < 120:
        return gettext("%(num)d min", num=minutes)
    if minutes < 48 * 60:
        return gettext("%(num)d h", num=minutes // 60)
    return gettext("%(num)d d", num=minutes // (24 * 60))


@bp.get("/queues")
@login_required
def queues() -> ResponseReturnValue:
    principal = user_principal(current_user.user, "session")
    breached_only = request.args.get("breached") == "1"
    session = db.session()
    queue = open_queue(session, principal, breached_only=breached_only)
    template = (
        "consult/_queue_tables.html"
        if request.args.get("part") == "tables"
        else "consult/queues.html"
    )
    html = render_template(
        template,
        queue=queue,
        breached_only=breached_only,
        duration=duration,
        status_labels=STATUS_LABELS,
        urgency_labels=URGENCY_LABELS,
        refresh_seconds=REFRESH_SECONDS,
        can_dispatch=has_scope(principal, "consults:dispatch"),
    )
    session.commit()  # the audit row of the view goes with the page
    return html


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
