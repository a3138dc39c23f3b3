"""Studies under /api/v1: the index by patient, one study with its forwarding status, image
links, legal hold, patient linking, upload, priors and the CD package."""

from __future__ import annotations

import tempfile

from flask import Response, current_app, jsonify, request, send_file
from sqlalchemy import select

from hub import db
from hub.api.core import api_route
from hub.api.pagination import next_cursor
from hub.auth.principal import Principal
from hub.config import ImagingSettings, Settings
from hub.errors import NotFound
from hub.jobs import enqueue_after_commit
from hub.models import Patient
from imaging import consults, links, services, storage, upload
from imaging.archive import forwarding, priors, retrieve
from imaging.dicom.parse import UID_PATTERN
from imaging.dose.ingest import dose_intake
from imaging.index import Indexer
from imaging.models import Study
from imaging.package import write_package
from imaging.reading.services import signed_pdf
from imaging.schemas import (
    AttachedOut,
    AttachIn,
    ConsultStudyQuery,
    ForwardingOut,
    InstanceProblemOut,
    LegalHoldIn,
    LinkCreated,
    LinkIn,
    LinkList,
    LinkOut,
    LinkQuery,
    PatientLinkIn,
    PriorList,
    PriorListQuery,
    PriorOut,
    ProblemFile,
    RefusedFile,
    RetrievedOut,
    RetrieveIn,
    SeriesOut,
    StudyList,
    StudyOut,
    StudyQuery,
    StudySummary,
    UploadOut,
)
from imaging.tasks import forward_drain


def _settings() -> Settings:
    return current_app.config["HUB_SETTINGS"]


def _imaging() -> ImagingSettings:
    return _settings().imaging


def _checked_uid(uid: str) -> str:
    # A malformed UID can match nothing; answer as for any unknown study.
    if len(uid) > 64 or not UID_PATTERN.match(uid):
        raise NotFound("Not found.")
    return uid


def study_out(study: Study) -> StudyOut:
    """The study with what its page shows beside the row: series, counts, forwarding,
    retention and the patient's national id."""
    sess = db.session()
    settings = _imaging()
    images_until, reports_until = services.retention_dates(
        study, settings.image_retention_years, settings.report_retention_years
    )
    national_id = None
    if study.patient_id is not None:
        national_id = sess.scalar(select(Patient.national_id).where(Patient.id == study.patient_id))
    stored, deleted = services.instance_counts(sess, study.id)
    flagged, problems, quarantined = services.problems_of(sess, study)
    fwd = forwarding.study_status(sess, study.id, settings.central_pacs is not None)
    return StudyOut(
        **StudySummary.model_validate(study).model_dump(),
        patient_national_id=national_id,
        dicom_patient_id=study.dicom_patient_id,
        issuer=study.issuer,
        series=[SeriesOut.model_validate(s) for s in services.series_of(sess, study.id)],
        instances=stored,
        instances_deleted=deleted,
        forwarding=ForwardingOut.model_validate(fwd),
        legal_hold=study.legal_hold,
        images_kept_until=images_until,
        reports_kept_until=reports_until,
        instances_with_problems=flagged,
        problems=[InstanceProblemOut.model_validate(i) for i in problems],
        quarantined=quarantined,
    )


def link_url(token: str) -> str:
    return f"{_settings().base_url.rstrip('/')}/imaging/links/{token}"


@api_route(
    "/studies",
    summary="Studies within your scope, e.g. of one patient by national id",
    scope="imaging:read",
    tag="imaging",
    query=StudyQuery,
    response=StudyList,
)
def list_studies(principal: Principal, query: StudyQuery) -> StudyList:
    found = services.list_studies(
        db.session(),
        principal,
        national_id=query.patient_national_id,
        country=query.id_country,
        after_id=query.position() or 0,
        limit=query.limit,
    )
    return StudyList(
        items=[StudySummary.model_validate(study) for study in found],
        next_cursor=next_cursor(found, query.limit, key=lambda study: study.id),
    )


@api_route(
    "/studies/priors",
    summary="A patient's earlier studies in the central archive (C-FIND)",
    scope="imaging:read",
    tag="imaging",
    query=PriorListQuery,
    response=PriorList,
    errors=(503,),
)
def list_priors(principal: Principal, query: PriorListQuery) -> PriorList:
    found = priors.priors(
        db.session(), principal, _imaging(), query.patient_national_id, query.id_country
    )
    # The archive's answer is not a table of ours: a page's key is a position in it.
    start = query.position() or 0
    page = list(enumerate(found or [], start=1))[start : start + query.limit]
    return PriorList(
        configured=found is not None,
        items=[PriorOut.model_validate(prior) for _position, prior in page],
        next_cursor=next_cursor(page, query.limit, key=lambda row: row[0]),
    )


@api_route(
    "/studies/priors/retrieve",
    "POST",
    summary="Fetch a patient's earlier study from the central archive into the hub (C-GET)",
    scope="imaging:read",
    tag="imaging",
    body=RetrieveIn,
    response=RetrievedOut,
    errors=(404, 409, 503),
)
def retrieve_prior(principal: Principal, body: RetrieveIn) -> RetrievedOut:
    done = retrieve.retrieve_prior(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        db.session(),
        principal,
        _imaging(),
        body.study_instance_uid,
        body.patient_national_id,
        body.id_country,
    )
    return RetrievedOut.model_validate(done)


@api_route(
    "/studies/<study_instance_uid>",
    summary="One study: series, instance count, forwarding status, retention",
    scope="imaging:read",
    tag="imaging",
    response=StudyOut,
    errors=(404,),
)
def get_study(principal: Principal, study_instance_uid: str) -> StudyOut:
    study = services.get_study(db.session(), principal, _checked_uid(study_instance_uid))
    return study_out(study)


@api_route(
    "/studies/<study_instance_uid>/links",
    "POST",
    summary="A signed, expiring link to the study's images (no account needed)",
    scope="imaging:read",
    tag="imaging",
    body=LinkIn,
    response=LinkCreated,
    status=201,
    errors=(404,),
)
def create_link(principal: Principal, study_instance_uid: str, body: LinkIn) -> LinkCreated:
    settings = _imaging()
    link, token = links.create_link(
        db.session(),
        principal,
        _checked_uid(study_instance_uid),
        secret_key=_settings().secret_key,
        ttl_hours=body.ttl_hours or settings.link_ttl_hours,
        max_ttl_hours=settings.link_max_ttl_hours,
    )
    return LinkCreated(id=link.id, url=link_url(token), expires_at=link.expires_at)


@api_route(
    "/studies/<study_instance_uid>/links",
    summary="The study's links (without their tokens)",
    scope="imaging:read",
    tag="imaging",
    query=LinkQuery,
    response=LinkList,
    errors=(404,),
)
def list_links(principal: Principal, study_instance_uid: str, query: LinkQuery) -> LinkList:
    found = links.list_links(
        db.session(),
        principal,
        _checked_uid(study_instance_uid),
        after_id=query.position(),
        limit=query.limit,
    )
    return LinkList(
        items=[LinkOut.model_validate(link) for link in found],
        next_cursor=next_cursor(found, query.limit, key=lambda link: link.id),
    )


@api_route(
    "/studies/<study_instance_uid>/links/<int:link_id>/revoke",
    "POST",
    summary="Revoke a link at once",
    scope="imaging:read",
    tag="imaging",
    response=LinkOut,
    errors=(404, 409),
)
def revoke_link(principal: Principal, study_instance_uid: str, link_id: int) -> LinkOut:
    return LinkOut.model_validate(
        links.revoke_link(db.session(), principal, _checked_uid(study_instance_uid), link_id)
    )


@api_route(
    "/studies/<study_instance_uid>/legal-hold",
    "PUT",
    summary="Freeze or release a study against retention deletion",
    scope="imaging:write",
    tag="imaging",
    body=LegalHoldIn,
    response=StudyOut,
    errors=(404,),
)
def set_legal_hold(principal: Principal, study_instance_uid: str, body: LegalHoldIn) -> StudyOut:
    study = services.set_legal_hold(
        db.session(), principal, _checked_uid(study_instance_uid), body.hold, body.reason
    )
    return study_out(study)


@api_route(
    "/studies/<study_instance_uid>/patient",
    "PUT",
    summary="Link the study's PatientID (at its facility) to a hub patient",
    scope="imaging:write",
    tag="imaging",
    body=PatientLinkIn,
    response=StudyOut,
    errors=(404, 409),
)
def link_patient(principal: Principal, study_instance_uid: str, body: PatientLinkIn) -> StudyOut:
    study = services.link_patient(
        db.session(), principal, _checked_uid(study_instance_uid), body.patient_id
    )
    return study_out(study)


@api_route(
    "/studies/upload",
    "POST",
    summary="Upload DICOM files or a zip of them "
    "(multipart field 'files'; optional 'facility' code). 409 study_conflict when a file "
    "names another facility's or another patient's study, 413 upload_too_large when a zip "
    "expands beyond HUB_UPLOAD_MAX_EXPANDED_BYTES or HUB_UPLOAD_MAX_RATIO; either way the "
    "error's details are the upload's report, and the files stored stay stored",
    scope="imaging:write",
    tag="imaging",
    response=UploadOut,
    errors=(409, 413),
)
def upload_studies(principal: Principal) -> UploadOut | Response:
    settings = _imaging()
    factory = db.get_db().session_factory
    assert factory is not None
    files = [
        (f.filename or "upload", f.stream)
        for f in request.files.getlist("files") + request.files.getlist("file")
    ]
    sess = db.session()
    report = upload.upload(
        sess,
        principal,
        files,
        storage=storage.from_settings(settings),
        indexer=Indexer(
            factory,
            forward=settings.central_pacs is not None,
            dose=dose_intake(settings),
        ),
        facility_code=request.form.get("facility") or None,
        limits=upload.Limits.from_settings(settings),
    )
    if report.stored and settings.central_pacs is not None:
        enqueue_after_commit(sess, forward_drain.s())
    out = UploadOut(
        stored=report.stored,
        duplicates=report.duplicates,
        refused=[RefusedFile(file=n[:200], reason=r) for n, r in report.refused],
        studies=sorted(report.studies),
        quarantined=[n[:200] for n in report.quarantined],
        problems=[ProblemFile(file=n[:200], problems=p) for n, p in report.problems.items()],
    )
    if report.conflicts:
        return _upload_error(
            409,
            "study_conflict",
            "Some files name a study of another facility or of another patient; they were refused.",
            out,
        )
    if report.over_budget:
        return _upload_error(413, "upload_too_large", report.over_budget, out)
    return out


def _upload_error(status: int, code: str, message: str, out: UploadOut) -> Response:
    """An upload's error, with what it did store as details (those files stay stored)."""
    resp = jsonify(
        {"error": {"code": code, "message": message, "details": out.model_dump(mode="json")}}
    )
    resp.status_code = status
    return resp


@api_route(
    "/studies/<study_instance_uid>/consults",
    "POST",
    summary="Attach the study to a consult of the same patient",
    scope="imaging:read",
    tag="imaging",
    body=AttachIn,
    response=AttachedOut,
    status=201,
    errors=(404, 409),
)
def attach_to_consult(principal: Principal, study_instance_uid: str, body: AttachIn) -> AttachedOut:
    row = consults.attach(
        db.session(), principal, _checked_uid(study_instance_uid), body.consult_id
    )
    return AttachedOut(
        study_instance_uid=study_instance_uid,
        consult_id=row.consult_id,
        attached_at=row.attached_at,
    )


@api_route(
    "/consults/<int:consult_id>/studies",
    summary="Studies attached to a consult",
    scope="imaging:read",
    tag="imaging",
    query=ConsultStudyQuery,
    response=StudyList,
    errors=(404,),
)
def consult_studies(principal: Principal, consult_id: int, query: ConsultStudyQuery) -> StudyList:
    found = consults.studies_of(
        db.session(), principal, consult_id, after_id=query.position(), limit=query.limit
    )
    return StudyList(
        items=[StudySummary.model_validate(study) for study in found],
        next_cursor=next_cursor(found, query.limit, key=lambda study: study.id),
    )


def package_response(study: Study) -> Response:
    """The study's CD/download package as a zip attachment."""
    store = storage.from_settings(_imaging())
    paths = services.stored_paths(db.session(), study.id)
    report = signed_pdf(db.session(), study.id)
    db.session().commit()  # the audit of the export is kept even if the download breaks off
    # Closed (and so deleted) by Werkzeug once the response is sent.
    spool = tempfile.TemporaryFile()  # noqa: SIM115
    write_package(store.root, paths, spool, report)
    spool.seek(0)
    name = f"study-{study.study_date or study.id}.zip"
    resp = send_file(spool, mimetype="application/zip", as_attachment=True, download_name=name)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@api_route(
    "/studies/<study_instance_uid>/package",
    summary="The study as a CD/download package (zip with DICOMDIR)",
    scope="imaging:read",
    tag="imaging",
    errors=(404,),
)
def study_package(principal: Principal, study_instance_uid: str) -> Response:
    study = services.export_package(db.session(), principal, _checked_uid(study_instance_uid))
    return package_response(study)
