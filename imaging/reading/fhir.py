"""A study's report as an HL7 FHIR R4 ``DiagnosticReport``, for the patient's record elsewhere:
the signed text as ``conclusion``, the signed PDF as ``presentedForm`` (its signatures intact),
the study by its DICOM UID, and the report's history in ``status`` (preliminary, final,
amended)."""

from __future__ import annotations

import base64
from datetime import datetime
from html import escape
from typing import Any

LOINC = "http://loinc.org"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"


def diagnostic_report(
    *,
    study_uid: str,
    version: int,
    signed: bool,
    findings: str,
    impression: str,
    issued: datetime | None,
    patient_id: int | None,
    radiologist: str,
    radiologist_licence: str | None,
    facility: str,
    pdf: bytes | None,
    document_id: str | None,
) -> dict[str, Any]:
    """The DiagnosticReport as a FHIR JSON object (validated with fhir.resources)."""
    if not signed:
        status = "preliminary"
    elif version > 1:
        status = "amended"
    else:
        status = "final"
    performer: dict[str, Any] = {"display": radiologist}
    if radiologist_licence:
        performer["identifier"] = {"value": radiologist_licence}
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "status": status,
        "category": [{"coding": [{"system": V2_0074, "code": "RAD", "display": "Radiology"}]}],
        "code": {
            "coding": [{"system": LOINC, "code": "18748-4", "display": "Diagnostic imaging study"}]
        },
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"}],
        "imagingStudy": [
            {
                "type": "ImagingStudy",
                "identifier": {"system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"},
            }
        ],
        "performer": [performer],
        "resultsInterpreter": [performer],
        "conclusion": impression,
    }
    # Findings have no element of their own in R4; they travel as text, as the narrative.
    resource["text"] = {
        "status": "generated",
        "div": _narrative(findings, impression),
    }
    if document_id is not None:
        resource["identifier"].append({"system": "urn:hub:signed-document", "value": document_id})
    if patient_id is not None:
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
    if issued is not None:
        resource["issued"] = issued.isoformat()
    if pdf is not None:
        resource["presentedForm"] = [
            {
                "contentType": "application/pdf",
                "data": base64.b64encode(pdf).decode("ascii"),
                "title": f"Imaging report, version {version} ({facility})",
            }
        ]
    # Imported here: fhir.resources takes ~0.2 s to import and only this export needs it.
    from fhir.resources.R4B.diagnosticreport import DiagnosticReport

    DiagnosticReport.model_validate(resource)
    return resource


def _narrative(findings: str, impression: str) -> str:
    return (
        '<div xmlns="http://www.w3.org/1999/xhtml">'
        f"<p><b>Findings</b></p><p>{escape(findings)}</p>"
        f"<p><b>Impression</b></p><p>{escape(impression)}</p>"
        "</div>"
    )
