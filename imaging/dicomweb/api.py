"""The ``/dicomweb`` routes: QIDO-RS, WADO-RS and STOW-RS (PS3.18).

Every route exists twice: under ``/dicomweb`` for the API's callers (bearer token or session,
with the study visibility of ``imaging.services``), and under ``/dicomweb/links/<token>`` for
an image link, which reaches exactly its study. A study out of reach is 404 on every route.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select

from hub import db
from hub.auth.current import api_principal
from hub.config import ImagingSettings, Settings
from hub.errors import BadRequest, HubError, NotFound
from hub.jobs import enqueue_after_commit
from imaging import links, storage, upload
from imaging.dicom.parse import UID_PATTERN
from imaging.dicomweb import access as access_module
from imaging.dicomweb import dicomjson as dj
from imaging.dicomweb import openapi, qido, stow, transcode, wado
from imaging.dicomweb.access import Access
from imaging.dose.ingest import dose_intake
from imaging.index import Indexer
from imaging.models import Instance, Series, Study
from imaging.render import CannotRender
from imaging.tasks import forward_drain

bp = Blueprint("dicomweb", __name__, url_prefix="/dicomweb")
DICOM_JSON = "application/dicom+json"
MAX_FRAMES_ASKED = 1000


class NotAcceptableError(HubError):
    status = 406
    code = "not_acceptable"


def _settings() -> Settings:
    return current_app.config["HUB_SETTINGS"]


def _imaging() -> ImagingSettings:
    return _settings().imaging


def _uid(uid: str) -> str:
    # A malformed UID can match nothing; answer as for any unknown study.
    if len(uid) > 64 or not UID_PATTERN.match(uid):
        raise NotFound("Not found.")
    return uid


def _caller(token: str | None) -> Access:
    if token is None:
        return Access(api_principal())
    try:
        link, found = links.open_link(
            db.session(),
            token,
            secret_key=_settings().secret_key,
            what="dicomweb_used",
            count=False,
            audited=False,
        )
    except links.LinkRefused:
        raise NotFound("Not found.") from None
    return Access(links.link_principal(link), found.id)


def _root(token: str | None) -> str:
    # The configured public address, as image links use: a proxy's or server's Host may differ.
    base = _settings().base_url.rstrip("/") + (bp.url_prefix or "")
    return base if token is None else f"{base}/links/{token}"


def route(rule: str, method: str = "GET", links_too: bool = True) -> Callable[..., Any]:
    """Register ``fn(token, **path)`` under /dicomweb and, for reads, under /dicomweb/links."""

    def decorate(fn: Callable[..., Response]) -> Callable[..., Response]:
        bp.add_url_rule(rule, fn.__name__, lambda **kw: fn(None, **kw), methods=[method])
        openapi.record(rule, method, fn.__name__)
        if links_too:
            bp.add_url_rule("/links/<token>" + rule, f"link_{fn.__name__}", fn, methods=[method])
            openapi.record("/links/<token>" + rule, method, f"link_{fn.__name__}")
        return fn

    return decorate


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The routes below as an OpenAPI document; public, as the JSON API's is."""
    return Response(json.dumps(openapi.build(_settings().base_url)), mimetype="application/json")


def _quoted(text: str) -> str:
    """Text for a Warning header's quoted string (no quotes, no line breaks)."""
    return "".join(c if c.isprintable() and c not in '"\\' else " " for c in text)[:200]


def _json(items: list[dj.Json], warnings: list[str] | None = None, status: int = 200) -> Response:
    resp = Response(json.dumps(items), status=status, mimetype=DICOM_JSON)
    for text in warnings or []:
        resp.headers.add("Warning", f'299 {request.host}: "{_quoted(text)}"')
    return resp


# --- QIDO-RS -------------------------------------------------------------------------------


def _search(token: str | None, level: dj.Level, extra: frozenset[str] = frozenset()) -> tuple:
    caller = _caller(token)
    caller.require_read("imaging:dicomweb:searched")
    query = qido.parse_query(request.args, level.matching | extra)
    return caller, query


def _answer(
    caller: Access,
    query: qido.Query,
    found: qido.Found,
    level: str,
    study_row: Study | None = None,
) -> Response:
    access_module.record(
        db.session(),
        caller,
        "imaging:dicomweb:searched",
        study_row=study_row,
        details={"level": level, "keys": sorted(query.values), "results": len(found.items)},
    )
    db.session().commit()
    warnings = []
    if query.ignored:
        warnings.append("Not supported for matching, ignored: " + ", ".join(query.ignored))
    if found.truncated:
        warnings.append(f"More than {query.limit} results: ask for the rest with limit and offset.")
    return _json(found.items, warnings)


@route("/studies")
def search_studies(token: str | None) -> Response:
    caller, query = _search(token, dj.STUDY)
    found = qido.search_studies(db.session(), caller, query, _root(token))
    return _answer(caller, query, found, "study")


@route("/series")
def search_all_series(token: str | None) -> Response:
    caller, query = _search(token, dj.SERIES, dj.STUDY.matching)
    found = qido.search_series(db.session(), caller, query, _root(token), None)
    return _answer(caller, query, found, "series")


@route("/studies/<study>/series")
def search_series(token: str | None, study: str) -> Response:
    caller, query = _search(token, dj.SERIES)
    row = access_module.study(db.session(), caller, _uid(study))
    found = qido.search_series(db.session(), caller, query, _root(token), row.id)
    return _answer(caller, query, found, "series", row)


@route("/instances")
def search_all_instances(token: str | None) -> Response:
    caller, query = _search(token, dj.INSTANCE, dj.STUDY.matching | dj.SERIES.matching)
    found = qido.search_instances(db.session(), caller, query, _root(token), None, None)
    return _answer(caller, query, found, "instance")


@route("/studies/<study>/instances")
def search_study_instances(token: str | None, study: str) -> Response:
    caller, query = _search(token, dj.INSTANCE, dj.SERIES.matching)
    row = access_module.study(db.session(), caller, _uid(study))
    found = qido.search_instances(db.session(), caller, query, _root(token), row.id, None)
    return _answer(caller, query, found, "instance", row)


@route("/studies/<study>/series/<series>/instances")
def search_series_instances(token: str | None, study: str, series: str) -> Response:
    caller, query = _search(token, dj.INSTANCE)
    row = access_module.study(db.session(), caller, _uid(study))
    series_row = _series(row, series)
    found = qido.search_instances(db.session(), caller, query, _root(token), row.id, series_row.id)
    return _answer(caller, query, found, "instance", row)


# --- WADO-RS -------------------------------------------------------------------------------


def _series(study_row: Study, series_uid: str) -> Series:
    found = db.session().scalar(
        select(Series).where(
            Series.series_instance_uid == _uid(series_uid), Series.study_id == study_row.id
        )
    )
    if found is None:
        raise NotFound("Not found.")
    return found


def _instances(
    study_row: Study, series_uid: str | None = None, sop_uid: str | None = None
) -> list[Instance]:
    """The stored instances asked for, in series and instance order; 404 when none."""
    stmt = (
        select(Instance)
        .join(Series, Series.id == Instance.series_id)
        .where(
            Instance.study_id == study_row.id,
            Instance.path.is_not(None),
            Instance.deleted_at.is_(None),
        )
    )
    if series_uid is not None:
        stmt = stmt.where(Series.id == _series(study_row, series_uid).id)
    if sop_uid is not None:
        stmt = stmt.where(Instance.sop_instance_uid == _uid(sop_uid))
    rows = list(
        db.session().scalars(
            stmt.order_by(Series.series_number, Instance.instance_number, Instance.id)
        )
    )
    if not rows:
        raise NotFound("Not found.")
    return rows


def _retrieve(
    token: str | None, study: str, series: str | None = None, sop: str | None = None
) -> tuple[Access, Study, list[Instance]]:
    caller = _caller(token)
    caller.require_read("imaging:study:retrieved")
    row = access_module.study(db.session(), caller, _uid(study))
    return caller, row, _instances(row, series, sop)


def _audit_retrieval(
    caller: Access, row: Study, what: str, instances: list[Instance], **details: object
) -> None:
    access_module.record(
        db.session(),
        caller,
        "imaging:study:retrieved",
        study_row=row,
        details={"what": what, "instances": len(instances), **details},
    )
    db.session().commit()  # the audit is kept even if the transfer breaks off


def _paths(instances: list[Instance]) -> list[Path]:
    store = storage.from_settings(_imaging())
    return [store.full(i.path) for i in instances if i.path is not None]


def _stream_instances(
    token: str | None, study: str, series: str | None, sop: str | None
) -> Response:
    caller, row, instances = _retrieve(token, study, series, sop)
    try:
        wado.instance_syntax(
            wado.parse_accept(request.headers.get("Accept")),
            {i.transfer_syntax_uid for i in instances},
        )
    except wado.NotAcceptable as exc:
        raise NotAcceptableError(str(exc)) from None
    level = "instance" if sop else "series" if series else "study"
    _audit_retrieval(caller, row, "instances", instances, level=level)
    mark = wado.boundary()
    body = wado.multipart_files(_paths(instances), mark)
    resp = Response(
        body.chunks,
        content_type=f'multipart/related; type="{wado.DICOM}"; boundary={mark}',
        direct_passthrough=True,
    )
    resp.content_length = body.length
    return resp


@route("/studies/<study>")
def retrieve_study(token: str | None, study: str) -> Response:
    return _stream_instances(token, study, None, None)


@route("/studies/<study>/series/<series>")
def retrieve_series(token: str | None, study: str, series: str) -> Response:
    return _stream_instances(token, study, series, None)


@route("/studies/<study>/series/<series>/instances/<sop>")
def retrieve_instance(token: str | None, study: str, series: str, sop: str) -> Response:
    return _stream_instances(token, study, series, sop)


def _metadata(token: str | None, study: str, series: str | None, sop: str | None) -> Response:
    caller, row, instances = _retrieve(token, study, series, sop)
    _audit_retrieval(caller, row, "metadata", instances)
    paths = _paths(instances)
    items = [(p, i.transfer_syntax_uid) for p, i in zip(paths, instances, strict=True)]
    return Response(
        wado.metadata_stream(items, _root(token)), mimetype=DICOM_JSON, direct_passthrough=True
    )


@route("/studies/<study>/metadata")
def study_metadata(token: str | None, study: str) -> Response:
    return _metadata(token, study, None, None)


@route("/studies/<study>/series/<series>/metadata")
def series_metadata(token: str | None, study: str, series: str) -> Response:
    return _metadata(token, study, series, None)


@route("/studies/<study>/series/<series>/instances/<sop>/metadata")
def instance_metadata(token: str | None, study: str, series: str, sop: str) -> Response:
    return _metadata(token, study, series, sop)


@route("/studies/<study>/series/<series>/instances/<sop>/bulkdata/<path:trail>")
def retrieve_bulk_data(
    token: str | None, study: str, series: str, sop: str, trail: str
) -> Response:
    """A binary value named by a metadata ``BulkDataURI``: pixel data as stored (compressed
    pixels frame by frame), any other as ``application/octet-stream``; streamed."""
    try:
        tags = wado.parse_bulk_path(trail)
    except wado.NoSuchBulkData:
        raise NotFound("The instance has no such bulk data.", code="no_such_bulk_data") from None
    caller, row, instances = _retrieve(token, study, series, sop)
    path = _paths(instances)[0]
    try:
        found = wado.bulk_data(path, tags)
    except (wado.NoSuchBulkData, FileNotFoundError):
        raise NotFound("The instance has no such bulk data.", code="no_such_bulk_data") from None
    try:
        media, syntax = wado.bulk_type(
            wado.parse_accept(request.headers.get("Accept")), found.encapsulated
        )
    except wado.NotAcceptable as exc:
        raise NotAcceptableError(str(exc)) from None
    part_type = media if syntax is None else f"{media}; transfer-syntax={syntax}"
    _audit_retrieval(caller, row, "bulkdata", instances, attribute=trail[:100])
    parts: Iterable[Iterable[bytes]]
    if found.encapsulated is not None:
        parts = ([frame] for frame in wado.encapsulated_frames(path, found))
    elif found.value is not None:
        parts = [[found.value]]
    else:
        parts = [wado.file_range(path, found.offset, found.length)]
    mark = wado.boundary()
    return Response(
        wado.multipart_stream(parts, mark, part_type),
        content_type=f'multipart/related; type="{media}"; boundary={mark}',
        direct_passthrough=True,
    )


def _frame_numbers(text: str) -> list[int]:
    pieces = text.split(",")
    if len(pieces) > MAX_FRAMES_ASKED or not all(
        p.isdigit() and 0 < int(p) < 2**31 for p in pieces
    ):
        raise BadRequest(
            "Frames are a comma-separated list of frame numbers from 1.",
            code="bad_frame_list",
            details={"frames": text[:100]},
        )
    return [int(p) for p in pieces]


@route("/studies/<study>/series/<series>/instances/<sop>/frames/<frame_list>")
def retrieve_frames(
    token: str | None, study: str, series: str, sop: str, frame_list: str
) -> Response:
    numbers = _frame_numbers(frame_list)
    caller, row, instances = _retrieve(token, study, series, sop)
    instance = instances[0]
    if any(n > max(instance.frames, 1) for n in numbers):
        raise NotFound("The instance has no such frame.", code="no_such_frame")
    path = _paths(instances)[0]
    stored = instance.transfer_syntax_uid
    module = None
    if stored in wado.NATIVE_LITTLE:
        try:
            module = transcode.pixel_module(path)
        except (transcode.CannotTranscode, FileNotFoundError):
            module = None  # sent as stored, or answered 404 below
    accepted = wado.parse_accept(request.headers.get("Accept"))
    try:
        media, syntax = wado.frame_type(
            accepted, stored, transcode.encodable(module) if module else frozenset()
        )
    except wado.NotAcceptable as exc:
        raise NotAcceptableError(str(exc)) from None
    try:
        data = wado.frames(path, numbers)
    except (wado.NoSuchFrame, FileNotFoundError):
        raise NotFound("The instance has no such frame.", code="no_such_frame") from None
    if module is not None and syntax in wado.TRANSCODED_TYPES:
        try:
            data = transcode.encode(data, module, syntax)
        except transcode.CannotTranscode:
            # The encoder refused these pixels: the next entry the request accepts, if any.
            try:
                media, syntax = wado.frame_type(accepted, stored)
            except wado.NotAcceptable as exc:
                raise NotAcceptableError(str(exc)) from None
    _audit_retrieval(caller, row, "frames", instances, frames=len(numbers))
    mark = wado.boundary()
    part = f"{media}; transfer-syntax={syntax}"
    return Response(
        wado.multipart_bytes(data, mark, part),
        content_type=f'multipart/related; type="{media}"; boundary={mark}',
        direct_passthrough=True,
    )


def _window() -> tuple[float, float] | None:
    raw = request.args.get("window")
    if raw is None:
        return None
    pieces = raw.split(",")
    try:
        center, width = float(pieces[0]), float(pieces[1])
    except (ValueError, IndexError):
        center = width = float("nan")
    if len(pieces) not in (2, 3) or not width > 0 or center != center:
        raise BadRequest(
            "window is center,width[,function] with a positive width.",
            code="bad_query",
            details={"parameter": "window"},
        )
    return center, width


def _rendered(token: str | None, study: str, series: str, sop: str, frame: int) -> Response:
    window = _window()
    caller, row, instances = _retrieve(token, study, series, sop)
    if frame > max(instances[0].frames, 1):
        raise NotFound("The instance has no such frame.", code="no_such_frame")
    try:
        # The accept query parameter (PS3.18 8.3.3.1) stands for the header: an <img> sends
        # its own Accept, and asks JPEG with ?accept=image/jpeg.
        asked = request.args.get("accept") or request.headers.get("Accept")
        media = wado.rendered_type(wado.parse_accept(asked))
    except wado.NotAcceptable as exc:
        raise NotAcceptableError(str(exc)) from None
    try:
        data = wado.rendered(_paths(instances)[0], frame - 1, media, window)
    except (CannotRender, FileNotFoundError):
        raise NotAcceptableError(
            "This instance cannot be rendered here.", code="cannot_render"
        ) from None
    _audit_retrieval(caller, row, "rendered", instances, frame=frame)
    return Response(data, mimetype=media)


@route("/studies/<study>/series/<series>/instances/<sop>/rendered")
def instance_rendered(token: str | None, study: str, series: str, sop: str) -> Response:
    return _rendered(token, study, series, sop, 1)


@route("/studies/<study>/series/<series>/instances/<sop>/frames/<frame_list>/rendered")
def frame_rendered(
    token: str | None, study: str, series: str, sop: str, frame_list: str
) -> Response:
    numbers = _frame_numbers(frame_list)
    if len(numbers) != 1:
        raise BadRequest("Render one frame at a time.", code="bad_frame_list")
    return _rendered(token, study, series, sop, numbers[0])


# --- STOW-RS -------------------------------------------------------------------------------


def _sop_item(sop_class: str, sop_uid: str) -> dj.Json:
    item: dj.Json = {}
    if sop_class:
        item["00081150"] = {"vr": "UI", "Value": [sop_class]}
    if sop_uid:
        item["00081155"] = {"vr": "UI", "Value": [sop_uid]}
    return item


def _store(study: str | None) -> Response:
    principal = api_principal()
    settings = _imaging()
    factory = db.get_db().session_factory
    assert factory is not None
    sess = db.session()
    outcome = stow.store(
        sess,
        principal,
        request.stream,
        request.headers.get("Content-Type"),
        storage=storage.from_settings(settings),
        indexer=Indexer(
            factory, forward=settings.central_pacs is not None, dose=dose_intake(settings)
        ),
        study_uid=study,
        limits=upload.Limits.from_settings(settings),
    )
    if outcome.stored and settings.central_pacs is not None:
        enqueue_after_commit(sess, forward_drain.s())
    access_module.record(
        sess,
        Access(principal),
        "imaging:instances:stored",
        details={"stored": len(outcome.stored), "failed": len(outcome.failed), "via": "stow"},
    )
    sess.commit()
    root = _root(None)
    answer: dj.Json = {}
    if study is not None or len(outcome.studies) == 1:
        answer["00081190"] = {
            "vr": "UR",
            "Value": [f"{root}/studies/{study or next(iter(outcome.studies))}"],
        }
    if outcome.failed:
        failed = []
        for sop_class, sop_uid, reason, _why in outcome.failed:
            item = _sop_item(sop_class, sop_uid)
            item["00081197"] = {"vr": "US", "Value": [reason]}
            failed.append(item)
        answer["00081198"] = {"vr": "SQ", "Value": failed}
    if outcome.stored:
        answer["00081199"] = {"vr": "SQ", "Value": [_sop_item(c, u) for c, u in outcome.stored]}
    # PS3.18 10.5.3: all stored 200, some 202, none 409.
    status = 200 if not outcome.failed else 202 if outcome.stored else 409
    resp = Response(json.dumps(answer), status=status, mimetype=DICOM_JSON)
    for _c, _u, _r, why in outcome.failed:
        resp.headers.add("Warning", f'299 {request.host}: "{_quoted(why)}"')
    return resp


@route("/studies", "POST", links_too=False)
def store_instances(token: str | None) -> Response:
    return _store(None)


@route("/studies/<study>", "POST", links_too=False)
def store_study_instances(token: str | None, study: str) -> Response:
    return _store(_uid(study))
