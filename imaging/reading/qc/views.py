"""Quality-control pages: the QA dashboard (rates as tables, CSV export), the quarterly
high-risk report (page, signed PDF), the senior reviewer's worklist and scoring form, and the
sending facility's image-quality feedback. Changes go through the JSON API (scores, grades,
follow-ups) or, for signing the quarterly report, a form posted here."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm import Session

from hub import audit, db, hooks, spreadsheet
from hub.auth.principal import Principal, user_principal
from hub.errors import AccessDenied
from hub.models import Facility, Role, utcnow
from imaging.reading.models import ReadingRequest
from imaging.reading.qc import figures, followup, quality, quarterly, review
from imaging.reading.qc.access import is_qa_of
from imaging.reading.qc.figures import Period
from imaging.reading.qc.schemas import RADPEER_SCORES

bp = Blueprint("reading_qc", __name__, url_prefix="/reading/qc")

GROUPS = {"radiologist": _l("Radiologist"), "facility": _l("Facility"), "modality": _l("Modality")}
AGREEMENTS = {
    "concordant": _l("Concordant"),
    "missed": _l("Missed"),
    "misdiagnosed": _l("Misdiagnosed"),
}
SOURCES = {"pathology": _l("Pathology"), "surgery": _l("Surgery"), "discharge": _l("Discharge")}
GRADES = {"excellent": _l("Excellent"), "acceptable": _l("Acceptable"), "poor": _l("Poor")}
SCORES = {
    "1": _l("1: concur with interpretation"),
    "2a": _l(
        "2a: discrepancy, not ordinarily expected to be made; unlikely clinically significant"
    ),
    "2b": _l("2b: discrepancy, not ordinarily expected to be made; likely clinically significant"),
    "3a": _l(
        "3a: discrepancy that should be made almost every time; unlikely clinically significant"
    ),
    "3b": _l(
        "3b: discrepancy that should be made almost every time; likely clinically significant"
    ),
}
JS_TEXT = {
    "failed": _l("Could not complete: {error}"),
    "network": _l("No connection to the hub."),
    "saved": _l("Saved."),
    "comment_needed": _l("A comment is required for scores 2b, 3a and 3b."),
    "defect_needed": _l("Name the defect for a poor grade."),
}
CSV_KINDS = ("concordance", "image-quality", "peer-review")


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _period() -> Period:
    start, end = _day("from"), _day("to")
    if start and end and start > end:
        start, end = end, start
    return Period(start, end)


def _common() -> dict[str, Any]:
    return {
        "groups_labels": GROUPS,
        "agreements": AGREEMENTS,
        "sources": SOURCES,
        "grades": GRADES,
        "scores": SCORES,
        "radpeer": RADPEER_SCORES,
        "js_text": {key: str(value) for key, value in JS_TEXT.items()},
    }


def percent(value: float | None) -> str:
    """A rate as the page shows it; "no data" where there were no cases."""
    return _("no data") if value is None else f"{value * 100:.1f} %"


@bp.get("/")
@login_required
def dashboard() -> ResponseReturnValue:
    session = db.session()
    principal = _principal()
    group_by = request.args.get("group_by", "radiologist")
    if group_by not in GROUPS:
        group_by = "radiologist"
    period = _period()
    html = render_template(
        "imaging/reading/qc/dashboard.html",
        group_by=group_by,
        period=period,
        concordance=figures.concordance(session, principal, group_by, period),
        by_facility=figures.image_quality(session, principal, "facility", period),
        by_device=figures.image_quality(session, principal, "device", period),
        peer=figures.peer_review(session, principal, period),
        overdue=review.overdue(session, principal),
        quarter=quarterly.quarter_of(utcnow() - timedelta(days=92)),
        percent=percent,
        **_common(),
    )
    session.commit()  # the audit events of the reads
    return html


@bp.get("/export/<kind>.csv")
@login_required
def export(kind: str) -> ResponseReturnValue:
    if kind not in CSV_KINDS:
        abort(404)
    session = db.session()
    principal = _principal()
    period = _period()
    if kind == "concordance":
        group_by = request.args.get("group_by", "radiologist")
        data = figures.concordance(
            session, principal, group_by if group_by in GROUPS else "radiologist", period
        )
    elif kind == "image-quality":
        group_by = "device" if request.args.get("group_by") == "device" else "facility"
        data = figures.image_quality(session, principal, group_by, period)
    else:
        data = figures.peer_review(session, principal, period)
    out = io.StringIO()
    writer = csv.writer(out)
    for row in figures.csv_rows(kind, data):
        writer.writerow(spreadsheet.row(row))
    session.commit()
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="qc-{kind}.csv"'},
    )


@bp.get("/quarterly")
@login_required
def quarterly_page() -> ResponseReturnValue:
    session = db.session()
    principal = _principal()
    quarter = request.args.get("quarter") or quarterly.quarter_of(utcnow() - timedelta(days=92))
    data = quarterly.compute(session, principal, quarter)
    doc = quarterly.signed_document(session, principal, quarter)
    html = render_template(
        "imaging/reading/qc/quarterly.html",
        figures=data,
        quarter=quarter,
        document=doc,
        finished=data.end <= utcnow(),
        may_sign=principal.has_role(Role.QA_PHYSICIAN),
        **_common(),
    )
    session.commit()
    return html


@bp.post("/quarterly/<quarter>/sign")
@login_required
def sign_quarterly(quarter: str) -> ResponseReturnValue:
    session = db.session()
    settings = current_app.config["HUB_SETTINGS"]
    quarterly.sign(session, settings, _principal(), quarter, str(get_locale()))
    session.commit()
    return redirect(url_for("reading_qc.quarterly_page", quarter=quarter))


@bp.get("/quarterly/<quarter>.pdf")
@login_required
def quarterly_pdf(quarter: str) -> ResponseReturnValue:
    session = db.session()
    settings = current_app.config["HUB_SETTINGS"]
    data, signed = quarterly.pdf(session, settings, _principal(), quarter, str(get_locale()))
    session.commit()
    name = f"qc-{quarter}{'' if signed else '-draft'}.pdf"
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@bp.get("/reviews")
@login_required
def reviews() -> ResponseReturnValue:
    session = db.session()
    principal = _principal()
    rows = review.worklist(session, principal)
    html = render_template(
        "imaging/reading/qc/reviews.html",
        rows=rows,
        senior=review.is_senior(session, principal.user_id),
        now=utcnow(),
        **_common(),
    )
    session.commit()
    return html


@bp.get("/reviews/<int:review_id>")
@login_required
def review_page(review_id: int) -> ResponseReturnValue:
    session = db.session()
    item, report = review.get(session, _principal(), review_id)
    html = render_template("imaging/reading/qc/review.html", item=item, report=report, **_common())
    session.commit()
    return html


def _feedback_facility(session: Session, principal: Principal) -> Facility:
    wanted = request.args.get("facility", type=int)
    if wanted is None or wanted == principal.facility_id:
        if principal.facility_id is None:
            raise AccessDenied(action="imaging:qc:feedback_viewed", hide=True)
        return session.get_one(Facility, principal.facility_id)
    facility = session.get(Facility, wanted)
    if facility is None or not is_qa_of(session, principal, facility.id):
        raise AccessDenied(
            action="imaging:qc:feedback_viewed",
            object_type="facility",
            object_id=wanted,
            hide=True,
        )
    return facility


@bp.get("/feedback")
@login_required
def feedback() -> ResponseReturnValue:
    """The sending facility's image-quality feedback: its excellent rate per device and the
    defects the radiologists named (its own staff, or a QA physician with ``?facility=``)."""
    session = db.session()
    principal = _principal()
    facility = _feedback_facility(session, principal)
    period = _period()
    scope = ReadingRequest.facility_id == facility.id
    by_device = figures.quality_rows(session, "device", period, scope)
    defects = quality.defects(session, facility.id, period)
    audit.record(
        session,
        principal,
        "imaging:qc:feedback_viewed",
        object_type="facility",
        object_id=facility.id,
        details={"rated": by_device["total"]["rated"]},
    )
    html = render_template(
        "imaging/reading/qc/feedback.html",
        facility=facility,
        by_device=by_device,
        defects=defects,
        period=period,
        percent=percent,
        **_common(),
    )
    session.commit()
    return html


def request_panel(session: Session, principal: Principal, item: ReadingRequest) -> dict[str, Any]:
    """What the reading request page shows of quality control: the follow-up (and its form for
    those who record it) and the image-quality grade (and its form for the reader)."""
    return {
        "follow_up": followup.of_request(session, item.id),
        "may_follow_up": followup.may_record(session, principal, item),
        "grade": quality.of_request(session, item.id),
        "may_grade": quality.may_grade(principal, item),
        **_common(),
    }


def reviewer_panel(session: Session, principal: Principal) -> hooks.HomePanel | None:
    """A senior reviewer's unscored reviews on their home page."""
    if not principal.has_role(Role.RADIOLOGIST) or not review.is_senior(session, principal.user_id):
        return None
    rows = [r for r in review.worklist(session, principal) if r.score is None][:10]
    return hooks.HomePanel(
        title=_("Peer reviews to score"),
        rows=tuple(
            hooks.HomeRow(
                text=_("Review of report #%(n)s", n=r.report_id),
                url=url_for("reading_qc.review_page", review_id=r.id),
                time=r.due_at,
                detail=_("score by the time shown"),
            )
            for r in rows
        ),
        empty=_("No peer review waits for your score."),
        more_url=url_for("reading_qc.reviews"),
    )


def overdue_panel(session: Session, principal: Principal) -> hooks.HomePanel | None:
    """The QA physician's overdue senior reviews on their home page."""
    if not principal.has_role(Role.QA_PHYSICIAN):
        return None
    rows = review.overdue(session, principal)[:10]
    return hooks.HomePanel(
        title=_("Overdue peer reviews"),
        rows=tuple(
            hooks.HomeRow(
                text=_("Review of report #%(n)s", n=r.report_id),
                url=url_for("reading_qc.dashboard") + "#overdue",
                time=r.due_at,
                detail=_("overdue"),
            )
            for r in rows
        ),
        empty=_("No peer review is overdue."),
        more_url=url_for("reading_qc.dashboard"),
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
