"""The page shell: home page per role and the language switcher."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from hub import db, hooks
from hub.auth.principal import user_principal
from hub.config import SUPPORTED_LOCALES
from hub.http import local_path
from hub.models import Role

bp = Blueprint("web", __name__)
log = logging.getLogger("hub.web")

# Each role's home lists the work areas its domain issues fill in.
HOME_SECTIONS: dict[Role, tuple[str, ...]] = {
    Role.CHW: (
        "patients",
        "consult_requests",
        "images",
        "follow_up_tasks",
        "referrals",
        "transfers",
    ),
    Role.NURSE: (
        "patients",
        "consult_requests",
        "images",
        "follow_up_tasks",
        "referrals",
        "transfers",
    ),
    Role.GP: ("patients", "consult_requests", "images", "referrals", "transfers"),
    Role.SPECIALIST: ("worklist", "roster", "video_sessions", "referrals"),
    Role.RADIOLOGIST: ("reading_worklist", "critical_results", "radiation_dose"),
    Role.COMMAND: (
        "command_centre",
        "live_queues",
        "sla_breaches",
        "command_alerts",
        "transfers",
        "progress_reports",
    ),
    Role.INSURER: ("claims_exports", "reconciliation"),
    Role.FACILITY_ADMIN: (
        "patients",
        "staff",
        "rosters",
        "ae_titles",
        "radiation_dose",
        "billing",
        "sla_targets",
    ),
    Role.QA_PHYSICIAN: ("quality_reviews", "radiation_dose", "audit"),
    Role.NATIONAL_ADMIN: (
        "facilities",
        "staff",
        "tariffs",
        "billing",
        "radiation_dose",
        "audit",
        "rosters",
        "sla_targets",
        "progress_reports",
        "command_centre",
    ),
}


ROLE_LABELS = {
    "chw": _l("Community health worker"),
    "nurse": _l("Nurse"),
    "gp": _l("General practitioner"),
    "specialist": _l("Specialist"),
    "radiologist": _l("Radiologist"),
    "command": _l("Command staff"),
    "insurer": _l("Insurer"),
    "facility_admin": _l("Facility administrator"),
    "qa_physician": _l("QA physician"),
    "national_admin": _l("National administrator"),
}
SECTION_LABELS = {
    "patients": _l("Patients"),
    "consult_requests": _l("Consultation requests"),
    "images": _l("Upload images"),
    "follow_up_tasks": _l("Follow-up tasks"),
    "referrals": _l("Referrals"),
    "worklist": _l("Worklist"),
    "roster": _l("On-call roster"),
    "video_sessions": _l("Video sessions"),
    "reading_worklist": _l("Reading worklist"),
    "critical_results": _l("Critical results"),
    "command_centre": _l("Command centre"),
    "live_queues": _l("Live queues"),
    "sla_breaches": _l("SLA breaches"),
    "transfers": _l("Transfers"),
    "claims_exports": _l("Claims exports"),
    "reconciliation": _l("Reconciliation"),
    "staff": _l("Staff"),
    "rosters": _l("Rosters"),
    "ae_titles": _l("DICOM AE titles"),
    "quality_reviews": _l("Quality reviews"),
    "audit": _l("Audit log"),
    "facilities": _l("Facilities"),
    "tariffs": _l("Tariffs"),
    "billing": _l("Billing"),
    "sla_targets": _l("SLA targets"),
    "radiation_dose": _l("Radiation dose"),
    "command_alerts": _l("Command alerts"),
    "progress_reports": _l("Progress reports"),
}
# Sections that have a page, by endpoint; domain packages register the blueprints. The home
# shows only these: a work area without its page is not promised on it.
SECTION_URLS = {
    "patients": "patient_pages.search",
    "consult_requests": "consult_pages.my_consults",
    "images": "imaging_pages.upload_page",
    "ae_titles": "imaging_admin.ae_titles_page",
    "worklist": "consult_pages.worklist",
    "claims_exports": "insurance_pages.analyst",
    "reconciliation": "insurance_pages.analyst",
    "billing": "insurance_pages.billing",
    "referrals": "referral_pages.index",
    "tariffs": "insurance_pages.tariffs_page",
    "roster": "roster_pages.oncall",
    "rosters": "roster_pages.roster",
    "sla_targets": "sla_pages.targets",
    "video_sessions": "video_pages.my_sessions",
    "command_centre": "command_board_pages.command_board",
    "live_queues": "consult_queue_pages.queues",
    "transfers": "transfer_pages.transfers",
    "sla_breaches": "consult_queue_pages.queues",
    "staff": "admin_pages.users",
    "audit": "audit_pages.events",
    "reading_worklist": "reading_pages.worklist",
    "critical_results": "reading_pages.critical_results",
    "radiation_dose": "imaging_dose.dashboard",
    "quality_reviews": "reading_qc.dashboard",
    "command_alerts": "command_progress_pages.alerts_page",
    "progress_reports": "command_progress_pages.national",
}
# Query arguments of a section's link, where two sections share one page.
SECTION_ARGS: dict[str, dict[str, Any]] = {"sla_breaches": {"breached": "1"}}


@bp.get("/")
def index() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    return redirect(url_for("auth.login"))


@bp.get("/home")
@login_required
def home() -> ResponseReturnValue:
    user = current_user.user
    principal = user_principal(user, "session")
    sections: list[str] = []
    for role in sorted(principal.roles, key=lambda r: r.value):
        sections.extend(s for s in HOME_SECTIONS[role] if s not in sections)
    urls = {
        s: url_for(endpoint, **SECTION_ARGS.get(s, {}))
        for s, endpoint in SECTION_URLS.items()
        if s in sections and endpoint in current_app.view_functions
    }
    sections = [s for s in sections if s in urls]
    # The reader's own work, listed by the packages that own it (open requests, documents to
    # countersign, follow-up tasks); each provider says None when the panel is not theirs.
    session_ = db.session()
    panels = [
        panel for provider in hooks.home_panels.values() if (panel := provider(session_, principal))
    ]
    html = render_template(
        "home.html",
        user=user,
        roles=sorted(r.value for r in principal.roles),
        sections=sections,
        role_labels=ROLE_LABELS,
        section_labels=SECTION_LABELS,
        section_urls=urls,
        panels=panels,
    )
    session_.commit()  # the panels' audit rows
    return html


@bp.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    # Browsers ask for /favicon.ico on pages without a <link rel=icon> (PDFs, JSON).
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/lang/<code>")
def set_language(code: str) -> ResponseReturnValue:
    if code in SUPPORTED_LOCALES:
        session["locale"] = code
    return redirect(local_path(request.args.get("next")) or url_for("web.index"))


def page_banners() -> list[hooks.Banner]:
    """The banners the signed-in reader sees at the top of every page (base.html)."""
    if not current_user.is_authenticated:
        return []
    principal = user_principal(current_user.user, "session")
    session_ = db.session()
    try:
        return [
            b for provider in hooks.page_banners.values() if (b := provider(session_, principal))
        ]
    except SQLAlchemyError:
        # An error page may be rendering because the database failed; it must still render.
        log.warning("page banners skipped: the database did not answer")
        session_.rollback()
        return []


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["page_banners"] = page_banners
