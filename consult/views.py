"""Consult pages for people: a new request, the facility's consults, the specialist's worklist
and one consult with its conversation and outcome.

Views parse the request and call the services, which check permissions and audit every read;
the pages' scripts change things through the JSON API (``/api/v1``), never through here. Each
page can also render just its live part (``?part=...``) for the Socket.IO-driven refresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult import display, lifecycle, roster_views, services, signing, sla_views
from consult.display import SPECIALTY_LABELS as SPECIALTY_LABELS  # home.py reads it here
from consult.display import URGENCY_LABELS, specialty_label
from consult.models import (
    AttachmentKind,
    Consult,
    ConsultStatus,
    Disposition,
    Mode,
    OfferState,
    OutcomeStatus,
    TechLevel,
    Urgency,
)
from hub import audit, db, hooks
from hub.auth.principal import Principal, user_principal
from hub.config import Settings
from hub.errors import AccessDenied, NotFound
from hub.models import ConsentScope, DocumentStatus, Patient, Role, Specialty, User
from hub.permissions import REQUESTER_ROLES, require
from hub.services.patients import get_patient, list_patients

bp = Blueprint("consult_pages", __name__)


PAGE_SIZE = 50
PICKER_SIZE = 200

STATUS_LABELS = {
    ConsultStatus.DRAFT: _l("Draft"),
    ConsultStatus.SUBMITTED: _l("Submitted"),
    ConsultStatus.OFFERED: _l("Offered"),
    ConsultStatus.ACCEPTED: _l("Accepted"),
    ConsultStatus.ANSWERED: _l("Answered"),
    ConsultStatus.SIGNED: _l("Signed"),
    ConsultStatus.CLOSED: _l("Closed"),
    ConsultStatus.DECLINED: _l("Declined"),
    ConsultStatus.ESCALATED: _l("Escalated"),
    ConsultStatus.CANCELLED: _l("Cancelled"),
    ConsultStatus.EXPIRED: _l("Expired"),
}
MODE_LABELS = {
    Mode.ASYNC: _l("Written (asynchronous)"),
    Mode.VIDEO: _l("Video"),
    Mode.PHONE: _l("Phone"),
}
TECH_LABELS = {
    TechLevel.BASIC: _l("Basic"),
    TechLevel.STANDARD: _l("Standard"),
    TechLevel.ADVANCED: _l("Advanced"),
}
DISPOSITION_LABELS = {
    Disposition.MANAGE_LOCALLY: _l("Manage locally"),
    Disposition.REFER: _l("Refer"),
    Disposition.TRANSFER_URGENTLY: _l("Transfer urgently"),
    Disposition.FOLLOW_UP: _l("Follow up"),
}
KIND_LABELS = {
    AttachmentKind.PHOTO: _l("Photo"),
    AttachmentKind.PDF: _l("PDF document"),
    AttachmentKind.ECG: _l("ECG"),
    AttachmentKind.AUDIO: _l("Audio recording"),
    AttachmentKind.PAPER_FORM: _l("Signed paper form"),
}
OUTCOME_LABELS = {
    OutcomeStatus.PENDING_SIGNATURE: _l("Awaiting signature"),
    OutcomeStatus.SIGNED: _l("Signed"),
}
SCOPE_LABELS = {
    ConsentScope.CONSULT: _l("remote consultation"),
    ConsentScope.VIDEO: _l("video consultation"),
    ConsentScope.RECORDING: _l("recording"),
    ConsentScope.DATA_SHARING: _l("data sharing"),
}
DOCUMENT_TITLES = {
    signing.OUTCOME.code: _l("Consultation outcome"),
    signing.PRESCRIPTION.code: _l("E-prescription"),
    signing.REFERRAL.code: _l("Referral letter"),
}
DOCUMENT_STATUS_LABELS = {
    DocumentStatus.CERTIFIED: _l(
        "Signed by the consultant; awaiting the requester's countersignature"
    ),
    DocumentStatus.COUNTERSIGNED: _l("Signed by both sides"),
}
SEX_LABELS = {
    "female": _l("Female"),
    "male": _l("Male"),
    "other": _l("Other"),
    "unknown": _l("Unknown"),
}


@dataclass(frozen=True)
class Vital:
    name: str
    label: Any
    low: float
    high: float
    step: str


# The bounds mirror consult.schemas.Vitals, so the browser refuses what the API would.
VITALS = (
    Vital("temperature_c", _l("Temperature (°C)"), 25, 45, "0.1"),
    Vital("heart_rate", _l("Heart rate (per minute)"), 10, 300, "1"),
    Vital("respiratory_rate", _l("Respiratory rate (per minute)"), 2, 100, "1"),
    Vital("systolic_bp", _l("Systolic blood pressure (mmHg)"), 30, 300, "1"),
    Vital("diastolic_bp", _l("Diastolic blood pressure (mmHg)"), 10, 200, "1"),
    Vital("spo2", _l("Oxygen saturation SpO₂ (%)"), 30, 100, "1"),
    Vital("weight_kg", _l("Weight (kg)"), 0.1, 500, "0.1"),
    Vital("glucose_mmol_l", _l("Blood glucose (mmol/L)"), 0.1, 60, "0.1"),
)
VITAL_LABELS = {v.name: v.label for v in VITALS}

# Messages the page scripts show; {name}-style fields are filled in by the script.
JS_TEXT = {
    "draft_saved": _l("Draft saved on this device."),
    "draft_restored": _l("Your unsent draft was restored."),
    "draft_discarded": _l("Draft discarded."),
    "confirm_discard": _l("Discard this draft?"),
    "draft_already_sent": _l("This draft was already sent as consult {id}."),
    "sending": _l("Sending the request…"),
    "offline": _l(
        "Could not reach the hub. Your draft is kept on this device; try again "
        "when the connection is back."
    ),
    "refused": _l("The request was not accepted: {error}"),
    "key_reused": _l(
        "This draft was already sent as consult {id}; changes made afterwards were not sent."
    ),
    "uploading": _l("Uploading {name}…"),
    "uploaded": _l("{name} uploaded."),
    "upload_failed": _l("{name} could not be uploaded: {error}"),
    "too_large": _l("The file is too large."),
    "attach_later": _l("The consult was sent. Open it to attach the files again."),
    "failed": _l("Could not complete: {error}"),
    "network": _l("No connection to the hub."),
    "reason_required": _l("Give a reason (at least 3 characters)."),
    "declined": _l("Declined."),
    "cancelled": _l("Request cancelled."),
    "message_sent": _l("Message sent."),
    "outcome_saved": _l("Outcome recorded."),
    "live_on": _l("Live updates on."),
    "live_off": _l("Live updates paused; reconnecting…"),
    "changed": _l("This consult changed. Reload the page to see the latest actions."),
    "updated": _l("Consult {id} is now: {status}"),
    "consent_required": _l("The patient's consent must be recorded first (missing: {scopes})."),
    "record_consent": _l("Record the {scope} consent"),
    "signing": _l("Signing…"),
    "signed": _l("Signed. The signed PDF can be downloaded now."),
    "countersigning": _l("Countersigning…"),
    "countersigned": _l("Countersigned. Both signatures are in the PDF."),
}


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def _js_text() -> dict[str, Any]:
    text: dict[str, Any] = {key: str(value) for key, value in JS_TEXT.items()}
    text["status"] = {s.value: str(label) for s, label in STATUS_LABELS.items()}
    # "Claim" here is taking a consult, not an insurance claim: its own catalogue entry.
    text["claimed"] = pgettext("consult", "You have taken this consult.")
    text["scope"] = {s.value: str(label) for s, label in SCOPE_LABELS.items()}
    return text


def patient_label(patient: Patient | None, patient_id: int) -> str:
    if patient is None:
        return f"#{patient_id}"
    return f"{patient.family_name}, {patient.given_name}"


def _patients(session: Session, principal: Principal, ids: set[int]) -> dict[int, Patient | None]:
    """The patients shown on a page, each read through the audited patient service."""
    found: dict[int, Patient | None] = {}
    for patient_id in sorted(ids):
        try:
            found[patient_id] = get_patient(session, principal, patient_id)
        except NotFound:
            found[patient_id] = None
        except AccessDenied as refused:
            # Shown by number (the consult itself was visible); the refusal is still audited.
            audit.record(
                session,
                principal,
                refused.action,
                object_type=refused.object_type,
                object_id=refused.object_id,
                outcome="denied",
            )
            found[patient_id] = None
    return found


def _render(template: str, **context: Any) -> str:
    """Render with the shared labels, then commit: the services' audit rows go with the page."""
    html = render_template(
        template,
        status_labels=STATUS_LABELS,
        status_labels_by_value={s.value: label for s, label in STATUS_LABELS.items()},
        outcome_labels=OUTCOME_LABELS,
        urgency_labels=URGENCY_LABELS,
        mode_labels=MODE_LABELS,
        tech_labels=TECH_LABELS,
        disposition_labels=DISPOSITION_LABELS,
        kind_labels=KIND_LABELS,
        event_label=display.event_label,
        event_details=display.event_details,
        person_reason=display.person_reason,
        trace_lines=display.trace_lines,
        sex_labels=SEX_LABELS,
        vital_labels=VITAL_LABELS,
        specialty_label=specialty_label,
        patient_label=patient_label,
        js_text=_js_text(),
        **context,
    )
    db.session().commit()
    return html


@bp.app_template_filter("utc")
def _utc(value: datetime | None) -> str:
    """Machine-readable time for <time datetime>; the script shows it in the reader's zone."""
    if value is None:
        return ""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.app_template_filter("utc_text")
def _utc_text(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M UTC")


@bp.get("/consults/new")
@login_required
def new_consult() -> ResponseReturnValue:
    principal = _principal()
    require(
        principal, "consults:write", roles=REQUESTER_ROLES, action="consult:request:form_viewed"
    )
    session = db.session()
    query = (request.args.get("q") or "").strip()[:100] or None
    patients = list_patients(session, principal, query=query, limit=PICKER_SIZE)
    specialties = sorted(session.scalars(select(Specialty)), key=specialty_label)
    settings = current_app.config["HUB_SETTINGS"]
    return _render(
        "consult/new.html",
        patients=patients,
        query=query or "",
        more_patients=len(patients) == PICKER_SIZE,
        chosen_patient=request.args.get("patient", type=int),
        specialties=specialties,
        urgencies=list(Urgency),
        modes=list(Mode),
        tech_levels=list(TechLevel),
        kinds=list(AttachmentKind),
        vitals=VITALS,
        max_bytes=settings.attachment_max_bytes,
        consent_url=_consent_url(),
    )


# The patient pages (hub) record consent; the new-request page links there when a consult is
# refused for want of it. {patient} and {scope} are filled in by the page's script.
CONSENT_ENDPOINT = "patient_pages.consent"


def _consent_url() -> str | None:
    if CONSENT_ENDPOINT not in current_app.view_functions:
        return None
    marker = 2147483647  # a valid id, replaced by the script
    back = url_for("consult_pages.new_consult", patient=marker)  # the draft is restored there
    url = url_for(CONSENT_ENDPOINT, patient_id=marker, scope="SCOPE", next=back)
    return url.replace(str(marker), "{patient}").replace("SCOPE", "{scope}")


@bp.get("/consults")
@login_required
def my_consults() -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    try:
        status = ConsultStatus(request.args.get("status", ""))
    except ValueError:
        status = None
    cursor = max(request.args.get("cursor", 0, type=int), 0)
    items = services.list_visible(
        session, principal, status=status, limit=PAGE_SIZE, before_id=cursor or None
    )
    patients = _patients(session, principal, {c.patient_id for c in items})
    template = (
        "consult/_list_rows.html" if request.args.get("part") == "rows" else "consult/list.html"
    )
    return _render(
        template,
        items=items,
        patients=patients,
        status=status,
        cursor=cursor,
        next_cursor=items[-1].id if len(items) == PAGE_SIZE else None,
        statuses=list(ConsultStatus),
        can_request=bool(principal.roles & REQUESTER_ROLES),
    )


@bp.get("/worklist")
@login_required
def worklist() -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    items = services.worklist(session, principal)
    patients = _patients(session, principal, {c.patient_id for c, _ in items})
    template = (
        "consult/_worklist_rows.html"
        if request.args.get("part") == "rows"
        else "consult/worklist.html"
    )
    consultant = bool(principal.roles & {Role.SPECIALIST, Role.RADIOLOGIST})
    return _render(template, items=items, patients=patients, is_consultant=consultant)


def _actions(consult: Consult, principal: Principal) -> dict[str, bool]:
    """What this person may do now; the API checks each again."""
    mine = next((o for o in consult.offers if o.specialist_id == principal.user_id), None)
    requester_side = principal.facility_id == consult.requester_facility_id and bool(
        principal.roles & REQUESTER_ROLES
    )
    assigned = consult.assigned_to_id is not None and consult.assigned_to_id == principal.user_id
    return {
        "claim": mine is not None
        and mine.state is OfferState.OPEN
        and consult.assigned_to_id is None
        and consult.status in lifecycle.CLAIMABLE,
        "outcome": assigned
        and principal.has_role(Role.SPECIALIST)
        and consult.status is ConsultStatus.ACCEPTED
        and consult.outcome is None,
        "write": (requester_side or assigned)
        and consult.status not in services.CLOSED_FOR_MESSAGES,
        "cancel": requester_side
        and ConsultStatus.CANCELLED in lifecycle.TRANSITIONS[consult.status],
    }


def _people(consult: Consult) -> dict[int, User]:
    """Names for the timeline: everyone who acts on a consult is one of these."""
    people = {consult.requester_id: consult.requester}
    for offer in consult.offers:
        people[offer.specialist_id] = offer.specialist
    if consult.assigned_to is not None:
        people[consult.assigned_to.id] = consult.assigned_to
    return people


@bp.get("/consults/<int:consult_id>")
@login_required
def show_consult(consult_id: int) -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    part = request.args.get("part")
    if part == "messages":
        found = services.messages(session, principal, consult_id)
        return _render("consult/_messages.html", messages=found)
    consult = services.get(session, principal, consult_id)
    actions = _actions(consult, principal)
    documents = signing.document_states(session, principal, consult)
    # The page reloads when what its reader may do changes, a document's state included.
    signature = "".join("1" if actions[k] else "0" for k in sorted(actions)) + "".join(
        f"-{d.noun}:{d.document.status.value if d.document else 'draft'}" for d in documents
    )
    context: dict[str, Any] = {
        "consult": consult,
        "actions": actions,
        "documents": documents,
        "document_titles": DOCUMENT_TITLES,
        "document_status_labels": DOCUMENT_STATUS_LABELS,
        "signature": signature,
        "is_requester": consult.requester_id == principal.user_id,
        "attachments": services.attachments_of(session, consult.id),
        "people": _people(consult),
        "is_consultant": bool(principal.roles & {Role.SPECIALIST, Role.RADIOLOGIST}),
    }
    if part == "live":
        return _render("consult/_live.html", **context)
    patient = _patients(session, principal, {consult.patient_id})[consult.patient_id]
    settings = current_app.config["HUB_SETTINGS"]
    # Other packages' parts of the page (imaging's studies), through the hub's seam.
    facts = hooks.ConsultPage(
        consult_id=consult.id,
        patient_id=consult.patient_id,
        national_id=consult.patient.national_id,
        id_country=consult.patient.id_country,
    )
    sections = [
        (s.template, s.context(session, principal, facts))
        for s in hooks.consult_page_sections.values()
    ]
    return _render(
        "consult/show.html",
        patient=patient,
        sections=sections,
        messages=services.messages_of(session, consult),
        dispositions=list(Disposition),
        kinds=list(AttachmentKind),
        max_bytes=settings.attachment_max_bytes,
        **context,
    )


@bp.get("/consults/<int:consult_id>/documents/<noun>.pdf")
@login_required
def document_pdf(consult_id: int, noun: str) -> ResponseReturnValue:
    """A consult document's PDF for the page: the signed one as stored, else the unsigned
    preview; shown in the page's frame, or downloaded with ``?download=1``."""
    kind = signing.KIND_BY_NOUN.get(noun)
    if kind is None:
        raise NotFound("Not found.")
    settings: Settings = current_app.config["HUB_SETTINGS"]
    data, signed = signing.pdf(db.session(), settings, _principal(), consult_id, kind)
    db.session().commit()  # the download is audited before the bytes leave
    name = f"consult-{consult_id}-{noun}" + ("" if signed else "-draft") + ".pdf"
    download = request.args.get("download") == "1"
    resp = Response(data, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = (
        f'{"attachment" if download else "inline"}; filename="{name}"'
    )
    resp.headers["X-Document-Status"] = "signed" if signed else "draft"
    resp.headers["Cache-Control"] = "private, no-store"
    # Only this hub's consult page may frame it (every other page refuses any framing).
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'self'"
    return resp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    roster_views.init_app(app)  # /oncall and /rosters
    sla_views.init_app(app)  # /sla-targets
