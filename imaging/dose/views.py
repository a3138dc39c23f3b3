"""Dose pages: a patient's dose history with a chart, the facility dose dashboard, and the
reference-level table with the levels proposed from the hub's data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from pydantic import ValidationError

from hub import db
from hub.auth.principal import Principal, user_principal
from hub.config import ImagingSettings
from hub.errors import Conflict, ValidationFailed
from hub.models import Facility, utcnow
from hub.services import patients as patient_services
from imaging.devices import services as devices
from imaging.dose import compliance, mapping, reports, services
from imaging.dose.reference import EXAM_MODALITY, UNCLASSIFIED
from imaging.dose.schemas import ExamTypeRuleIn, PatientStudyDose

bp = Blueprint("imaging_dose", __name__, url_prefix="/imaging/dose")
CHART_WIDTH, CHART_HEIGHT, CHART_TOP = 640, 200, 10


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def _settings() -> ImagingSettings:
    return current_app.config["HUB_SETTINGS"].imaging


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    line: str  # SVG polyline points: the cumulative estimate
    maximum: float
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def _chart(studies: list[PatientStudyDose]) -> Chart | None:
    """Bars of each study's effective-dose estimate and the cumulative line, as SVG geometry
    (attributes, not styles: the content security policy allows no inline style)."""
    values = [s.effective_dose_msv_estimate or 0.0 for s in studies]
    if not any(values):
        return None
    cumulative, running = [], 0.0
    for value in values:
        running += value
        cumulative.append(running)
    top = cumulative[-1]
    slot = CHART_WIDTH / len(values)
    usable = CHART_HEIGHT - CHART_TOP
    bars, points = [], []
    for index, (study, value) in enumerate(zip(studies, values, strict=True)):
        height = round(usable * value / top)
        x = round(index * slot + slot * 0.15)
        label = study.study_date.isoformat() if study.study_date else study.study_instance_uid
        bars.append(Bar(x, CHART_HEIGHT - height, max(1, round(slot * 0.7)), height, label))
        y = CHART_HEIGHT - round(usable * cumulative[index] / top)
        points.append(f"{round(index * slot + slot / 2)},{y}")
    return Chart(bars, " ".join(points), top)


@bp.get("/patients/<int:patient_id>")
@login_required
def patient_history(patient_id: int) -> ResponseReturnValue:
    """A patient's cumulative dose over time (who may see the patient and read imaging)."""
    sess = db.session()
    principal = _principal()
    history = services.patient_dose(sess, principal, patient_id, _settings())
    patient = patient_services.get_patient(sess, principal, patient_id)
    sess.commit()
    return render_template(
        "imaging/dose/patient.html",
        patient=patient,
        history=history,
        chart=_chart(history.studies),
    )


@bp.get("/")
@login_required
def dashboard() -> ResponseReturnValue:
    """The facility dose dashboard: per device and exam type against the reference levels."""
    sess = db.session()
    code = request.args.get("facility", "").strip()[:32] or None
    found = reports.dashboard(sess, _principal(), _settings(), code)
    sess.commit()
    return render_template(
        "imaging/dose/dashboard.html",
        board=found,
        factor=_settings().dose_drl_factor_percent,
        quantities=reports.QUANTITIES,
    )


@bp.get("/reference-levels")
@login_required
def reference_levels() -> ResponseReturnValue:
    """The reference levels in force, with their sources, and those the data propose."""
    sess = db.session()
    principal = _principal()
    levels = services.reference_levels(sess, principal, _settings())
    proposed = reports.proposals(sess, principal, _settings())
    sess.commit()
    return render_template(
        "imaging/dose/levels.html",
        levels=levels,
        proposed=proposed,
        min_exams=reports.MIN_EXAMS,
    )


def _day(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise ValidationFailed(name) from None


@bp.get("/compliance")
@login_required
def compliance_page() -> ResponseReturnValue:
    """Studies late for the national node, and CT/MG devices sending no dose data."""
    sess = db.session()
    code = request.args.get("facility", "").strip()[:32] or None
    error, status = None, 200
    try:
        found = compliance.report(sess, _principal(), _settings(), code, _day("from"), _day("to"))
    except ValidationFailed:
        sess.rollback()
        error, status = _("Choose a period of at most 366 days that starts before it ends."), 422
        found = compliance.report(sess, _principal(), _settings(), code)
    page = render_template(
        "imaging/dose/compliance.html",
        found=found,
        error=error,
        now=utcnow(),
    )
    sess.commit()
    return page, status


def _mapping_page(
    error: str | None = None, form: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    sess = db.session()
    principal = _principal()
    facilities = devices.visible_facilities(sess, principal)
    code = request.args.get("facility", "").strip()[:32] or request.form.get("facility", "")
    facility = next((f for f in facilities if f.code == code), None)
    if facility is None:
        facility = next((f for f in facilities if f.id == principal.facility_id), None)
    if facility is None and facilities:
        facility = facilities[0]
    rules = mapping.list_rules(sess, principal, facility.id) if facility else []
    page = render_template(
        "imaging/dose/exam_types.html",
        facility=facility,
        facilities=facilities,
        rules=rules,
        may_edit=facility is not None and mapping.may_edit(principal, facility.id),
        exam_types=[*EXAM_MODALITY, UNCLASSIFIED],
        modality_of=EXAM_MODALITY,
        error=error,
        form=form or {},
    )
    sess.commit()
    return page, status


@bp.get("/exam-types")
@login_required
def exam_types() -> ResponseReturnValue:
    """The facility's exam-type mapping, tried before the built-in rules."""
    return _mapping_page()


@bp.post("/exam-types")
@login_required
def add_exam_type() -> ResponseReturnValue:
    sess = db.session()
    form = {k: request.form.get(k, "").strip() for k in ("pattern", "exam_type", "facility_id")}
    raw = form["facility_id"]
    try:
        body = ExamTypeRuleIn.model_validate(
            {
                "pattern": form["pattern"],
                "exam_type": form["exam_type"],
                "facility_id": int(raw)
                if raw.isascii() and raw.isdigit() and len(raw) < 10
                else None,
            }
        )
        row = mapping.add_rule(sess, _principal(), body)
    except ValidationError:
        return _mapping_page(
            _("Write at least 2 characters of the description and choose an exam type."),
            form,
            422,
        )
    except Conflict:
        sess.rollback()
        return _mapping_page(
            _("The facility has a rule for this text already; delete it to change it."), form, 409
        )
    except ValidationFailed:
        sess.rollback()
        return _mapping_page(_("Unknown facility."), form, 422)
    sess.commit()
    flash(
        _("The rule is added; it applies to the facility's exams from now on and to earlier ones.")
    )
    return redirect(url_for("imaging_dose.exam_types", facility=row_code(row.facility_id)))


def row_code(facility_id: int) -> str | None:
    found = db.session().get(Facility, facility_id)
    return found.code if found else None


@bp.post("/exam-types/<int:rule_id>/delete")
@login_required
def delete_exam_type(rule_id: int) -> ResponseReturnValue:
    sess = db.session()
    row = mapping.delete_rule(sess, _principal(), rule_id)
    code = row_code(row.facility_id)
    sess.commit()
    flash(_("The rule is deleted."))
    return redirect(url_for("imaging_dose.exam_types", facility=code))
