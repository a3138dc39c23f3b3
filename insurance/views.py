"""Insurance pages: the insurer analyst's view (exports, rejection statistics, totals by facility
and month) and a facility's billing view (its claims, those held for review, rejections).

Charts are inline SVG rendered here: no script, no CDN. Corrections go through the service, as
the API's do.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from hub import db
from hub.auth.principal import Principal, user_principal
from hub.errors import AccessDenied, Conflict, HubError, ValidationFailed
from hub.models import Facility, InsurerKind, Role
from insurance import reports, review, services
from insurance.models import Claim, ClaimKind, ClaimStatus, Decision
from insurance.schemas import IDENTIFIER

bp = Blueprint("insurance_pages", __name__, url_prefix="/insurance")

REASON_LABELS = {
    "not_member": _l("Not a member on the service date"),
    "not_covered": _l("Not covered by the contract"),
    "duplicate": _l("Already billed"),
    "tariff_mismatch": _l("Amount differs from the approved tariff"),
    "missing_documentation": _l("Signed document missing"),
    "no_contract": _l("No contract with the facility"),
    "other": _l("Other"),
}
SERVICE_LABELS = {
    "consult_outcome": _l("Consult outcome"),
    "e_prescription": _l("E-prescription"),
    "referral_letter": _l("Referral letter"),
}
KIND_LABELS = {"original": _l("Original"), "credit": _l("Credit"), "rebill": _l("Rebill")}
HOLD_LABELS = {
    "no_tariff_in_force": _l("No tariff in force on the service date"),
    "no_tariff_for_component": _l("No tariff for a component"),
    "video_minutes_unavailable": _l("Video minutes unavailable"),
    "quantity_for_service_unit": _l("Quantity given for a per-service tariff"),
    "bad_quantity": _l("Invalid quantity"),
}
FORMAT_LABELS = {"csv": "CSV", "jsonl": _l("JSON lines"), "fhir": _l("FHIR R4 bundles")}
REVIEW_LABELS = {
    "pending": _l("Not yet reconciled"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
}
CLAIMS_PER_PAGE = 50
FILTER_ARGS = ("status", "facility", "from", "to", "member")
MEMBER_ID = re.compile(IDENTIFIER)


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def money(minor: int, minor_unit: int = 0) -> str:
    """Minor units as a grouped decimal, e.g. 1500000 → 1,500,000 (exact, no float)."""
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**minor_unit) if minor_unit else (abs(minor), 0)
    text = f"{whole:,}"
    if minor_unit:
        text += f".{frac:0{minor_unit}d}"
    return sign + text


def bar_chart(bars: list[reports.Bar], labels: dict[str, Any] | None = None) -> dict[str, Any]:
    """A horizontal bar chart for the ``_chart.html`` macro: Chart.js draws it from the values,
    and the same rows are its table for screen readers and for a page without scripts."""
    return {
        "rows": [
            {
                "label": str(labels.get(bar.label, bar.label)) if labels else bar.label,
                "value": money(bar.value),
                "raw": bar.value,
            }
            for bar in bars
        ]
    }


def _analyst_filters(args: Any, choices: list[Facility]) -> tuple[review.ReviewFilter, list[str]]:
    """The claims list's filters from the query string; a bad value is named, not guessed."""
    problems: list[str] = []
    status = args.get("status") or None
    if status not in (None, *review.REVIEW_STATUSES):
        status = None
    code = args.get("facility", "").strip()
    facility = next((f for f in choices if f.code == code), None)
    dates: dict[str, date | None] = {}
    for name, label in (("from", _("Date of service from")), ("to", _("Date of service to"))):
        text = args.get(name, "").strip()
        dates[name] = None
        if text:
            try:
                dates[name] = date.fromisoformat(text)
            except ValueError:
                problems.append(_("%(field)s is not a date.", field=label))
    if dates["from"] and dates["to"] and dates["to"] < dates["from"]:
        problems.append(_("The period ends before it starts."))
        dates["to"] = None
    member = args.get("member", "").strip()
    if member and not MEMBER_ID.match(member):
        problems.append(_("A member number has letters and digits, with . _ / - inside."))
        member = ""
    flt = review.ReviewFilter(
        status=status,
        facility_id=facility.id if facility else None,
        service_from=dates["from"],
        service_to=dates["to"],
        member_id=member or None,
    )
    return flt, problems


def _analyst_page(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    session = db.session()
    principal = _principal()
    overview = reports.insurer_overview(session, principal)
    choices = review.facilities_billing(session, principal)
    args = request.args if request.method == "GET" else _back_args()
    flt, problems = _analyst_filters(args, choices)
    before = args.get("before", "")
    rows = review.released_claims(
        session,
        principal,
        flt,
        limit=CLAIMS_PER_PAGE,
        before_id=int(before) if before.isdigit() and len(before) < 19 else None,
    )
    session.commit()
    query: dict[str, Any] = {k: v for k, v in args.items() if k in FILTER_ARGS and v}
    older = (
        url_for("insurance_pages.analyst", **query, before=rows[-1].claim.id)
        if len(rows) == CLAIMS_PER_PAGE
        else None
    )
    return render_template(
        "insurance/analyst.html",
        o=overview,
        rows=rows,
        flt=flt,
        problems=problems,
        error=error,
        facilities=choices,
        chosen_facility=next((f for f in choices if f.id == flt.facility_id), None),
        back=urlencode({k: v for k, v in args.items() if k in (*FILTER_ARGS, "before") and v}),
        older=older,
        filtered=bool(query),
        review_statuses=REVIEW_LABELS,
        months_chart=bar_chart(overview["month_bars"]),
        reasons_chart=bar_chart(overview["reason_bars"], REASON_LABELS),
        reason_labels=REASON_LABELS,
        service_labels=SERVICE_LABELS,
        kind_labels=KIND_LABELS,
        format_labels=FORMAT_LABELS,
        money=money,
    ), status


def _back_args() -> dict[str, Any]:
    """The list's filters a reconciliation form came from (its hidden ``back`` field)."""
    pairs = parse_qsl(request.form.get("back", ""))[:10]
    return {k: v for k, v in pairs if k in (*FILTER_ARGS, "before")}


@bp.get("/analyst")
@login_required
def analyst() -> ResponseReturnValue:
    return _analyst_page()


@bp.post("/analyst/claims/<bigint:claim_id>/reconcile")
@login_required
def reconcile(claim_id: int) -> ResponseReturnValue:
    """Accept or reject the insurer's share of a claim from the claims list."""
    session = db.session()
    decision = request.form.get("decision", "")
    reason = request.form.get("reason_code", "").strip() or None
    note = request.form.get("note", "").strip() or None
    try:
        if decision not in ("accepted", "rejected"):
            raise ValidationFailed(_("Choose to accept or to reject the claim."))
        if decision == "rejected" and reason not in services.REASON_CODES:
            raise ValidationFailed(_("Choose the reason for the rejection from the list."))
        if note is not None and len(note) > 2000:
            raise ValidationFailed(_("The note is longer than 2000 characters."))
        services.reconcile(
            session,
            _principal(),
            claim_id,
            decision=Decision(decision),
            reason_code=reason if decision == "rejected" else None,
            note=note,
        )
        session.commit()
    except AccessDenied:
        raise
    except Conflict as exc:
        session.rollback()
        return _analyst_page(_("Claim #%(id)s is already reconciled.", id=claim_id), exc.status)
    except HubError as exc:
        session.rollback()
        return _analyst_page(exc.message, exc.status)
    if decision == "accepted":
        flash(_("Claim #%(id)s accepted.", id=claim_id))
    else:
        flash(
            _("Claim #%(id)s rejected: %(reason)s", id=claim_id, reason=REASON_LABELS[str(reason)])
        )
    return redirect(url_for("insurance_pages.analyst", **_back_args()))


def uninsured(session: Any, claims: list[Claim]) -> dict[int, bool]:
    """Claims that bill the patient the full amount because no membership was on file on the
    date of service, each with whether one is on file now (then pricing again bills the
    insurer)."""
    out: dict[int, bool] = {}
    for cl in claims:
        if (
            cl.kind is not ClaimKind.CREDIT
            and cl.status is ClaimStatus.READY
            and cl.total_minor > 0
            and cl.basic_insurer_id is None
            and cl.supplementary_insurer_id is None
        ):
            found = services.memberships_on(session, cl.patient_id, cl.service_at.date())
            out[cl.id] = InsurerKind.BASIC in found or InsurerKind.SUPPLEMENTARY in found
    return out


@bp.get("/billing")
@login_required
def billing() -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    facility = None
    is_national = principal.has_role(Role.NATIONAL_ADMIN)
    facilities = (
        list(session.scalars(select(Facility).order_by(Facility.name, Facility.code)))
        if is_national
        else []
    )
    code = request.args.get("facility", "").strip()
    if code and is_national:
        facility = next((f for f in facilities if f.code == code), None)
    status = request.args.get("status") or None
    if status not in (None, "held", "ready", "rejected"):
        status = None
    facility_id = facility.id if facility else None
    overview = reports.facility_overview(session, principal, facility_id)
    claims = services.facility_claims(
        session, principal, facility_id=facility_id, status=status, limit=100
    )
    recs = services.reconciliations_of(session, [c.id for c in claims])
    no_member = uninsured(session, claims)
    session.commit()
    return render_template(
        "insurance/billing.html",
        o=overview,
        claims=claims,
        recs=recs,
        no_member=no_member,
        status=status,
        facility=facility,
        facilities=facilities,
        is_national=is_national,
        patient_links="patient_pages.show" in current_app.view_functions,
        months_chart=bar_chart(overview["month_bars"]),
        reasons_chart=bar_chart(overview["reason_bars"], REASON_LABELS),
        reason_labels=REASON_LABELS,
        service_labels=SERVICE_LABELS,
        kind_labels=KIND_LABELS,
        hold_labels=HOLD_LABELS,
        money=money,
    )


@bp.post("/billing/<bigint:claim_id>/correct")
@login_required
def correct(claim_id: int) -> ResponseReturnValue:
    """Price a held claim again, or resubmit a rejected one, from the consult's record."""
    session = db.session()
    reason = request.form.get("reason", "").strip()
    try:
        if len(reason) < 3:
            raise HubError(_("Give a reason for the correction."))
        written = services.correct(session, _principal(), claim_id, reason=reason)
        session.commit()
        flash(_("Claim corrected: %(ids)s", ids=", ".join(f"#{c.id}" for c in written)))
    except AccessDenied:
        raise
    except HubError as exc:
        session.rollback()
        flash(_("Not corrected: %(reason)s", reason=exc.message))
    claim = db.session().get(Claim, claim_id)
    facility = claim.facility.code if claim is not None else None
    return redirect(url_for("insurance_pages.billing", facility=facility))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
