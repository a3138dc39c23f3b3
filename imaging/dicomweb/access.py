"""Who asks, and which studies they reach: the API's caller with the study visibility of
``imaging.services``, or an image link with exactly its study."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import NotFound
from hub.permissions import require
from imaging import services
from imaging.models import Study


@dataclass(frozen=True)
class Access:
    principal: Principal
    # Set when the caller is an image link: the one study it grants.
    link_study_id: int | None = None

    def studies(self) -> ColumnElement[bool]:
        """SQL condition on :class:`Study` for the studies this caller reaches."""
        if self.link_study_id is not None:
            return Study.id == self.link_study_id
        return services.study_visibility(self.principal)

    def require_read(self, action: str) -> None:
        if self.link_study_id is None:
            require(self.principal, "imaging:read", action=action)


def study(session: Session, access: Access, study_uid: str) -> Study:
    """A study the caller reaches; any other is not found (a refusal audited as the API's)."""
    if access.link_study_id is None:
        return services.get_study(
            session, access.principal, study_uid, purpose="dicomweb_read", audited=False
        )
    found = session.scalar(
        select(Study).where(Study.study_instance_uid == study_uid, access.studies())
    )
    if found is None:
        raise NotFound("Not found.")
    return found


def record(
    session: Session,
    access: Access,
    action: str,
    *,
    study_row: Study | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Audit one DICOMweb request (the caller, the study if one, what was asked)."""
    extra: dict[str, object] = dict(details or {})
    if study_row is not None:
        extra["patient_id"] = study_row.patient_id
    if access.link_study_id is not None:
        extra["via"] = "link"
    audit.record(
        session,
        access.principal,
        action,
        object_type="study" if study_row is not None else None,
        object_id=study_row.id if study_row is not None else None,
        details=extra,
    )
