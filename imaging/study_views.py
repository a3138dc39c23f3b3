"""Staff pages of studies: the list (by patient, by facility, by text), what a study's page
shows beside its row (thumbnails, forwarding in words, its links, the consults it may join),
a series' thumbnail and attaching a study to a consult."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult import services as consult_services
from hub import db
from hub.auth.principal import Principal, user_principal
from hub.errors import BadRequest
from hub.permissions import has_scope
from imaging import consults, links, services, storage
from imaging.api import _checked_uid
from imaging.dose import services as dose_services
from imaging.dose.compliance import DOSE_MODALITIES
from imaging.dose.schemas import StudyDoseOut
from imaging.models import ImageLink, Series, Study, StudyConsult
from imaging.render import CannotRender, render_png
from imaging.schemas import ForwardingOut

bp = Blueprint("imaging_studies", __name__, url_prefix="/imaging")

PAGE = 25
THUMB_SIDE = 160
# Consults offered on a study's page for attaching: the newest the caller sees.
CONSULTS_SCANNED = 200


def _principal() -> Principal:
    return user_principal(current_user.user, "session")


def _private(resp: Response) -> Response:
    # A patient's images: never kept by browsers or proxies.
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _id_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) >= 2**31:
        raise BadRequest(f"{name} is not a position in the list.")
    return int(raw)


@bp.get("/studies")
@login_required
def studies() -> ResponseReturnValue:
    """The studies the caller may see, newest first, a page at a time."""
    principal = _principal()
    sess = db.session()
    national_id = request.args.get("patient", "").strip()[:32] or None
    text = request.args.get("q", "").strip()[:64] or None
    code = request.args.get("facility", "").strip()[:32] or None
    before = _id_arg("before")
    choices = services.study_facilities(sess, principal)
    facility = next((f for f in choices if f.code == code), None)
    problem = None
    if national_id is not None and len(national_id) < 5:
        problem = _("A national id has at least 5 characters.")
        national_id = None
    found: list[Study] = []
    if code is not None and facility is None:
        # A facility that sent nothing the caller sees: nothing to list (no error).
        found = []
    else:
        found = services.list_studies(
            sess,
            principal,
            national_id=national_id,
            facility_id=facility.id if facility else None,
            text=text,
            after_id=before or 0,
            limit=PAGE + 1,
        )
    more = len(found) > PAGE
    found = found[:PAGE]
    keep: dict[str, Any] = {
        k: v for k, v in {"patient": national_id, "q": text, "facility": code}.items() if v
    }
    older = (
        url_for("imaging_studies.studies", before=found[-1].id, **keep) if more and found else None
    )
    page = render_template(
        "imaging/studies.html",
        studies=found,
        facilities=choices,
        chosen={"patient": national_id or "", "q": text or "", "facility": code or ""},
        problem=problem,
        older=older,
        first=url_for("imaging_studies.studies", **keep) if before else None,
        may_upload=has_scope(principal, "imaging:write"),
    )
    sess.commit()  # the listing's audit goes with the page
    return page


@dataclass(frozen=True)
class Forwarding:
    """A study's forwarding, as the page says it: one of the ``kind`` sentences."""

    kind: str  # off | not_queued | queued | sending | waiting | sent | failed
    sent: int
    total: int
    failed: int
    since: datetime | None  # waiting: since the oldest unsent instance arrived
    at: datetime | None  # sent: when the last instance went
    reason: str | None


def forwarding_words(sess: Session, study: Study, out: ForwardingOut) -> Forwarding:
    """From the status codes (``not_configured``, ``received``...) to what the page says."""
    waiting_since, sent_at = services.forwarding_times(sess, study.id)
    status = out.status
    if status == "not_configured":
        kind = "off"
    elif out.total == 0:
        kind = "not_queued"  # received while no central archive was configured
    elif status == "failed":
        kind = "failed"
    elif status == "forwarded":
        kind = "sent"
    elif status == "forwarding" and out.reason:
        kind = "waiting"
    elif status == "forwarding":
        kind = "sending"
    else:
        kind = "queued"
    return Forwarding(
        kind, out.forwarded, out.total, out.failed, waiting_since, sent_at, out.reason
    )


@dataclass(frozen=True)
class ConsultChoice:
    id: int
    specialty: str
    created_at: datetime
    attached: bool


def consult_choices(sess: Session, principal: Principal, study: Study) -> list[ConsultChoice]:
    """The caller's consults of the study's patient, newest first, marked when attached."""
    if study.patient_id is None or not has_scope(principal, "consults:write"):
        return []
    if not principal.roles & consults.ATTACHERS:
        return []
    attached = set(
        sess.scalars(select(StudyConsult.consult_id).where(StudyConsult.study_id == study.id))
    )
    found = consult_services.list_visible(sess, principal, status=None, limit=CONSULTS_SCANNED)
    return [
        ConsultChoice(c.id, c.specialty.name, c.created_at, c.id in attached)
        for c in found
        if c.patient_id == study.patient_id
    ]


@dataclass(frozen=True)
class Thumb:
    series_uid: str
    label: str
    instances: int
    has_image: bool


def dose_section(sess: Session, study: Study, modalities: set[str]) -> StudyDoseOut | None:
    """The study's dose for its page (read with the page's audited view of the study): shown
    for a study with dose documents or of a modality that must send them."""
    settings = current_app.config["HUB_SETTINGS"].imaging
    out = dose_services.dose_of(sess, study, settings)
    if not out.documents and not modalities & DOSE_MODALITIES:
        return None
    return out


def study_context(sess: Session, principal: Principal, study: Study) -> dict[str, Any]:
    """What the study page shows beside the API's answer for the study."""
    found: list[ImageLink] = links.list_links(sess, principal, study.study_instance_uid)
    shown = services.series_with_images(sess, study.id)
    series = services.series_of(sess, study.id)
    thumbs = [
        Thumb(
            s.series.series_instance_uid,
            " ".join(
                str(p)
                for p in (s.series.modality, s.series.series_number, s.series.description)
                if p
            ),
            s.instances,
            s.series.id in shown,
        )
        for s in series
    ]
    return {
        "dose": dose_section(sess, study, {s.series.modality for s in series}),
        "links": found,
        "may_share": links.may_share(sess, principal, study),
        "series": thumbs,
        "consults": consult_choices(sess, principal, study),
        "patient_name": study.dicom_patient_name.replace("^", " ").strip(),
    }


@bp.get("/studies/<study_instance_uid>/series/<series_uid>/thumbnail.png")
@login_required
def thumbnail(study_instance_uid: str, series_uid: str) -> ResponseReturnValue:
    """The middle image of a series, small, for the study page."""
    sess = db.session()
    # Checked like the page it belongs to; not audited again: the page's view is the audited
    # read, and one event per thumbnail would bury it.
    study = services.get_study(sess, _principal(), _checked_uid(study_instance_uid), audited=False)
    series = sess.scalar(
        select(Series).where(
            Series.series_instance_uid == _checked_uid(series_uid), Series.study_id == study.id
        )
    )
    instances = services.instances_of_series(sess, series.id) if series is not None else []
    sess.commit()  # end the read before rendering (SQLite holds its lock while one is open)
    shown = [i for i in instances if i.path is not None]
    if not shown:
        abort(404)
    middle = shown[len(shown) // 2]
    frame = max(middle.frames, 1) // 2 if len(shown) == 1 else 0
    settings = current_app.config["HUB_SETTINGS"].imaging
    assert middle.path is not None
    try:
        png, _center, _width = render_png(storage.from_settings(settings).full(middle.path), frame)
    except CannotRender:
        return _private(Response(status=415))
    except FileNotFoundError:
        abort(404)
    image = Image.open(io.BytesIO(png))
    image.thumbnail((THUMB_SIDE, THUMB_SIDE))
    out = io.BytesIO()
    image.save(out, "PNG")
    return _private(Response(out.getvalue(), mimetype="image/png"))


@bp.post("/studies/<study_instance_uid>/consults")
@login_required
def attach(study_instance_uid: str) -> ResponseReturnValue:
    """The study page's form: attach the study to one of the patient's consults."""
    uid = _checked_uid(study_instance_uid)
    raw = request.form.get("consult_id", "").strip()
    if not raw.isascii() or not raw.isdigit() or int(raw) >= 2**31:
        flash(_("Choose a consult to attach the study to."))
        return redirect(url_for("imaging_pages.study_page", study_instance_uid=uid))
    sess = db.session()
    row = consults.attach(sess, _principal(), uid, int(raw))
    sess.commit()
    flash(_("The study is attached to consult %(id)s.", id=row.consult_id))
    return redirect(url_for("imaging_pages.study_page", study_instance_uid=uid) + "#consults")
