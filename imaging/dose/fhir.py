"""A study's dose as an HL7 FHIR R4 Radiation Dose Summary Observation (LOINC 73569-6), for
export: the accumulated totals as components coded with their DICOM concept codes, in UCUM."""

from __future__ import annotations

from datetime import date
from typing import Any

from imaging.dose.schemas import StudyDoseOut

LOINC = "http://loinc.org"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
UCUM = "http://unitsofmeasure.org"
# (total, DICOM concept, its meaning, UCUM unit, factor from the hub's unit)
_COMPONENTS = (
    ("ct_dlp_mgycm", "113813", "CT Dose Length Product Total", "mGy.cm", 1.0),
    ("dap_gym2", "113722", "Dose Area Product Total", "Gy.m2", 1.0),
    ("agd_mgy", "111637", "Accumulated Average Glandular Dose", "mGy", 1.0),
    ("dose_rp_gy", "113725", "Dose (RP) Total", "Gy", 1.0),
    ("fluoro_time_s", "113730", "Total Fluoro Time", "s", 1.0),
)


def observation(
    dose: StudyDoseOut, patient_id: int | None, study_date: date | None
) -> dict[str, Any]:
    """The Observation as a FHIR JSON object (validated with fhir.resources)."""
    components = []
    for name, code, meaning, unit, factor in _COMPONENTS:
        value = getattr(dose.totals, name)
        if value is None:
            continue
        components.append(
            {
                "code": {"coding": [{"system": DCM, "code": code, "display": meaning}]},
                "valueQuantity": {
                    "value": round(value * factor, 10),
                    "unit": unit,
                    "system": UCUM,
                    "code": unit,
                },
            }
        )
    if dose.effective_dose_msv_estimate is not None:
        components.append(
            {
                "code": {
                    "coding": [{"system": DCM, "code": "113839", "display": "Effective Dose"}],
                    "text": "Effective dose, estimate (DLP x published conversion coefficients)",
                },
                "valueQuantity": {
                    "value": dose.effective_dose_msv_estimate,
                    "unit": "mSv",
                    "system": UCUM,
                    "code": "mSv",
                },
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "imaging",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": LOINC,
                    "code": "73569-6",
                    "display": "Radiation exposure and protection information",
                }
            ]
        },
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{dose.study_instance_uid}"}],
        "partOf": [
            {
                "type": "ImagingStudy",
                "identifier": {
                    "system": "urn:dicom:uid",
                    "value": f"urn:oid:{dose.study_instance_uid}",
                },
            }
        ],
        "component": components,
    }
    if patient_id is not None:
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
    if study_date is not None:
        resource["effectiveDateTime"] = study_date.isoformat()
    if dose.modality:
        resource["method"] = {
            "coding": [{"system": DCM, "code": dose.modality, "display": dose.modality}]
        }
    # Imported here: fhir.resources takes ~0.2 s to import and only this export needs it.
    from fhir.resources.R4B.observation import Observation

    Observation.model_validate(resource)
    return resource
