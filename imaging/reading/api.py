"""Teleradiology under /api/v1: the report (draft, PDF, sign, countersign), reading requests
(send, worklist, claim) and critical results (raise, read, acknowledge)."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from hub import db
from hub.api.core import api_route
from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents.schemas import DocumentOut, LocaleQuery, document_out, pdf_response
from hub.errors import NotFound
from imaging.dicom.parse import UID_PATTERN
from imaging.models import ImagingReport
from imaging.reading import contacts, critical, requests, services
from imaging.reading.schemas import (
    AcknowledgeIn,
    AmendIn,
    ContactIn,
    ContactList,
    ContactOut,
    CriticalResultIn,
    CriticalResultOut,
    ReadingRequestIn,
    ReadingRequestOut,
    ReadingWorklistOut,
    ReportIn,
    ReportOut,
)

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
    uid = _uid(study_instance_uid)
    return _report_out(principal, uid, services.get(db.session(), principal, uid))


def _report_out(principal: Principal, uid: str, report: ImagingReport) -> ReportOut:
    out = ReportOut.model_validate(report)
    out.versions = services.versions(db.session(), principal, uid)
    return out


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
    uid = _uid(study_instance_uid)
    report, _created = services.write(db.session(), principal, uid, body)
    return _report_out(principal, uid, report)


@api_route(
    BASE + "/amend",
    "POST",
    summary="Amend the signed report: a new draft version with the reason (the signed version "
    "is kept, shown as superseded once the amendment is signed)",
    scope="imaging:write",
    tag="imaging",
    body=AmendIn,
    response=ReportOut,
    status=201,
    errors=(403, 404, 409),
)
def amend_report(principal: Principal, study_instance_uid: str, body: AmendIn) -> ReportOut:
    uid = _uid(study_instance_uid)
    return _report_out(principal, uid, services.amend(db.session(), principal, uid, body))


@api_route(
    BASE + "/versions/<int:version>.pdf",
    summary="One version of the report as a PDF (a superseded one as it was signed)",
    scope="imaging:read",
    tag="imaging",
    query=LocaleQuery,
    errors=(404, 409),
)
def get_report_version_pdf(
    principal: Principal, study_instance_uid: str, version: int, query: LocaleQuery
) -> Response:
    uid = _uid(study_instance_uid)
    data, signed = services.pdf(db.session(), _settings(), principal, uid, query.locale, version)
    return pdf_response(data, signed, f"imaging-report-v{version}")


@api_route(
    BASE + "/fhir",
    summary="The report as an HL7 FHIR R4 DiagnosticReport (final, amended or preliminary), "
    "with the signed PDF as its presented form",
    scope="imaging:read",
    tag="imaging",
    errors=(404,),
)
def get_report_fhir(principal: Principal, study_instance_uid: str) -> Response:
    resource = services.fhir_report(db.session(), principal, _uid(study_instance_uid))
    resp = jsonify(resource)
    resp.mimetype = "application/fhir+json"
    return resp


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


# --- reading requests and critical results ------------------------------------------------


@api_route(
    "/reading-requests",
    "POST",
    summary="Send a stored study for teleradiology reading (licensed facility, qualified "
    "technician); routed at once",
    scope="imaging:write",
    tag="imaging",
    body=ReadingRequestIn,
    response=ReadingRequestOut,
    status=201,
    errors=(403, 404, 409, 422),
)
def create_reading_request(principal: Principal, body: ReadingRequestIn) -> ReadingRequestOut:
    return ReadingRequestOut.model_validate(requests.submit(db.session(), principal, body))


@api_route(
    "/reading-requests/<int:request_id>",
    summary="A reading request (sending facility, offered or assigned radiologist)",
    scope="imaging:read",
    tag="imaging",
    response=ReadingRequestOut,
    errors=(404,),
)
def get_reading_request(principal: Principal, request_id: int) -> ReadingRequestOut:
    return ReadingRequestOut.model_validate(requests.get(db.session(), principal, request_id))


@api_route(
    "/reading-worklist",
    summary="The radiologist's reading worklist: own studies in progress, then those offered",
    scope="imaging:read",
    tag="imaging",
    response=ReadingWorklistOut,
    errors=(403,),
)
def reading_worklist(principal: Principal) -> ReadingWorklistOut:
    items = requests.worklist(db.session(), principal)
    return ReadingWorklistOut(items=[ReadingRequestOut.model_validate(r) for r in items])


@api_route(
    "/reading-requests/<int:request_id>/claim",
    "POST",
    summary="Claim a scheduled reading request (exactly one radiologist wins)",
    scope="imaging:write",
    tag="imaging",
    response=ReadingRequestOut,
    errors=(403, 404, 409),
)
def claim_reading_request(principal: Principal, request_id: int) -> ReadingRequestOut:
    return ReadingRequestOut.model_validate(requests.claim(db.session(), principal, request_id))


@api_route(
    "/reading-requests/<int:request_id>/critical-results",
    "POST",
    summary="Raise a critical result (ACR category 1, 2 or 3); the sending facility is alerted",
    scope="imaging:write",
    tag="imaging",
    body=CriticalResultIn,
    response=CriticalResultOut,
    status=201,
    errors=(403, 404, 409, 422),
)
def raise_critical_result(
    principal: Principal, request_id: int, body: CriticalResultIn
) -> CriticalResultOut:
    result = critical.raise_result(db.session(), principal, request_id, body)
    return CriticalResultOut.model_validate(result)


@api_route(
    "/critical-results/<int:result_id>",
    summary="A critical result: open, acknowledged or escalated, with its timeline",
    scope="imaging:read",
    tag="imaging",
    response=CriticalResultOut,
    errors=(404,),
)
def get_critical_result(principal: Principal, result_id: int) -> CriticalResultOut:
    return CriticalResultOut.model_validate(critical.get(db.session(), principal, result_id))


@api_route(
    "/critical-results/<int:result_id>/acknowledge",
    "POST",
    summary="Acknowledge a critical result (staff of the requesting facility), with read-back",
    scope="imaging:write",
    tag="imaging",
    body=AcknowledgeIn,
    response=CriticalResultOut,
    errors=(403, 404, 409, 422),
)
def acknowledge_critical_result(
    principal: Principal, result_id: int, body: AcknowledgeIn
) -> CriticalResultOut:
    result = critical.acknowledge(db.session(), principal, result_id, body)
    return CriticalResultOut.model_validate(result)


@api_route(
    "/facilities/<string:code>/critical-contacts",
    summary="A facility's contact list for critical results (its administrators; national "
    "administrators for any facility): each is e-mailed when one is raised for its studies",
    scope="admin",
    tag="imaging",
    response=ContactList,
    errors=(404,),
)
def list_critical_contacts(principal: Principal, code: str) -> ContactList:
    facility, rows = contacts.of_facility(db.session(), principal, code[:40])
    return ContactList(facility=facility.code, items=[ContactOut.model_validate(r) for r in rows])


@api_route(
    "/facilities/<string:code>/critical-contacts",
    "POST",
    summary="Add a contact to a facility's list for critical results (409 when already on it)",
    scope="admin",
    tag="imaging",
    body=ContactIn,
    response=ContactOut,
    status=201,
    errors=(404, 409),
)
def add_critical_contact(principal: Principal, code: str, body: ContactIn) -> ContactOut:
    row = contacts.add(db.session(), principal, code[:40], body.name, str(body.email), body.locale)
    return ContactOut.model_validate(row)


@api_route(
    "/facilities/<string:code>/critical-contacts/<int:contact_id>",
    "DELETE",
    summary="Remove a contact from a facility's list for critical results",
    scope="admin",
    tag="imaging",
    status=204,
    errors=(404,),
)
def remove_critical_contact(principal: Principal, code: str, contact_id: int) -> None:
    contacts.remove(db.session(), principal, code[:40], contact_id)
