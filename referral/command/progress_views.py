"""Command centre pages: the national progress page (regions side by side), a region's page
(its universities, its specialist clinics, its nightly snapshots), and the alerts panel the
queue board shows (also a page of its own)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from consult.schemas import SPECIALTY_LABELS
from hub import db
from hub.auth.principal import Principal, user_principal
from hub.errors import ValidationFailed
from referral.command import alerts, progress, snapshots

bp = Blueprint("command_progress_pages", __name__)
HISTORY_DAYS = 14

ALERT_LABELS = {
    "consult_unassigned": _l("Consultation not accepted after every escalation"),
    "consult_answer_overdue": _l("Consultation answer overdue"),
    "critical_result": _l("Critical result not acknowledged"),
}


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def _day(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            "Give days as YYYY-MM-DD.", code="bad_date", details=[{"field": name}]
        ) from None


def _export_urls(region: str | None, report: progress.Report) -> dict[str, str]:
    args: dict[str, str] = {
        "from": report.period_from.isoformat(),
        "to": report.period_to.isoformat(),
    }
    if region:
        args["region"] = region
    return {
        fmt: "/api/v1/progress-reports?" + urlencode({**args, "format": fmt})
        for fmt in ("csv", "pdf")
    }


def _render(template: str, **context: Any) -> str:
    html = render_template(
        template,
        specialty_labels=SPECIALTY_LABELS,
        alert_labels=ALERT_LABELS,
        subject_url=alerts.subject_url,
        **context,
    )
    db.session().commit()  # the audit rows of what the page read
    return html


@bp.get("/command/progress")
@login_required
def national() -> ResponseReturnValue:
    session = db.session()
    report = progress.report(
        session, _principal(), region_code=None, first=_day("from"), last=_day("to")
    )
    return _render("command/progress.html", report=report, exports=_export_urls(None, report))


@bp.get("/command/progress/<code>")
@login_required
def region(code: str) -> ResponseReturnValue:
    session = db.session()
    report = progress.report(
        session, _principal(), region_code=code[:32], first=_day("from"), last=_day("to")
    )
    found = report.regions[0]
    history = snapshots.history(
        session,
        found.region_id,
        report.period_to - timedelta(days=HISTORY_DAYS - 1),
        report.period_to,
    )
    return _render(
        "command/progress_region.html",
        report=report,
        region=found,
        history=history,
        exports=_export_urls(found.code, report),
    )


@bp.get("/command/alerts")
@login_required
def alerts_page() -> ResponseReturnValue:
    session = db.session()
    principal = _principal()
    panel = request.args.get("part") == "panel"
    open_alerts = alerts.list_alerts(session, principal, state="open", limit=100)
    # The panel shows the latest few taken, the page more.
    taken = alerts.list_alerts(session, principal, state="taken", limit=10 if panel else 50)
    template = "command/_alerts_panel.html" if panel else "command/alerts.html"
    return _render(template, open_alerts=open_alerts, taken=taken)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
