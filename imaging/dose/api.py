"""Dose under /api/v1: a study's dose, a patient's cumulative dose, the reference levels, a
facility's reporting compliance."""

from __future__ import annotations

from flask import Response, current_app, jsonify

from hub import db
from hub.api.core import api_route
from hub.api.pagination import next_cursor
from hub.auth.principal import Principal
from hub.config import ImagingSettings
from hub.errors import AccessDenied, NotFound
from imaging.dicom.parse import UID_PATTERN
from imaging.dose import compliance, mapping, services
from imaging.dose.schemas import (
    ComplianceOut,
    ComplianceQuery,
    ExamTypeRuleIn,
    ExamTypeRuleList,
    ExamTypeRuleOut,
    ExamTypeRuleQuery,
    LateStudyOut,
    PatientDoseOut,
    ReferenceLevelIn,
    ReferenceLevelList,
    ReferenceLevelOut,
    SilentDeviceOut,
    StudyDoseOut,
    UnknownSourceOut,
)


def _imaging() -> ImagingSettings:
    return current_app.config["HUB_SETTINGS"].imaging


@api_route(
    "/studies/<study_instance_uid>/dose",
    summary="A study's radiation dose: irradiation events, accumulated totals (each event "
    "counted once, in mGy·cm, Gy·m², mGy, Gy), reference-level flags, the national node's state",
    scope="imaging:read",
    tag="imaging",
    response=StudyDoseOut,
    errors=(404,),
)
def study_dose(principal: Principal, study_instance_uid: str) -> StudyDoseOut:
    if len(study_instance_uid) > 64 or not UID_PATTERN.match(study_instance_uid):
        raise NotFound("Not found.")  # a malformed UID matches no study
    return services.study_dose(db.session(), principal, study_instance_uid, _imaging())


@api_route(
    "/studies/<study_instance_uid>/dose/fhir",
    summary="A study's dose as an HL7 FHIR R4 Radiation Dose Summary Observation "
    "(LOINC 73569-6; totals as components coded with DICOM concepts, UCUM units)",
    scope="imaging:read",
    tag="imaging",
    errors=(404,),
)
def study_dose_fhir(principal: Principal, study_instance_uid: str) -> Response:
    if len(study_instance_uid) > 64 or not UID_PATTERN.match(study_instance_uid):
        raise NotFound("Not found.")
    resource = services.study_dose_fhir(db.session(), principal, study_instance_uid, _imaging())
    resp = jsonify(resource)
    resp.mimetype = "application/fhir+json"
    return resp


@api_route(
    "/patients/<int:patient_id>/dose",
    summary="A patient's cumulative radiation dose: each study with dose, lifetime and the "
    "last 12 months, effective-dose estimates",
    scope="imaging:read",
    tag="imaging",
    response=PatientDoseOut,
    errors=(404,),
)
def patient_dose(principal: Principal, patient_id: int) -> PatientDoseOut:
    return services.patient_dose(db.session(), principal, patient_id, _imaging())


@api_route(
    "/dose/reference-levels",
    summary="Diagnostic reference levels: national, and the caller's facility's local ones, "
    "with their sources",
    scope="imaging:read",
    tag="imaging",
    response=ReferenceLevelList,
)
def reference_levels(principal: Principal) -> ReferenceLevelList:
    return services.reference_levels(db.session(), principal, _imaging())


@api_route(
    "/dose/reference-levels",
    "PUT",
    summary="Set a diagnostic reference level: national (national administrators) or the "
    "caller's facility's local level (its facility administrators, with local=true)",
    scope="imaging:write",
    tag="imaging",
    body=ReferenceLevelIn,
    response=ReferenceLevelOut,
)
def set_reference_level(principal: Principal, body: ReferenceLevelIn) -> ReferenceLevelOut:
    return services.set_reference_level(db.session(), principal, body)


@api_route(
    "/dose/exam-type-rules",
    summary="A facility's exam-type mapping (the caller's by default): description texts and "
    "the exam type they mean, tried in order before the built-in rules",
    scope="imaging:read",
    tag="imaging",
    query=ExamTypeRuleQuery,
    response=ExamTypeRuleList,
    errors=(404,),
)
def exam_type_rules(principal: Principal, query: ExamTypeRuleQuery) -> ExamTypeRuleList:
    found = mapping.list_rules(
        db.session(),
        principal,
        query.facility_id,
        after_id=query.position() or 0,
        limit=query.limit,
    )
    return ExamTypeRuleList(
        items=[ExamTypeRuleOut.model_validate(r) for r in found],
        next_cursor=next_cursor(found, query.limit, key=lambda r: r.id),
    )


@api_route(
    "/dose/exam-type-rules",
    "POST",
    summary="Add a rule to a facility's exam-type mapping (its facility administrators, "
    "national administrators); it applies to the facility's earlier exams too",
    scope="admin",
    tag="imaging",
    body=ExamTypeRuleIn,
    response=ExamTypeRuleOut,
    status=201,
    errors=(404, 409),
)
def add_exam_type_rule(principal: Principal, body: ExamTypeRuleIn) -> ExamTypeRuleOut:
    return ExamTypeRuleOut.model_validate(mapping.add_rule(db.session(), principal, body))


@api_route(
    "/dose/exam-type-rules/<int:rule_id>",
    "DELETE",
    summary="Remove a rule from a facility's exam-type mapping",
    scope="admin",
    tag="imaging",
    status=204,
    errors=(404,),
)
def delete_exam_type_rule(principal: Principal, rule_id: int) -> None:
    mapping.delete_rule(db.session(), principal, rule_id)


@api_route(
    "/dose/compliance",
    summary="A facility's dose reporting compliance over a period (by arrival): studies late "
    "for the national node against the deadline, and CT/MG devices neither sending dose data "
    "nor exempt",
    scope="imaging:read",
    tag="imaging",
    query=ComplianceQuery,
    response=ComplianceOut,
    errors=(404, 422),
)
def dose_compliance(principal: Principal, query: ComplianceQuery) -> ComplianceOut:
    found = compliance.report(
        db.session(), principal, _imaging(), query.facility, query.from_, query.to
    )
    if query.facility is not None and found.facility is None:
        raise AccessDenied(
            action="imaging:dose:compliance_viewed",
            object_type="facility",
            object_id=query.facility,
            hide=True,
        )
    return ComplianceOut.model_validate(
        {
            "facility": found.facility.code if found.facility is not None else None,
            "from": found.start,
            "to": found.end,
            "deadline_hours": found.deadline_hours,
            "node_configured": found.node_configured,
            "studies": found.studies,
            "late": [
                LateStudyOut.model_validate({**vars(s), "modalities": list(s.modalities)})
                for s in found.late
            ],
            "silent_devices": [
                SilentDeviceOut(
                    device_id=d.device.id,
                    label=d.device.label,
                    modality=d.device.modality,
                    serial_number=d.device.serial_number,
                    national_device_id=d.device.national_device_id,
                    studies=d.studies,
                    last_received_at=d.last_received_at,
                )
                for d in found.silent
            ],
            "unknown_sources": [UnknownSourceOut.model_validate(u) for u in found.unknown],
        }
    )
