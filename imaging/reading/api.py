"""The radiologist's report under /api/v1: write the draft, read it, its PDF, sign, countersign."""

from __future__ import annotations

from flask import Response, current_app

from hub import db
from hub.api.core import api_route
from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents.schemas import DocumentOut, LocaleQuery, document_out, pdf_response
from hub.errors import NotFound
from imaging.dicom.parse import UID_PATTERN
from imaging.reading import services
from imaging.reading.schemas import ReportIn, ReportOut

BASE = "/studies/<study_instance_uid>/report"


def _settings() -> Settings:
    settings: Settings = current_app.config["HUB_SETTINGS"]
    return settings


def _uid(uid: str) -> str:
    # A malformed UID can match nothing; answer as for any unknown study.
    if len(uid) > 64 or not UID_PATTERN.match(uid):
        raise NotFound("Not found.")
    return uid


@api_route(
    BASE,
    summary="The study's report (draft or signed)",
    scope="imaging:read",
    tag="imaging",
    response=ReportOut,
    errors=(404,),
)
def get_report(principal: Principal, study_instance_uid: str) -> ReportOut:
    return ReportOut.model_validate(services.get(db.session(), principal, _uid(study_instance_uid)))


@api_route(
    BASE,
    "PUT",
    summary="Write or change the report's draft (the radiologist who writes it)",
    scope="imaging:write",
    tag="imaging",
    body=ReportIn,
    response=ReportOut,
    errors=(404, 409),
)
def put_report(principal: Principal, study_instance_uid: str, body: ReportIn) -> ReportOut:
    report, _created = services.write(db.session(), principal, _uid(study_instance_uid), body)
    return ReportOut.model_validate(report)


@api_route(
    BASE + ".pdf",
    summary="The report as a PDF: the signed one as stored, or an unsigned draft",
    scope="imaging:read",
    tag="imaging",
    query=LocaleQuery,
    errors=(404, 409),
)
def get_report_pdf(principal: Principal, study_instance_uid: str, query: LocaleQuery) -> Response:
    uid = _uid(study_instance_uid)
    data, signed = services.pdf(db.session(), _settings(), principal, uid, query.locale)
    return pdf_response(data, signed, "imaging-report")


@api_route(
    BASE + "/sign",
    "POST",
    summary="Sign the report (its radiologist; PAdES certification with a time-stamp)",
    scope="imaging:write",
    tag="imaging",
    query=LocaleQuery,
    response=DocumentOut,
    status=201,
    errors=(404, 409, 503),
)
def sign_report(principal: Principal, study_instance_uid: str, query: LocaleQuery) -> DocumentOut:
    uid = _uid(study_instance_uid)
    doc = services.sign(db.session(), _settings(), principal, uid, query.locale)
    return document_out(db.session(), _settings(), doc)


@api_route(
    BASE + "/countersign",
    "POST",
    summary="Countersign the signed report (a health worker of the sending facility)",
    scope="imaging:write",
    tag="imaging",
    response=DocumentOut,
    errors=(404, 409, 503),
)
def countersign_report(principal: Principal, study_instance_uid: str) -> DocumentOut:
    doc = services.countersign(db.session(), _settings(), principal, _uid(study_instance_uid))
    return document_out(db.session(), _settings(), doc)
