"""Dose pages: a patient's dose history with a chart, the facility dose dashboard, and the
reference-level table with the levels proposed from the hub's data."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from hub import db
from hub.auth.principal import Principal, user_principal
from hub.config import ImagingSettings
from hub.services import patients as patient_services
from imaging.dose import reports, services
from imaging.dose.schemas import PatientStudyDose

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
