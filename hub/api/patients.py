"""Patients and consents under /api/v1/patients."""

from __future__ import annotations

from flask import Response, current_app
from pydantic import Field

from hub import db
from hub.api.core import api_route
from hub.api.pagination import PageQuery, next_cursor
from hub.auth.principal import Principal
from hub.config import Settings
from hub.documents.schemas import DocumentOut, LocaleQuery, document_out, pdf_response
from hub.schemas import (
    ConsentIn,
    ConsentList,
    ConsentOut,
    MembershipEndIn,
    MergeIn,
    PatientIn,
    PatientList,
    PatientMembershipOut,
    PatientOut,
    PatientPatch,
)
from hub.services import consent_forms
from hub.services import patients as svc


class PatientQuery(PageQuery):
    q: str | None = Field(
        default=None, max_length=120, description="National id, or the start of a name"
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
        return PatientOut.model_validate(svc.create_patient(db.session(), principal, body))

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
            db.session(),
            principal,
            query=query.q,
            after_id=query.position() or 0,
            limit=query.limit,
        )
        return PatientList(
            items=[PatientOut.model_validate(p) for p in found],
            next_cursor=next_cursor(found, query.limit, lambda p: p.id),
        )

    @api_route(
        "/patients/<int:patient_id>",
        summary="One patient",
        scope="patients:read",
        tag="patients",
        response=PatientOut,
        errors=(404,),
    )
    def get_patient(principal: Principal, patient_id: int) -> PatientOut:
        return PatientOut.model_validate(svc.get_patient(db.session(), principal, patient_id))

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
        return PatientOut.model_validate(
            svc.update_patient(db.session(), principal, patient_id, body)
        )

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
        return PatientOut.model_validate(
            svc.merge_patients(db.session(), principal, patient_id, body)
        )

    @api_route(
        "/patients/<int:patient_id>/memberships/<int:membership_id>/end",
        "POST",
        summary="End an insurance membership on a day (defaults to today)",
        scope="patients:write",
        tag="patients",
        body=MembershipEndIn,
        response=PatientMembershipOut,
        errors=(404, 409),
    )
    def end_membership(
        principal: Principal, patient_id: int, membership_id: int, body: MembershipEndIn
    ) -> PatientMembershipOut:
        return PatientMembershipOut.model_validate(
            svc.end_membership(db.session(), principal, patient_id, membership_id, body)
        )

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
        return ConsentList(items=[ConsentOut.model_validate(c) for c in rows])

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
        return ConsentList(items=[ConsentOut.model_validate(c) for c in rows])

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
        return ConsentOut.model_validate(
            svc.withdraw_consent(db.session(), principal, patient_id, consent_id)
        )

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
