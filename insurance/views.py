"""Insurance pages: the insurer analyst's view (exports, rejection statistics, totals by facility
and month) and a facility's billing view (its claims, those held for review, rejections).

Charts are inline SVG rendered here: no script, no CDN. Corrections go through the service, as
the API's do.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from hub import db
from hub.auth.principal import Principal, user_principal
from hub.errors import AccessDenied, HubError
from hub.models import Facility, Role
from insurance import reports, services
from insurance.models import Claim

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
CHART_W, BAR_H, GAP, LABEL_W = 640, 22, 6, 190


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
    """Geometry of a horizontal bar chart for the ``_chart.html`` macro."""
    top = max((b.value for b in bars), default=0) or 1
    width = CHART_W - LABEL_W - 110
    rows = []
    for i, bar in enumerate(bars):
        rows.append(
            {
                "y": i * (BAR_H + GAP),
                "label": str(labels.get(bar.label, bar.label)) if labels else bar.label,
                "w": max(1, round(width * max(bar.value, 0) / top)) if bar.value else 0,
                "value": money(bar.value),
            }
        )
    return {
        "rows": rows,
        "width": CHART_W,
        "height": max(BAR_H, len(bars) * (BAR_H + GAP)),
        "label_w": LABEL_W,
        "bar_h": BAR_H,
    }


@bp.get("/analyst")
@login_required
def analyst() -> ResponseReturnValue:
    session = db.session()
    overview = reports.insurer_overview(session, _principal())
    session.commit()
    return render_template(
        "insurance/analyst.html",
        o=overview,
        months_chart=bar_chart(overview["month_bars"]),
        reasons_chart=bar_chart(overview["reason_bars"], REASON_LABELS),
        reason_labels=REASON_LABELS,
        format_labels=FORMAT_LABELS,
        money=money,
    )


@bp.get("/billing")
@login_required
def billing() -> ResponseReturnValue:
    principal = _principal()
    session = db.session()
    facility = None
    code = request.args.get("facility", "").strip()
    if code and principal.has_role(Role.NATIONAL_ADMIN):
        facility = session.scalar(select(Facility).where(Facility.code == code))
    status = request.args.get("status") or None
    if status not in (None, "held", "ready", "rejected"):
        status = None
    facility_id = facility.id if facility else None
    overview = reports.facility_overview(session, principal, facility_id)
    claims = services.facility_claims(
        session, principal, facility_id=facility_id, status=status, limit=100
    )
    recs = services.reconciliations_of(session, [c.id for c in claims])
    session.commit()
    return render_template(
        "insurance/billing.html",
        o=overview,
        claims=claims,
        recs=recs,
        status=status,
        facility=facility,
        is_national=principal.has_role(Role.NATIONAL_ADMIN),
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
