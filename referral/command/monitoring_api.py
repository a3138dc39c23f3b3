"""Progress reports and command alerts under /api/v1 (see referral.command.progress, .alerts)."""

from __future__ import annotations

from flask import Response, current_app
from flask_babel import get_locale

from hub import db
from hub.api.core import api_route
from hub.api.pagination import next_cursor
from hub.auth.principal import Principal
from referral.command import alerts, exports, progress
from referral.command.monitoring_models import CommandAlert
from referral.command.monitoring_schemas import (
    AlertList,
    AlertOut,
    AlertQuery,
    ProgressOut,
    ProgressQuery,
)


def _filename(query: ProgressQuery, report: progress.Report, ext: str) -> str:
    place = query.region or "national"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in place)
    return f"progress-{safe}-{report.period_from}-{report.period_to}.{ext}"


@api_route(
    "/progress-reports",
    summary="Progress of a macro-region and its universities, or of every region you may read "
    "side by side: steps in operation, volumes, SLA compliance, referral-loop closure and "
    "critical results acknowledged in time; format=csv or format=pdf (signed) for a file",
    scope="consults:dispatch",
    tag="command",
    query=ProgressQuery,
    response=ProgressOut,
    errors=(403, 404, 422),
)
def progress_reports(principal: Principal, query: ProgressQuery) -> ProgressOut | Response:
    session = db.session()
    report = progress.report(
        session,
        principal,
        region_code=query.region,
        first=query.from_,
        last=query.to,
        purpose="viewed" if query.format == "json" else "exported",
    )
    if query.format == "json":
        return ProgressOut.model_validate(report.as_dict())
    if query.format == "csv":
        resp = Response(exports.to_csv(report), mimetype="text/csv; charset=utf-8")
        resp.headers["Content-Disposition"] = (
            f'attachment; filename="{_filename(query, report, "csv")}"'
        )
        return resp
    region = None
    if query.region is not None:
        region = progress.readable_regions(
            session, principal, query.region, action="command:progress:exported"
        )[0]
    pdf, _export = exports.to_signed_pdf(
        session,
        current_app.config["HUB_SETTINGS"],
        principal,
        report,
        region=region,
        locale=query.locale,
        reader_locale=str(get_locale() or ""),
    )
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = (
        f'attachment; filename="{_filename(query, report, "pdf")}"'
    )
    return resp


def alert_out(alert: CommandAlert) -> AlertOut:
    return AlertOut(
        id=alert.id,
        region=alert.region.code,
        kind=alert.kind,
        subject_type=alert.subject_type,
        subject_id=alert.subject_id,
        subject_url=alerts.subject_url(alert),
        detail=alert.detail,
        raised_at=alert.raised_at,
        taken_by=alert.taken_by.full_name if alert.taken_by is not None else None,
        taken_by_id=alert.taken_by_id,
        taken_at=alert.taken_at,
    )


@api_route(
    "/command/alerts",
    summary="SLA breaches and escalations that reached your region's command staff, newest "
    "first: open ones until someone takes them, or those taken",
    scope="consults:dispatch",
    tag="command",
    query=AlertQuery,
    response=AlertList,
    errors=(400, 403),
)
def list_command_alerts(principal: Principal, query: AlertQuery) -> AlertList:
    found = alerts.list_alerts(
        db.session(),
        principal,
        state=query.state,
        after_id=query.position(),
        limit=query.limit,
    )
    return AlertList(
        items=[alert_out(a) for a in found],
        next_cursor=next_cursor(found, query.limit, lambda a: a.id),
    )


@api_route(
    "/command/alerts/<int:alert_id>/take",
    "POST",
    summary="Take an alert: you handle it (once; who and when are kept and shown)",
    scope="consults:dispatch",
    tag="command",
    response=AlertOut,
    errors=(403, 404, 409),
)
def take_command_alert(principal: Principal, alert_id: int) -> AlertOut:
    return alert_out(alerts.take(db.session(), principal, alert_id))
