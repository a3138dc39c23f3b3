"""Teleradiology pages: the radiologist's reading worklist (claim), the reading view (links to
the study page and the report), and the facility's critical results to acknowledge.

The pages read through the reading services; their script changes things through the JSON API
(claim, raise a critical result, acknowledge).
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from hub import db
from hub.auth.principal import Principal, user_principal
from imaging import services
from imaging.reading import contact_views, critical, report_page, requests
from imaging.reading.models import CriticalStatus, ReadingStatus, Urgency
from imaging.reading.qc import views as qc_views

bp = Blueprint("reading_pages", __name__, url_prefix="/reading")

STATUS_LABELS = {
    ReadingStatus.SCHEDULED: _l("Scheduled"),
    ReadingStatus.IN_PROGRESS: _l("In progress"),
    ReadingStatus.COMPLETED: _l("Completed"),
    ReadingStatus.CANCELLED: _l("Cancelled"),
}
URGENCY_LABELS = {
    Urgency.ROUTINE: _l("Routine"),
    Urgency.URGENT: _l("Urgent"),
    Urgency.EMERGENCY: _l("Emergency"),
}
CRITICAL_LABELS = {
    CriticalStatus.OPEN: _l("Open"),
    CriticalStatus.ACKNOWLEDGED: _l("Acknowledged"),
    CriticalStatus.ESCALATED: _l("Escalated"),
}
EVENT_LABELS = {
    "raised": _l("Raised by the radiologist"),
    "alerted": _l("The facility's on-duty staff alerted"),
    "contacts_queued": _l("Notices queued for the facility's contact list"),
    "contact_notified": _l("A contact of the facility e-mailed"),
    "escalated": _l("Escalated"),
    "escalated:facility_head": _l("Escalated to the facility's head"),
    "escalated:region_command": _l("Escalated to the region's command staff"),
    "acknowledged": _l("Acknowledged"),
}
METHODS = {
    "phone": _l("Telephone"),
    "in_person": _l("In person"),
    "video": _l("Video call"),
    "message": _l("Secure message"),
}
JS_TEXT = {
    "failed": _l("Could not complete: {error}"),
    "network": _l("No connection to the hub."),
    "claimed": _l("Claimed: the study is yours to read."),
    "raised": _l("Critical result sent to the facility."),
    "acknowledged": _l("Acknowledged."),
    "sent": _l("Sent for reading."),
}


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def _common() -> dict[str, object]:
    return {
        "status_labels": STATUS_LABELS,
        "critical_labels": CRITICAL_LABELS,
        "event_labels": EVENT_LABELS,
        "methods": METHODS,
        "js_text": {key: str(value) for key, value in JS_TEXT.items()},
    }


@bp.get("/send")
@login_required
def send_form() -> ResponseReturnValue:
    """Send a study of the reader's facility for reading (``?study=UID``)."""
    session = db.session()
    uid = request.args.get("study", "")
    study = services.get_study(session, _principal(), uid, purpose="viewed") if uid else None
    html = render_template(
        "imaging/reading/send.html", study=study, urgency_labels=URGENCY_LABELS, **_common()
    )
    session.commit()
    return html


@bp.get("/worklist")
@login_required
def worklist() -> ResponseReturnValue:
    session = db.session()
    items = requests.worklist(session, _principal())
    html = render_template(
        "imaging/reading/worklist.html", items=items, urgency_labels=URGENCY_LABELS, **_common()
    )
    session.commit()  # the audit event of the read
    return html


@bp.get("/requests/<int:request_id>")
@login_required
def reading_view(request_id: int) -> ResponseReturnValue:
    session = db.session()
    principal = _principal()
    item = requests.get(session, principal, request_id)
    mine = item.assigned_to_id == principal.user_id
    report_panel, thumbs = None, []
    if mine:
        # The assigned radiologist reads the study here: its series beside the report editor.
        series = services.series_of(session, item.study.id)
        shown = services.series_with_images(session, item.study.id)
        thumbs = [s.series for s in series if s.series.id in shown]
        modalities = {s.series.modality for s in series if s.series.modality}
        report_panel = report_page.panel(session, principal, item.study, modalities)
    html = render_template(
        "imaging/reading/show.html",
        item=item,
        mine=mine,
        report_panel=report_panel,
        report_states=report_page.STATE_LABELS,
        thumbs=thumbs,
        qc=qc_views.request_panel(session, principal, item),
        urgency_labels=URGENCY_LABELS,
        **_common(),
    )
    session.commit()
    return html


@bp.get("/critical-results")
@login_required
def critical_results() -> ResponseReturnValue:
    session = db.session()
    results = critical.open_for_facility(session, _principal())
    return render_template("imaging/reading/critical_list.html", results=results, **_common())


@bp.get("/critical-results/<int:result_id>")
@login_required
def critical_result(result_id: int) -> ResponseReturnValue:
    session = db.session()
    principal = _principal()
    result = critical.get(session, principal, result_id)
    html = render_template(
        "imaging/reading/critical.html",
        result=result,
        may_acknowledge=critical.may_acknowledge(principal, result),
        **_common(),
    )
    session.commit()
    return html


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    contact_views.init_app(app)
