"""Device registry pages: the devices of a facility (list, register, edit), a device's dose
exemption and daily operating log, and the uptime table per device and period."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from hub import db
from hub.auth.principal import Principal, user_principal
from hub.errors import Conflict, HubError, NotFound, ValidationFailed
from imaging.devices import services
from imaging.devices.schemas import DeviceIn, ExemptionIn, LogIn

bp = Blueprint("imaging_devices", __name__, url_prefix="/imaging/devices")
DEVICE_FIELDS = (
    "facility_id",
    "modality",
    "manufacturer",
    "model",
    "serial_number",
    "station_name",
    "ae_title",
    "national_device_id",
)
MODALITIES = ("CT", "MG", "XA", "DX", "CR", "RF", "US", "MR", "NM", "PT", "OT")
LIST_LIMIT = 200


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def _field_names() -> dict[str, str]:
    return {
        "facility_id": _("Facility"),
        "modality": _("Modality"),
        "manufacturer": _("Manufacturer"),
        "model": _("Model"),
        "serial_number": _("Serial number"),
        "station_name": _("Station name"),
        "ae_title": _("AE title"),
        "national_device_id": _("National device id"),
        "justification": _("Justification"),
        "date": _("Date"),
        "planned_minutes": _("Planned minutes"),
        "downtime_minutes": _("Downtime minutes"),
        "note": _("Note"),
    }


def parse_form(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """The form as the API's model; a bad field is a 422 naming the fields in the reader's
    language."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        names = _field_names()
        fields = sorted({names.get(str(e["loc"][0]), str(e["loc"][0])) for e in exc.errors()})
        raise ValidationFailed(
            _("Check these fields: %(fields)s.", fields=", ".join(fields))
        ) from None


def message(exc: HubError) -> str:
    """The services' refusals (written in English) in the reader's language."""
    details = exc.details if isinstance(exc.details, dict) else {}
    by_code = {
        "serial_number_taken": _("This facility has a device with this serial number already."),
        "national_device_id_taken": _("Another device has this national device id."),
        "log_exists": _("This device has a log for this day already."),
        "exempt_already": _(
            "The device is exempt already; withdraw the exemption to write a new one."
        ),
    }
    by_detail = {
        ("ae_title", "invalid"): _(
            "An AE title is 1 to 16 letters, digits, spaces, '_', '-' or '.'."
        ),
        ("downtime_minutes", "above planned_minutes"): _(
            "Downtime cannot exceed the planned minutes of the day."
        ),
        ("date", "future"): _("An operating log is written for a day that has begun."),
        ("serial_number", "mismatch"): _(
            "The serial number is not the device's: write the serial number on the unit."
        ),
        ("modality", "exempt"): _(
            "An exempt device is CT or mammography; withdraw the exemption first."
        ),
        ("facility_id", "missing"): _("Choose a facility."),
        ("facility_id", "fixed"): _(
            "A device keeps its facility; register a moved unit at its new facility."
        ),
    }
    if exc.code in by_code:
        return by_code[exc.code]
    if isinstance(exc, NotFound):
        return _("The device has no exemption.")
    for (key, value), text in by_detail.items():
        if details.get(key) == value:
            return text
    if "modality" in details:
        return _("Only CT and mammography units may be exempt from dose data.")
    if "facility_id" in details:
        return _("Unknown facility.")
    if "from" in details or "to" in details:
        return _("Choose a period of at most 366 days that starts before it ends.")
    if isinstance(exc, Conflict):
        return _("Someone else changed this at the same moment. Try again.")
    return exc.message  # already translated (parse_form)


def _form(names: tuple[str, ...]) -> dict[str, Any]:
    return {k: request.form.get(k, "").strip() for k in names}


def _device_body(form: dict[str, Any], principal: Principal) -> DeviceIn:
    data: dict[str, Any] = {k: v for k, v in form.items() if v != ""}
    data["active"] = request.form.get("active") == "1"
    if "facility_id" in data:
        raw = str(data["facility_id"])
        data["facility_id"] = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1
    return parse_form(DeviceIn, data)


def _list_page(
    sess: Session,
    principal: Principal,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    facilities = services.visible_facilities(sess, principal)
    code = request.args.get("facility", "").strip()[:32]
    chosen = next((f for f in facilities if f.code == code), None)
    rows = services.list_devices(
        sess, principal, facility_id=chosen.id if chosen else None, limit=LIST_LIMIT
    )
    page = render_template(
        "imaging/devices/list.html",
        rows=rows,
        facilities=facilities,
        chosen=chosen,
        kept=services.kept_facilities(sess, principal),
        modalities=MODALITIES,
        error=error,
        form=form or {"active": "1"},
    )
    sess.commit()
    return page, status


@bp.get("/")
@login_required
def devices_page() -> ResponseReturnValue:
    """The devices of the facilities the caller sees, and a form to register one."""
    return _list_page(db.session(), _principal())


@bp.post("/")
@login_required
def create() -> ResponseReturnValue:
    principal = _principal()
    sess = db.session()
    form = _form(DEVICE_FIELDS)
    form["active"] = request.form.get("active", "")
    try:
        row = services.create_device(sess, principal, _device_body(form, principal))
    except (ValidationFailed, Conflict) as exc:
        sess.rollback()
        return _list_page(sess, principal, error=message(exc), form=form, status=exc.status)
    sess.commit()
    flash(_("The device is registered."))
    return redirect(url_for("imaging_devices.device_page", device_id=row.id))


def _device_page(
    sess: Session,
    principal: Principal,
    device_id: int,
    *,
    error: str | None = None,
    error_in: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    row = services.get_device(sess, principal, device_id)
    logs = services.logs_of(sess, principal, device_id)
    uptime = services.uptime(sess, principal, None, None, facility_id=row.facility_id)
    mine = next((g for g in uptime.groups if g.device_id == row.id), None)
    page = render_template(
        "imaging/devices/device.html",
        device=row,
        logs=logs,
        uptime=uptime,
        mine=mine,
        may_keep=services.may_keep(principal, row),
        may_log=services.may_log(principal, row),
        exemptable=row.modality in services.EXEMPTABLE,
        modalities=MODALITIES,
        today=date.today().isoformat(),
        error=error,
        error_in=error_in,
        form=form or {},
    )
    sess.commit()
    return page, status


@bp.get("/<int:device_id>")
@login_required
def device_page(device_id: int) -> ResponseReturnValue:
    """A device: its details, exemption, daily logs and uptime of the last 30 days."""
    return _device_page(db.session(), _principal(), device_id)


def _post(device_id: int, part: str, action: Any, done: str) -> ResponseReturnValue:
    principal = _principal()
    sess = db.session()
    form = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
    try:
        action(sess, principal, form)
    except (ValidationFailed, Conflict, NotFound) as exc:
        sess.rollback()
        if isinstance(exc, NotFound) and part != "exemption":
            raise
        return _device_page(
            sess,
            principal,
            device_id,
            error=message(exc),
            error_in=part,
            form=form,
            status=exc.status,
        )
    sess.commit()
    flash(done)
    return redirect(url_for("imaging_devices.device_page", device_id=device_id) + f"#{part}")


@bp.post("/<int:device_id>")
@login_required
def update(device_id: int) -> ResponseReturnValue:
    def change(sess: Session, principal: Principal, form: dict[str, Any]) -> None:
        body = _device_body({k: form.get(k, "") for k in DEVICE_FIELDS}, principal)
        services.update_device(sess, principal, device_id, body)

    return _post(device_id, "details", change, _("The device is changed."))


@bp.post("/<int:device_id>/exemption")
@login_required
def exempt(device_id: int) -> ResponseReturnValue:
    def grant(sess: Session, principal: Principal, form: dict[str, Any]) -> None:
        body = parse_form(
            ExemptionIn,
            {k: form.get(k, "") for k in ("serial_number", "justification")},
        )
        services.set_exemption(sess, principal, device_id, body)

    return _post(device_id, "exemption", grant, _("The exemption is recorded."))


@bp.post("/<int:device_id>/exemption/withdraw")
@login_required
def withdraw(device_id: int) -> ResponseReturnValue:
    def end(sess: Session, principal: Principal, form: dict[str, Any]) -> None:
        services.withdraw_exemption(sess, principal, device_id)

    return _post(device_id, "exemption", end, _("The exemption is withdrawn."))


@bp.post("/<int:device_id>/logs")
@login_required
def log(device_id: int) -> ResponseReturnValue:
    def add(sess: Session, principal: Principal, form: dict[str, Any]) -> None:
        data = {k: form.get(k, "") for k in ("date", "planned_minutes", "downtime_minutes")}
        data["note"] = form.get("note") or None
        services.add_log(sess, principal, device_id, parse_form(LogIn, data))

    return _post(device_id, "logs", add, _("The day is logged."))


def _day(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise ValidationFailed(
            _("Choose a period of at most 366 days that starts before it ends.")
        ) from None


@bp.get("/uptime")
@login_required
def uptime_page() -> ResponseReturnValue:
    """Uptime per device over a period (30 days to today by default)."""
    principal = _principal()
    sess = db.session()
    facilities = services.visible_facilities(sess, principal)
    code = request.args.get("facility", "").strip()[:32]
    chosen = next((f for f in facilities if f.code == code), None)
    error, found, status = None, None, 200
    try:
        found = services.uptime(
            sess, principal, _day("from"), _day("to"), facility_id=chosen.id if chosen else None
        )
    except ValidationFailed as exc:
        sess.rollback()
        error, status = message(exc), 422
    page = render_template(
        "imaging/devices/uptime.html",
        found=found,
        facilities=facilities,
        chosen=chosen,
        error=error,
        asked={"from": request.args.get("from", ""), "to": request.args.get("to", "")},
    )
    sess.commit()
    return page, status
