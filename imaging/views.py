"""Pages: the image viewer behind a link (no account), and a study's page for staff."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from hub import db
from hub.auth.principal import user_principal
from imaging import ae_views, links, services, storage, study_views, viewer_views
from imaging.api import _checked_uid, link_url, package_response, study_out
from imaging.models import Instance, InstanceKind, Series
from imaging.reading import report_page
from imaging.render import CannotRender, render_png

bp = Blueprint("imaging_pages", __name__, url_prefix="/imaging")
# Beyond any series (the index records at most pixels.MAX_FRAMES frames an instance).
MAX_START = 2**40


def _secret() -> str:
    return str(current_app.config["HUB_SETTINGS"].secret_key)


def _private(resp: Response) -> Response:
    # Images of a patient: never kept by browsers or proxies, never framed elsewhere.
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def _refused() -> Response:
    resp = Response(render_template("imaging/link_refused.html"), status=404)
    return _private(resp)


def _viewer_series(study_id: int) -> list[dict[str, Any]]:
    """Each series with its first page of frames and its total; the viewer asks the series
    JSON for the next pages as it scrolls (``services.FRAMES_PAGE`` frames a page)."""
    sess = db.session()
    out: list[dict[str, Any]] = []
    for summary in services.series_of(sess, study_id):
        frames, total = services.frames_page(sess, summary.series.id)
        if frames:
            out.append(
                {
                    "uid": summary.series.series_instance_uid,
                    "label": f"{summary.series.modality} {summary.series.series_number or ''}"
                    f" {summary.series.description}".strip(),
                    "frames": frames,
                    "total": total,
                }
            )
    return out


@bp.get("/links/<token>")
def open_link(token: str) -> ResponseReturnValue:
    """The viewer; every open is audited with the link as the actor."""
    sess = db.session()
    try:
        link, study = links.open_link(sess, token, secret_key=_secret())
    except links.LinkRefused:
        return _refused()
    series = _viewer_series(study.id)
    reports = (
        sess.scalar(
            select(Instance.id)
            .where(
                Instance.study_id == study.id,
                Instance.kind == InstanceKind.REPORT,
                Instance.deleted_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )
    if request.args.get("simple"):
        # The hub's own PNG frames, for a browser that cannot run the diagnostic viewer.
        page = render_template(
            "imaging/viewer.html",
            study=study,
            series=series,
            token=token,
            expires_at=link.expires_at,
            has_reports=reports,
        )
    else:
        root = url_for("dicomweb.link_search_studies", token=token).removesuffix("/studies")
        page = render_template(
            "imaging/dicom_viewer.html",
            study=study,
            series=viewer_views.viewer_series(sess, study),
            priors=[],
            dicomweb_root=root,  # the link's own DICOMweb: exactly its study
            link_token=token,
            expires_at=link.expires_at,
            has_reports=reports,
        )
    sess.commit()
    return _private(Response(page))


@bp.get("/links/<token>/frames/<int:instance_id>/<int:frame>.png")
def frame_png(token: str, instance_id: int, frame: int) -> ResponseReturnValue:
    """One frame, window/level from ``wc``/``ww`` (or the instance's own)."""
    sess = db.session()
    try:
        # The link is checked on every frame, so a revocation stops a viewer at once.
        _link, study = links.open_link(
            sess, token, secret_key=_secret(), what="frame_viewed", count=False, audited=False
        )
    except links.LinkRefused:
        return _refused()
    instance = sess.scalar(
        select(Instance).where(
            Instance.id == instance_id, Instance.study_id == study.id, Instance.deleted_at.is_(None)
        )
    )
    # End the read transaction now: rendering takes a while and SQLite's BEGIN IMMEDIATE
    # holds the write lock for as long as a transaction is open.
    sess.commit()
    if instance is None or instance.path is None:
        abort(404)
    if frame >= max(instance.frames, 1):
        # Beyond the frames the pixel data holds (as indexed), whatever the file declares.
        return _private(Response(status=415))
    try:
        center = request.args.get("wc", type=float)
        width = request.args.get("ww", type=float)
        png, used_center, used_width = render_png(
            storage.from_settings(current_app.config["HUB_SETTINGS"].imaging).full(instance.path),
            frame,
            center,
            width,
        )
    except CannotRender:
        return _private(Response(status=415))
    except FileNotFoundError:
        abort(404)
    resp = Response(png, mimetype="image/png")
    resp.headers["X-Window"] = f"{used_center:g}/{used_width:g}"
    return _private(resp)


@bp.get("/links/<token>/package.zip")
def link_package(token: str) -> ResponseReturnValue:
    """The CD/download package through a link; audited like an open."""
    sess = db.session()
    try:
        _link, study = links.open_link(
            sess, token, secret_key=_secret(), what="exported", count=False
        )
    except links.LinkRefused:
        return _refused()
    return package_response(study)


@bp.get("/studies/<study_instance_uid>")
@login_required
def study_page(study_instance_uid: str) -> ResponseReturnValue:
    """A study: series, instance count, forwarding status, retention, links."""
    principal = user_principal(current_user.user, "session")
    sess = db.session()
    study = services.get_study(sess, principal, _checked_uid(study_instance_uid))
    out = study_out(study)
    context = study_views.study_context(sess, principal, study)
    modalities = {s.modality for s in study.series if s.modality}
    page = render_template(
        "imaging/study.html",
        study=out,
        report_panel=report_page.panel(sess, principal, study, modalities),
        report_states=report_page.STATE_LABELS,
        forwarding=study_views.forwarding_words(sess, study, out.forwarding),
        **context,
    )
    sess.commit()  # the audit of the view (and of the links listed) goes with the page
    return page


@bp.post("/studies/<study_instance_uid>/links")
@login_required
def create_link_form(study_instance_uid: str) -> ResponseReturnValue:
    """The form on the study page: a new link, shown once."""
    settings = current_app.config["HUB_SETTINGS"].imaging
    principal = user_principal(current_user.user, "session")
    sess = db.session()
    _link, token = links.create_link(
        sess,
        principal,
        _checked_uid(study_instance_uid),
        secret_key=_secret(),
        ttl_hours=settings.link_ttl_hours,
        max_ttl_hours=settings.link_max_ttl_hours,
    )
    sess.commit()
    flash(_("New link (shown only now): %(url)s", url=link_url(token)))
    return redirect(url_for("imaging_pages.study_page", study_instance_uid=study_instance_uid))


@bp.get("/links/<token>/series/<series_uid>.json")
def series_json(token: str, series_uid: str) -> ResponseReturnValue:
    """One page of a series' frames (``?start=``, ``services.FRAMES_PAGE`` a page), its total
    and where the next page starts (null on the last)."""
    sess = db.session()
    try:
        _link, study = links.open_link(
            sess, token, secret_key=_secret(), what="frame_viewed", count=False, audited=False
        )
    except links.LinkRefused:
        return _refused()
    series = sess.scalar(
        select(Series).where(Series.series_instance_uid == series_uid, Series.study_id == study.id)
    )
    if series is None:
        sess.commit()
        abort(404)
    start = request.args.get("start", 0, type=int)
    if start < 0 or start > MAX_START:
        sess.commit()
        abort(400)
    frames, total = services.frames_page(sess, series.id, start)
    sess.commit()
    after = start + len(frames)
    return _private(
        jsonify(
            {
                "frames": [[i, f] for i, f in frames],
                "start": start,
                "total": total,
                "next": after if after < total else None,
            }
        )
    )


@bp.get("/upload")
@login_required
def upload_page() -> ResponseReturnValue:
    """Upload DICOM files or a zip through the browser, with a progress bar."""
    return render_template("imaging/upload.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(study_views.bp)
    app.register_blueprint(viewer_views.bp)
    app.register_blueprint(ae_views.bp)
