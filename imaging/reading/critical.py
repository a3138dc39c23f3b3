"""Critical results (SEEDS 004 "critical value" reporting), after the ACR actionable-finding
categories: the radiologist raises one, the sending facility is alerted at once, one of its
staff acknowledges it (who, when, how, read-back); unacknowledged in the category's window it
escalates to the facility head, then to the region's command staff, each step on its timeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit, hooks, realtime
from hub.auth.principal import SYSTEM, Principal
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Facility, Role, User, utcnow
from hub.permissions import REQUESTER_ROLES, require
from hub.services.users import role_holders
from imaging.reading import contacts
from imaging.reading.models import (
    CriticalEvent,
    CriticalResult,
    CriticalStatus,
    CriticalWindow,
    ReadingRequest,
    ReadingStatus,
)
from imaging.reading.schemas import AcknowledgeIn, CriticalResultIn

DEFAULT_ACK_MINUTES = {1: 15, 2: 6 * 60, 3: 3 * 24 * 60}
ACKNOWLEDGERS = REQUESTER_ROLES | {Role.FACILITY_ADMIN}
RAISERS = frozenset({Role.RADIOLOGIST})
EVENT = "critical_result"
TOP_LEVEL = 2  # 1: the facility head, 2: the region's command staff


def ack_window(session: Session, category: int) -> timedelta:
    """The category's acknowledgement window (configured, or the default)."""
    row = session.get(CriticalWindow, category)
    return timedelta(minutes=row.ack_minutes if row else DEFAULT_ACK_MINUTES[category])


def set_window(session: Session, category: int, minutes: int) -> CriticalWindow:
    """Configure a category's window (``hub critical-results set``)."""
    if category not in DEFAULT_ACK_MINUTES:
        raise ValidationFailed("The category is 1, 2 or 3.", code="bad_category")
    if not 1 <= minutes <= 30 * 24 * 60:
        raise ValidationFailed("The window is 1 minute to 30 days.", code="bad_window")
    row = session.get(CriticalWindow, category)
    if row is None:
        row = CriticalWindow(category=category, ack_minutes=minutes)
        session.add(row)
    row.ack_minutes, row.updated_at = minutes, utcnow()
    session.flush()
    return row


def _event(
    session: Session,
    result: CriticalResult,
    kind: str,
    actor_id: int | None,
    at: datetime,
    **details: Any,
) -> None:
    session.add(
        CriticalEvent(result_id=result.id, kind=kind, actor_id=actor_id, at=at, details=details)
    )


def _alert(session: Session, result: CriticalResult, rooms: list[str]) -> None:
    data = {"id": result.id, "status": result.status.value, "category": result.category}
    realtime.emit_after_commit(session, EVENT, data, rooms)


def raise_result(
    session: Session, principal: Principal, request_id: int, data: CriticalResultIn
) -> CriticalResult:
    """The reading radiologist raises a critical result; the sending facility is alerted."""
    action = "imaging:critical:raised"
    require(principal, "imaging:write", roles=RAISERS, action=action)
    request = session.get(ReadingRequest, request_id)
    if request is None:
        raise NotFound("Not found.")
    if request.assigned_to_id != principal.user_id:
        raise AccessDenied(
            action=action, object_type="reading_request", object_id=request.id, hide=True
        )
    if request.status not in (ReadingStatus.IN_PROGRESS, ReadingStatus.COMPLETED):
        raise Conflict("Claim the study before raising a critical result.", code="not_claimed")
    now = utcnow()
    due = now + ack_window(session, data.category)
    result = CriticalResult(
        request_id=request.id,
        category=data.category,
        finding=data.finding,
        status=CriticalStatus.OPEN,
        raised_by_id=principal.user_id,
        raised_at=now,
        ack_due_at=due,
        next_escalation_at=due,
    )
    session.add(result)
    session.flush()
    _event(session, result, "raised", principal.user_id, now, category=data.category)
    _event(session, result, "alerted", None, now, to="facility", facility_id=request.facility_id)
    _alert(session, result, [realtime.facility_room(request.facility_id)])
    queued = contacts.queue_notices(session, result, request.facility_id)
    if queued:
        _event(session, result, "contacts_queued", None, now, count=queued)
    audit.record(
        session,
        principal,
        action,
        object_type="critical_result",
        object_id=result.id,
        details={"patient_id": request.study.patient_id, "category": data.category},
    )
    return result


def _of_facility(principal: Principal, result: CriticalResult) -> bool:
    return principal.facility_id == result.request.facility_id and bool(
        principal.roles & ACKNOWLEDGERS
    )


def _may_see(principal: Principal, result: CriticalResult) -> bool:
    if principal.kind == "system" or principal.has_role(Role.NATIONAL_ADMIN):
        return True
    if _of_facility(principal, result) or result.raised_by_id == principal.user_id:
        return True
    if principal.has_role(Role.COMMAND) and result.escalation_level >= TOP_LEVEL:
        facility = result.request.study.facility
        return principal.region_id == facility.region_id
    return False


def get(session: Session, principal: Principal, result_id: int) -> CriticalResult:
    """A critical result with its timeline, for those it concerns."""
    action = "imaging:critical:viewed"
    require(principal, "imaging:read", action=action)
    result = session.get(CriticalResult, result_id)
    if result is None:
        raise NotFound("Not found.")
    if not _may_see(principal, result):
        raise AccessDenied(
            action=action, object_type="critical_result", object_id=result.id, hide=True
        )
    audit.record(
        session,
        principal,
        action,
        object_type="critical_result",
        object_id=result.id,
        details={"patient_id": result.request.study.patient_id},
    )
    return result


def acknowledge(
    session: Session, principal: Principal, result_id: int, data: AcknowledgeIn
) -> CriticalResult:
    """Staff of the requesting facility acknowledge (closing the loop); recorded with read-back."""
    action = "imaging:critical:acknowledged"
    require(principal, "imaging:write", action=action)
    result = session.get(CriticalResult, result_id)
    if result is None:
        raise NotFound("Not found.")
    if not _of_facility(principal, result):
        raise AccessDenied(
            "Only staff of the facility that sent the study acknowledge its critical results.",
            action=action,
            object_type="critical_result",
            object_id=result.id,
            hide=not _may_see(principal, result),
        )
    if result.status is CriticalStatus.ACKNOWLEDGED:
        raise Conflict("This critical result is already acknowledged.", code="acknowledged")
    now = utcnow()
    late = now > result.ack_due_at
    result.status = CriticalStatus.ACKNOWLEDGED
    result.acknowledged_by_id, result.acknowledged_at = principal.user_id, now
    result.ack_method, result.read_back = data.method, data.read_back
    result.next_escalation_at = None
    _event(session, result, "acknowledged", principal.user_id, now, method=data.method, late=late)
    _alert(session, result, [realtime.facility_room(result.request.facility_id)])
    audit.record(
        session,
        principal,
        action,
        object_type="critical_result",
        object_id=result.id,
        details={"patient_id": result.request.study.patient_id, "late": late},
    )
    return result


def _facility_heads(session: Session, facility_id: int) -> list[int]:
    return list(
        session.scalars(role_holders(Role.FACILITY_ADMIN).where(User.facility_id == facility_id))
    )


def escalate_due(session: Session, now: datetime | None = None) -> int:
    """Escalate unacknowledged results past their window one level; returns how many moved."""
    now = now or utcnow()
    due = list(
        session.scalars(
            select(CriticalResult)
            .where(
                CriticalResult.status != CriticalStatus.ACKNOWLEDGED,
                CriticalResult.next_escalation_at.is_not(None),
                CriticalResult.next_escalation_at <= now,
            )
            .order_by(CriticalResult.id)
            .with_for_update(skip_locked=True)
        )
    )
    for result in due:
        facility = session.get_one(Facility, result.request.facility_id)
        result.escalation_level += 1
        result.status = CriticalStatus.ESCALATED
        if result.escalation_level == 1:
            heads = _facility_heads(session, facility.id)
            rooms = [realtime.user_room(uid) for uid in heads]
            _event(session, result, "escalated", None, now, level=1, to="facility_head")
            result.next_escalation_at = now + ack_window(session, result.category)
        else:
            rooms = [realtime.command_room(facility.region_id)]
            _event(session, result, "escalated", None, now, level=2, to="region_command")
            result.next_escalation_at = None
            hooks.command_alerted.run(
                session,
                hooks.CommandAlert(
                    region_id=facility.region_id,
                    kind="critical_result",
                    subject_type="critical_result",
                    subject_id=result.id,
                    raised_at=now,
                    detail=str(result.category),
                ),
            )
        _alert(session, result, [*rooms, realtime.facility_room(facility.id)])
        audit.record(
            session,
            SYSTEM,
            "imaging:critical:escalated",
            object_type="critical_result",
            object_id=result.id,
            details={"level": result.escalation_level},
        )
    return len(due)


def open_for_facility(session: Session, principal: Principal) -> list[CriticalResult]:
    """The unacknowledged critical results of the caller's facility (banner and page)."""
    if principal.facility_id is None or not principal.roles & ACKNOWLEDGERS:
        return []
    return list(
        session.scalars(
            select(CriticalResult)
            .join(ReadingRequest, ReadingRequest.id == CriticalResult.request_id)
            .where(
                ReadingRequest.facility_id == principal.facility_id,
                CriticalResult.status != CriticalStatus.ACKNOWLEDGED,
            )
            .order_by(CriticalResult.ack_due_at)
        )
    )


def home_panel(session: Session, principal: Principal) -> hooks.HomePanel | None:
    """The facility's unacknowledged critical results, as a banner-like panel on the home page."""
    results = open_for_facility(session, principal)
    if not results:
        return None  # shown only while something waits, like a banner
    rows = tuple(
        hooks.HomeRow(
            text=_("Critical result, category %(n)s", n=r.category),
            url=url_for("reading_pages.critical_result", result_id=r.id),
            time=r.ack_due_at,
            detail=_("acknowledge by the time shown"),
        )
        for r in results
    )
    return hooks.HomePanel(
        title=_("Critical results to acknowledge"),
        rows=rows,
        empty=_("No critical result waits for acknowledgement."),
        more_url=url_for("reading_pages.critical_results"),
    )


def may_acknowledge(principal: Principal, result: CriticalResult) -> bool:
    """Whether the page offers the acknowledgement form to the reader."""
    return result.status is not CriticalStatus.ACKNOWLEDGED and _of_facility(principal, result)


def banner(session: Session, principal: Principal) -> hooks.Banner | None:
    """The ``page_banners`` seam: while a critical result of the reader's facility waits for
    acknowledgement, every page they open says so (SEEDS 004 early warning)."""
    results = open_for_facility(session, principal)
    if not results:
        return None
    first = results[0]  # the one due soonest
    if len(results) == 1:
        text = _(
            "A critical result (category %(n)s) for your facility waits for acknowledgement.",
            n=first.category,
        )
        url = url_for("reading_pages.critical_result", result_id=first.id)
    else:
        text = _(
            "%(count)s critical results for your facility wait for acknowledgement.",
            count=len(results),
        )
        url = url_for("reading_pages.critical_results")
    return hooks.Banner(text=text, url=url, link_text=_("Acknowledge now"))
