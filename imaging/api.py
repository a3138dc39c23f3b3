"""Studies under /api/v1: the index by patient, one study with its forwarding status, image
links, legal hold and patient linking."""

from __future__ import annotations

from flask import Response, current_app, request
from sqlalchemy import select

from hub import db
from hub.api.core import api_route
from hub.auth.principal import Principal
from hub.config import ImagingSettings, Settings
from hub.errors import NotFound
from hub.models import Patient
from imaging import forwarding, links, services, upload
from imaging.models import ImageLink, Study
from imaging.parse import UID_PATTERN
from imaging.schemas import (
    AttachedOut,
    AttachIn,
    ForwardingOut,
    LegalHoldIn,
    LinkCreated,
    LinkIn,
    LinkList,
    LinkOut,
    PatientLinkIn,
    PriorList,
    PriorOut,
    PriorQuery,
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


def _settings() -> Settings:
    return current_app.config["HUB_SETTINGS"]


def _imaging() -> ImagingSettings:
    return _settings().imaging


def _checked_uid(uid: str) -> str:
    # A malformed UID can match nothing; answer as for any unknown study.
    if len(uid) > 64 or not UID_PATTERN.match(uid):
        raise NotFound("Not found.")
    return uid


def _summary(study: Study, modalities: list[str]) -> StudySummary:
    return StudySummary(
        study_instance_uid=study.study_instance_uid,
        patient_id=study.patient_id,
        facility=study.facility.code,
        study_date=study.study_date,
        description=study.description,
        accession_number=study.accession_number,
        modalities=modalities,
        received_at=study.received_at,
        urgent=study.urgent,
    )


def study_out(study: Study) -> StudyOut:
    sess = db.session()
    series = services.series_of(sess, study.id)
    stored, deleted = services.instance_counts(sess, study.id)
    fwd = forwarding.study_status(sess, study.id, _imaging().central_pacs is not None)
    images_until, reports_until = services.retention_dates(
        study, _imaging().image_retention_years, _imaging().report_retention_years
    )
    national_id = None
    if study.patient_id is not None:
        national_id = sess.scalar(select(Patient.national_id).where(Patient.id == study.patient_id))
    modalities = sorted({s.series.modality for s in series if s.series.modality})
    summary = _summary(study, modalities)
    return StudyOut(
        **summary.model_dump(),
        patient_national_id=national_id,
        dicom_patient_id=study.dicom_patient_id,
        issuer=study.issuer,
        series=[
            SeriesOut(
                series_instance_uid=s.series.series_instance_uid,
                modality=s.series.modality,
                series_number=s.series.series_number,
                description=s.series.description,
                body_part=s.series.body_part,
                instances=s.instances,
            )
            for s in series
        ],
        instances=stored,
        instances_deleted=deleted,
        forwarding=ForwardingOut(
            status=fwd.status,
            total=fwd.total,
            forwarded=fwd.sent,
            pending=fwd.pending,
            failed=fwd.failed,
            resent=fwd.resent,
            reason=fwd.reason,
        ),
        legal_hold=study.legal_hold,
        images_kept_until=images_until,
        reports_kept_until=reports_until,
    )


def link_out(link: ImageLink) -> LinkOut:
    return LinkOut(
        id=link.id,
        created_by=link.created_by_id,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        opens=link.opens,
        live=links.is_live(link),
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
    sess = db.session()
    found = services.list_studies(
        sess,
        principal,
        national_id=query.patient_national_id,
        country=query.id_country,
        after_id=query.cursor,
        limit=query.limit,
    )
    items = []
    for study in found:
        modalities = sorted(
            {s.series.modality for s in services.series_of(sess, study.id) if s.series.modality}
        )
        items.append(_summary(study, modalities))
    next_cursor = str(found[-1].id) if len(found) == query.limit else None
    return StudyList(items=items, next_cursor=next_cursor)


@api_route(
    "/studies/priors",
    summary="A patient's earlier studies in the central archive (C-FIND)",
    scope="imaging:read",
    tag="imaging",
    query=PriorQuery,
    response=PriorList,
    errors=(503,),
)
def list_priors(principal: Principal, query: PriorQuery) -> PriorList:
    from imaging import priors

    found = priors.priors(
        db.session(), principal, _imaging(), query.patient_national_id, query.id_country
    )
    return PriorList(
        configured=found is not None,
        items=[
            PriorOut(
                study_instance_uid=p.study_instance_uid,
                study_date=p.study_date,
                description=p.description,
                modalities=p.modalities,
                instances=p.instances,
                held_by_hub=p.held_by_hub,
            )
            for p in found or []
        ],
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
    from imaging import retrieve

    done = retrieve.retrieve_prior(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        db.session(),
        principal,
        _imaging(),
        body.study_instance_uid,
        body.patient_national_id,
        body.id_country,
    )
    return RetrievedOut(
        study_instance_uid=done.study_instance_uid,
        instances=done.instances,
        failed=done.failed,
        already_held=done.already_held,
    )


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
    response=LinkList,
    errors=(404,),
)
def list_links(principal: Principal, study_instance_uid: str) -> LinkList:
    found = links.list_links(db.session(), principal, _checked_uid(study_instance_uid))
    return LinkList(items=[link_out(link) for link in found])


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
    return link_out(
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
    "(multipart field 'files'; optional 'facility' code)",
    scope="imaging:write",
    tag="imaging",
    response=UploadOut,
    errors=(413,),
)
def upload_studies(principal: Principal) -> UploadOut:
    from pathlib import Path

    from hub.jobs import enqueue_after_commit
    from imaging.index import Indexer
    from imaging.storage import Storage
    from imaging.tasks import forward_drain

    settings = _imaging()
    factory = db.get_db().session_factory
    assert factory is not None and settings.storage_dir is not None
    files = [
        (f.filename or "upload", f.stream)
        for f in request.files.getlist("files") + request.files.getlist("file")
    ]
    sess = db.session()
    report = upload.upload(
        sess,
        principal,
        files,
        storage=Storage(Path(settings.storage_dir)),
        indexer=Indexer(factory, forward=settings.central_pacs is not None),
        facility_code=request.form.get("facility") or None,
    )
    if report.stored and settings.central_pacs is not None:
        enqueue_after_commit(sess, forward_drain.s())
    return UploadOut(
        stored=report.stored,
        duplicates=report.duplicates,
        refused=[RefusedFile(file=n[:200], reason=r) for n, r in report.refused],
        studies=sorted(report.studies),
    )


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
    from imaging import consults

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
    response=StudyList,
    errors=(404,),
)
def consult_studies(principal: Principal, consult_id: int) -> StudyList:
    from imaging import consults

    sess = db.session()
    found = consults.studies_of(sess, principal, consult_id)
    items = [
        _summary(
            s,
            sorted(
                {x.series.modality for x in services.series_of(sess, s.id) if x.series.modality}
            ),
        )
        for s in found
    ]
    return StudyList(items=items, next_cursor=None)


def package_response(study: Study) -> Response:
    """The study's CD/download package as a zip attachment."""
    import tempfile
    from pathlib import Path

    from flask import send_file

    from imaging.package import write_package
    from imaging.reports import signed_pdf

    settings = _imaging()
    assert settings.storage_dir is not None
    paths = services.stored_paths(db.session(), study.id)
    report = signed_pdf(db.session(), study.id)
    db.session().commit()  # the audit of the export is kept even if the download breaks off
    # Closed (and so deleted) by Werkzeug once the response is sent.
    spool = tempfile.TemporaryFile()  # noqa: SIM115
    write_package(Path(settings.storage_dir), paths, spool, report)
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
