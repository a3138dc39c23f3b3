"""Patients and consents under /api/v1/patients."""

from __future__ import annotations

from flask import Response, current_app
from pydantic import BaseModel, ConfigDict, Field

from hub import db
from hub.api.core import api_route
from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents.schemas import DocumentOut, LocaleQuery, document_out, pdf_response
from hub.models import Consent, Patient
from hub.schemas import (
    ConsentIn,
    ConsentList,
    ConsentOut,
    MergeIn,
    PatientIn,
    PatientList,
    PatientOut,
    PatientPatch,
)
from hub.services import consent_forms
from hub.services import patients as svc


class PatientQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(
        default=None, max_length=120, description="National id, or the start of a name"
    )
    cursor: int = Field(default=0, ge=0, description="next_cursor of the previous page")
    limit: int = Field(default=50, ge=1, le=200)


def patient_out(p: Patient) -> PatientOut:
    return PatientOut(
        id=p.id,
        national_id=p.national_id,
        id_country=p.id_country,
        given_name=p.given_name,
        family_name=p.family_name,
        date_of_birth=p.date_of_birth,
        sex=p.sex,
        phone=p.phone,
        email=p.email,
        address=p.address,
        home_facility=p.home_facility.code,
        merged_into=p.merged_into_id,
        created_at=p.created_at,
    )


def consent_out(c: Consent) -> ConsentOut:
    return ConsentOut(
        id=c.id,
        patient_id=c.patient_id,
        scope=c.scope,
        method=c.method,
        given_by_name=c.given_by_name,
        relationship_to_patient=c.relationship_to_patient,
        given_at=c.given_at,
        recorded_by=c.recorded_by_id,
        withdrawn_at=c.withdrawn_at,
        active=c.active,
    )


def register() -> None:
    @api_route(
        "/patients",
        "POST",
        summary="Register a patient by real name",
        scope="patients:write",
        tag="patients",
        body=PatientIn,
        response=PatientOut,
        status=201,
        errors=(409,),
    )
    def create_patient(principal: Principal, body: PatientIn) -> PatientOut:
        return patient_out(svc.create_patient(db.session(), principal, body))

    @api_route(
        "/patients",
        summary="Patients within your scope",
        scope="patients:read",
        tag="patients",
        query=PatientQuery,
        response=PatientList,
    )
    def list_patients(principal: Principal, query: PatientQuery) -> PatientList:
        found = svc.list_patients(
            db.session(), principal, query=query.q, after_id=query.cursor, limit=query.limit
        )
        next_cursor = str(found[-1].id) if len(found) == query.limit else None
        return PatientList(items=[patient_out(p) for p in found], next_cursor=next_cursor)

    @api_route(
        "/patients/<int:patient_id>",
        summary="One patient",
        scope="patients:read",
        tag="patients",
        response=PatientOut,
        errors=(404,),
    )
    def get_patient(principal: Principal, patient_id: int) -> PatientOut:
        return patient_out(svc.get_patient(db.session(), principal, patient_id))

    @api_route(
        "/patients/<int:patient_id>",
        "PATCH",
        summary="Correct a patient's details",
        scope="patients:write",
        tag="patients",
        body=PatientPatch,
        response=PatientOut,
        errors=(404,),
    )
    def update_patient(principal: Principal, patient_id: int, body: PatientPatch) -> PatientOut:
        return patient_out(svc.update_patient(db.session(), principal, patient_id, body))

    @api_route(
        "/patients/<int:patient_id>/merge",
        "POST",
        summary="Merge a duplicate record into this one",
        scope="patients:write",
        tag="patients",
        body=MergeIn,
        response=PatientOut,
        errors=(404, 409),
    )
    def merge_patient(principal: Principal, patient_id: int, body: MergeIn) -> PatientOut:
        return patient_out(svc.merge_patients(db.session(), principal, patient_id, body))

    @api_route(
        "/patients/<int:patient_id>/consents",
        "POST",
        summary="Record a telemedicine consent (one record per scope)",
        scope="patients:write",
        tag="consents",
        body=ConsentIn,
        response=ConsentList,
        status=201,
        errors=(404, 409),
    )
    def record_consent(principal: Principal, patient_id: int, body: ConsentIn) -> ConsentList:
        rows = svc.record_consent(db.session(), principal, patient_id, body)
        return ConsentList(items=[consent_out(c) for c in rows])

    @api_route(
        "/patients/<int:patient_id>/consents",
        summary="A patient's consents",
        scope="patients:read",
        tag="consents",
        response=ConsentList,
        errors=(404,),
    )
    def list_consents(principal: Principal, patient_id: int) -> ConsentList:
        rows = svc.list_consents(db.session(), principal, patient_id)
        return ConsentList(items=[consent_out(c) for c in rows])

    @api_route(
        "/patients/<int:patient_id>/consents/<int:consent_id>/withdraw",
        "POST",
        summary="Withdraw a consent",
        scope="patients:write",
        tag="consents",
        response=ConsentOut,
        errors=(404, 409),
    )
    def withdraw_consent(principal: Principal, patient_id: int, consent_id: int) -> ConsentOut:
        return consent_out(svc.withdraw_consent(db.session(), principal, patient_id, consent_id))

    @api_route(
        "/patients/<int:patient_id>/consents/<int:consent_id>/form.pdf",
        summary="The consent form as a PDF: the signed one as stored, or an unsigned draft",
        scope="patients:read",
        tag="consents",
        query=LocaleQuery,
        errors=(404,),
    )
    def get_consent_form(
        principal: Principal, patient_id: int, consent_id: int, query: LocaleQuery
    ) -> Response:
        data, signed = consent_forms.pdf(
            db.session(), _settings(), principal, patient_id, consent_id, query.locale
        )
        return pdf_response(data, signed, f"consent-{consent_id}")

    @api_route(
        "/patients/<int:patient_id>/consents/<int:consent_id>/form/sign",
        "POST",
        summary="Sign the consent form (the health worker who recorded the consent, as witness)",
        scope="patients:write",
        tag="consents",
        query=LocaleQuery,
        response=DocumentOut,
        status=201,
        errors=(404, 409, 503),
    )
    def sign_consent_form(
        principal: Principal, patient_id: int, consent_id: int, query: LocaleQuery
    ) -> DocumentOut:
        doc = consent_forms.sign(
            db.session(), _settings(), principal, patient_id, consent_id, query.locale
        )
        return document_out(db.session(), _settings(), doc)


def _settings() -> Settings:
    settings: Settings = current_app.config["HUB_SETTINGS"]
    return settings
