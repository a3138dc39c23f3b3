"""What every signed document says the same way about its patient and its signers, and how it
picks its language."""

from __future__ import annotations

from typing import Any

from hub.config import SUPPORTED_LOCALES
from hub.models import Patient, User


def pick_locale(*candidates: str | None) -> str:
    """The first supported language among the candidates (asked for, the reader's, the hub's)."""
    for candidate in candidates:
        if candidate in SUPPORTED_LOCALES:
            return str(candidate)
    return "en"


def signer_facts(user: User | None) -> dict[str, Any]:
    """A signer as printed beside the signature and kept in the document's data."""
    if user is None:
        return {"id": None, "name": "", "licence": None, "facility": ""}
    return {
        "id": user.id,
        "name": user.full_name,
        "licence": user.licence_number,
        "facility": user.facility.name if user.facility else "",
    }


def patient_facts(patient: Patient) -> dict[str, Any]:
    """The patient as every document identifies them (real name, national id)."""
    return {
        "id": patient.id,
        "national_id": patient.national_id,
        "id_country": patient.id_country,
        "name": f"{patient.given_name} {patient.family_name}",
        "date_of_birth": patient.date_of_birth.isoformat(),
    }
