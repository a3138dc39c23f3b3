"""The national administrator's tariffs page: the schedule versions, and a CSV upload whose
refusal lists each bad line and column in the reader's language. A file with any error stores
nothing (the import in :mod:`insurance.tariffs` validates it whole first).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from hub import db
from hub.auth.principal import Principal, user_principal
from hub.errors import Conflict, ValidationFailed
from hub.models import utcnow
from hub.permissions import require
from insurance import tariffs
from insurance.views import bp, money

SCHEDULES_SHOWN = 20
UNIT_LABELS = {"service": _l("per service"), "minute": _l("per started minute")}
# What each problem code of the import means, said to the reader.
PROBLEMS = {
    "unknown_column": _l("Unknown column; the columns are component, unit, amount, description."),
    "missing_column": _l("A required column is missing."),
    "duplicate_column": _l("A column appears twice."),
    "format": _l("The component is a lower-case code, its parts separated by ':'."),
    "seeds_000_print_not_billable": _l(
        "Printed film or paper is never billed (SEEDS 000): only electronic services have tariffs."
    ),
    "unit": _l("The unit is service or minute."),
    "length": _l("The description is longer than 200 characters."),
    "csv": _l("The line is not valid CSV."),
    "empty": _l("The file has no tariff lines."),
    "encoding": _l("The file is not UTF-8 text."),
}
FIELD_LABELS = {
    "label": _l("Schedule name"),
    "currency": _l("Currency"),
    "minor_unit": _l("Decimal places"),
    "effective_from": _l("In force from"),
    "file": _l("Tariff file (CSV)"),
}


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def describe(problem: dict[str, Any]) -> str:
    """One problem of an upload in the reader's language (the import says it in English)."""
    code, text = problem.get("code"), str(problem.get("problem", ""))
    if code == "duplicate" and (m := re.search(r"\d+", text)):
        return _("The component is already on line %(line)s.", line=m.group())
    if code == "field_count" and len(nums := re.findall(r"\d+", text)) == 2:
        return _("%(found)s fields; the header has %(expected)s.", found=nums[0], expected=nums[1])
    if code == "amount":
        if text.startswith("more than"):
            return _("The amount has more decimal places than the currency's minor unit.")
        if "negative" in text:
            return _("The amount must not be negative.")
        if "large" in text:
            return _("The amount is too large.")
        return _("The amount is not a number.")
    if code in PROBLEMS:
        return str(PROBLEMS[code])
    if problem.get("field") in FIELD_LABELS:
        return _("%(field)s is not valid.", field=FIELD_LABELS[problem["field"]])
    return _("The file is not valid.")


def _page(
    errors: list[dict[str, Any]] | None = None, message: str | None = None, status: int = 200
) -> ResponseReturnValue:
    session = db.session()
    rows = tariffs.schedules(session, limit=SCHEDULES_SHOWN)
    current = tariffs.in_force(session, utcnow().date())
    return render_template(
        "insurance/tariffs.html",
        schedules=rows,
        current_id=current.id if current else None,
        errors=errors or [],
        message=message,
        form=request.form if request.method == "POST" else {},
        unit_labels=UNIT_LABELS,
        field_labels=FIELD_LABELS,
        describe=describe,
        money=money,
    ), status


@bp.get("/tariffs")
@login_required
def tariffs_page() -> ResponseReturnValue:
    require(_principal(), "admin", roles=tariffs.TARIFF_ADMINS, action="insurance:tariffs:viewed")
    return _page()


@bp.post("/tariffs")
@login_required
def upload_tariffs() -> ResponseReturnValue:
    principal = _principal()
    require(principal, "admin", roles=tariffs.TARIFF_ADMINS, action="insurance:tariff:uploaded")
    session = db.session()
    form = request.form
    bad = []
    effective: date | None = None
    try:
        effective = date.fromisoformat(form.get("effective_from", "").strip())
    except ValueError:
        bad.append({"field": "effective_from"})
    minor = form.get("minor_unit", "")
    if not (minor.isdigit() and len(minor) == 1):
        bad.append({"field": "minor_unit"})
    upload = request.files.get("file")
    data = upload.read(tariffs.MAX_BYTES + 1) if upload is not None else b""
    if not data:
        bad.append({"field": "file"})
    if bad or effective is None:
        return _page(bad, _("Nothing was stored: correct the fields named below."), 422)
    try:
        schedule = tariffs.upload(
            session,
            principal,
            data=data,
            label=form.get("label", ""),
            currency=form.get("currency", "").strip().upper(),
            minor_unit=int(minor),
            effective_from=effective,
        )
        session.commit()
    except ValidationFailed as exc:
        session.rollback()
        details = exc.details if isinstance(exc.details, list) else []
        lines = [d for d in details if isinstance(d, dict)]
        message = _("The tariff file has %(count)s error(s); nothing was stored.", count=len(lines))
        return _page(lines, message, 422)
    except Conflict as exc:
        session.rollback()
        message = _(
            "A schedule already takes effect on %(date)s; a stored schedule never changes.",
            date=effective.isoformat(),
        )
        return _page(None, message, exc.status)
    flash(
        _(
            "Tariff schedule “%(label)s” stored: %(count)s lines, in force from %(date)s.",
            label=schedule.label,
            count=len(schedule.items),
            date=schedule.effective_from.isoformat(),
        )
    )
    return redirect(url_for("insurance_pages.tariffs_page"))
