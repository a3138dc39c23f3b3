"""Studies attached to consults. The consult package is asked, through its service, whether the
caller may see the consult; imaging keeps the attachment rows."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from consult import services as consult_services
from hub import audit
from hub.auth.principal import Principal
from hub.errors import Conflict
from hub.hooks import ConsultPage
from hub.models import Role
from hub.permissions import CLINICAL_ROLES, require
from imaging.models import Study, StudyConsult
from imaging.services import get_study, study_visibility

ATTACHERS = CLINICAL_ROLES | {Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN}


def attach(session: Session, principal: Principal, study_uid: str, consult_id: int) -> StudyConsult:
    """Attach a study the caller sees to a consult the caller sees, of the same patient."""
    action = "imaging:study:attached"
    require(principal, "consults:write", roles=ATTACHERS, action=action)
    study = get_study(session, principal, study_uid, purpose="viewed")
    consult = consult_services.get(session, principal, consult_id)
    if study.patient_id is None or study.patient_id != consult.patient_id:
        raise Conflict("The study is not of the consult's patient.", code="other_patient")
    existing = session.scalar(
        select(StudyConsult).where(
            StudyConsult.study_id == study.id, StudyConsult.consult_id == consult.id
        )
    )
    if existing is not None:
        return existing
    row = StudyConsult(study_id=study.id, consult_id=consult.id, attached_by_id=principal.user_id)
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="study",
        object_id=study.id,
        details={"consult_id": consult.id},
    )
    return row


def studies_of(
    session: Session,
    principal: Principal,
    consult_id: int,
    *,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[Study]:
    """The studies attached to a consult, as far as the caller may see them, by id: all of
    them, or ``limit`` after the id ``after_id``."""
    consult = consult_services.get(session, principal, consult_id, purpose="studies_viewed")
    require(principal, "imaging:read", action="imaging:study:listed")
    stmt = (
        select(Study)
        .join(StudyConsult, StudyConsult.study_id == Study.id)
        .where(StudyConsult.consult_id == consult.id, study_visibility(principal))
    )
    if after_id is not None:
        stmt = stmt.where(Study.id > after_id)
    studies = list(session.scalars(stmt.order_by(Study.id).limit(limit)))
    audit.record(
        session,
        principal,
        "imaging:study:listed",
        object_type="study",
        details={"ids": [s.id for s in studies], "consult_id": consult.id},
    )
    return studies


def page_section(session: Session, principal: Principal, consult: ConsultPage) -> dict[str, Any]:
    """The consult page's images: the studies attached to it, and what the page needs to ask
    the central archive for the patient's earlier studies (fetched on request, not on load)."""
    if "imaging:read" not in principal.scopes:
        return {"shown": False}
    studies = studies_of(session, principal, consult.consult_id)
    settings = current_app.config["HUB_SETTINGS"].imaging
    return {
        "shown": True,
        "studies": [
            {
                "uid": s.study_instance_uid,
                "date": s.study_date,
                "description": s.description,
                "modalities": sorted({x.modality for x in s.series if x.modality}),
            }
            for s in studies
        ],
        "archive": settings.central_pacs is not None,
        "national_id": consult.national_id,
        "id_country": consult.id_country,
    }
