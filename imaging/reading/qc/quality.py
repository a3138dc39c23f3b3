"""Image quality: the reading radiologist grades each read study excellent, acceptable or poor
(a poor grade names its defect), so the sending facility learns how its images fare."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, NotFound
from hub.models import Role, utcnow
from hub.permissions import require
from imaging.models import Instance
from imaging.reading.models import ReadingRequest, ReadingStatus
from imaging.reading.qc.figures import Period
from imaging.reading.qc.models import Grade, ImageQuality
from imaging.reading.qc.schemas import ImageQualityIn

GRADERS = frozenset({Role.RADIOLOGIST})


def of_request(session: Session, request_id: int) -> ImageQuality | None:
    return session.scalar(select(ImageQuality).where(ImageQuality.request_id == request_id))


def device_of(session: Session, study_id: int) -> str:
    """The station that sent the study's images (its calling AE title); "" when uploaded."""
    ae = session.scalar(
        select(Instance.calling_ae)
        .where(Instance.study_id == study_id, Instance.calling_ae != "")
        .order_by(Instance.id)
        .limit(1)
    )
    return ae or ""


def may_grade(principal: Principal, request: ReadingRequest) -> bool:
    return principal.has_role(Role.RADIOLOGIST) and request.assigned_to_id == principal.user_id


def grade(
    session: Session, principal: Principal, request_id: int, data: ImageQualityIn
) -> ImageQuality:
    """Set (or correct) the grade of a study the caller reads or has read."""
    action = "imaging:qc:image_graded"
    require(principal, "imaging:write", roles=GRADERS, action=action)
    request = session.get(ReadingRequest, request_id)
    if request is None:
        raise NotFound("Not found.")
    if not may_grade(principal, request):
        raise AccessDenied(
            "Only the radiologist reading this study grades its images.",
            action=action,
            object_type="reading_request",
            object_id=request.id,
            hide=True,
        )
    if request.status not in (ReadingStatus.IN_PROGRESS, ReadingStatus.COMPLETED):
        raise Conflict("Claim the study before grading its images.", code="not_claimed")
    row = of_request(session, request.id)
    created = row is None
    if row is None:
        row = ImageQuality(request_id=request.id, device=device_of(session, request.study_id))
        session.add(row)
    row.grade = Grade(data.grade)
    row.defect = data.defect
    row.graded_by_id, row.graded_at = int(principal.user_id or 0), utcnow()
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("The images were just graded; reload and try again.") from None
    audit.record(
        session,
        principal,
        action,
        object_type="reading_request",
        object_id=request.id,
        details={"patient_id": request.study.patient_id, "grade": data.grade, "created": created},
    )
    return row


def defects(session: Session, facility_id: int, period: Period) -> list[ImageQuality]:
    """The facility's poor grades of the period with their defects, the latest first."""
    return list(
        session.scalars(
            select(ImageQuality)
            .join(ReadingRequest, ReadingRequest.id == ImageQuality.request_id)
            .where(
                ReadingRequest.facility_id == facility_id,
                ImageQuality.grade == Grade.POOR,
                period.clause(ImageQuality.graded_at),
            )
            .order_by(ImageQuality.graded_at.desc())
            .limit(200)
        )
    )
