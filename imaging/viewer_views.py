"""The diagnostic viewer page (Cornerstone3D over the hub's WADO-RS, ``static/dicom-viewer.js``)
for a study the reader may see, with the patient's other studies offered as priors beside it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import db
from hub.auth.principal import user_principal
from imaging import services
from imaging.api import _checked_uid
from imaging.models import Instance, InstanceKind, Study

bp = Blueprint("imaging_viewer", __name__, url_prefix="/imaging")

PRIORS_SHOWN = 10


@dataclass(frozen=True)
class ViewerSeries:
    uid: str
    modality: str
    label: str
    images: int
    # The SOP Instance UID of its first image (the one the viewer shows first), for the preview.
    first_sop: str | None


@dataclass(frozen=True)
class Prior:
    uid: str
    series_uid: str
    label: str


def viewer_series(session: Session, study: Study) -> list[ViewerSeries]:
    shown = services.series_with_images(session, study.id)
    return [
        ViewerSeries(
            s.series.series_instance_uid,
            s.series.modality or "",
            " ".join(
                str(p)
                for p in (s.series.modality, s.series.series_number, s.series.description)
                if p
            )
            or s.series.series_instance_uid,
            s.instances,
            _first_image(session, s.series.id),
        )
        for s in services.series_of(session, study.id)
        if s.series.id in shown
    ]


def _first_image(session: Session, series_id: int) -> str | None:
    return session.scalar(
        select(Instance.sop_instance_uid)
        .where(
            Instance.series_id == series_id,
            Instance.deleted_at.is_(None),
            Instance.kind == InstanceKind.IMAGE,
        )
        .order_by(Instance.instance_number, Instance.id)
        .limit(1)
    )


@bp.get("/studies/<study_instance_uid>/viewer")
@login_required
def viewer_page(study_instance_uid: str) -> ResponseReturnValue:
    principal = user_principal(current_user.user, "session")
    session = db.session()
    study = services.get_study(session, principal, _checked_uid(study_instance_uid))
    priors: list[Prior] = []
    if study.patient_id is not None:
        others = session.scalars(
            select(Study)
            .where(
                Study.patient_id == study.patient_id,
                Study.id != study.id,
                services.study_visibility(principal),
            )
            .order_by(Study.study_date.desc(), Study.id.desc())
            .limit(PRIORS_SHOWN)
        )
        for other in others:
            first = next(iter(viewer_series(session, other)), None)
            if first is not None:
                label = " · ".join(
                    str(p) for p in (other.study_date, other.description, first.label) if p
                )
                priors.append(Prior(other.study_instance_uid, first.uid, label))
    page = render_template(
        "imaging/dicom_viewer.html",
        study=study,
        series=viewer_series(session, study),
        priors=priors,
        dicomweb_root=url_for("dicomweb.search_studies").removesuffix("/studies"),
    )
    session.commit()  # the study's audited view goes with the page
    return page
