"""A facility's own exam-type mapping: which study and protocol descriptions are which exam
type. Its rules are tried before the built-in ones (:mod:`imaging.dose.reference`), oldest
first. Exams are classified each time they are read, so a new rule applies to the facility's
earlier exams as well as to the next.

Its administrators keep a facility's rules (national administrators every facility's);
whoever sees the facility's devices sees them. Every change is audited.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict, NotFound, ValidationFailed
from hub.models import Facility, Role
from hub.permissions import require
from imaging.devices import services as devices
from imaging.dose.models import ExamTypeRule
from imaging.dose.schemas import ExamTypeRuleIn

KEEPERS = frozenset({Role.FACILITY_ADMIN, Role.NATIONAL_ADMIN})


def _seen(session: Session, principal: Principal, facility_id: int) -> bool:
    return (
        session.scalar(
            select(Facility.id).where(
                Facility.id == facility_id, devices.facility_visibility(principal)
            )
        )
        is not None
    )


def _kept(principal: Principal, facility_id: int) -> bool:
    return principal.has_role(Role.NATIONAL_ADMIN) or (
        principal.has_role(Role.FACILITY_ADMIN) and principal.facility_id == facility_id
    )


def may_edit(principal: Principal, facility_id: int) -> bool:
    return _kept(principal, facility_id)


def list_rules(
    session: Session,
    principal: Principal,
    facility_id: int | None,
    *,
    after_id: int = 0,
    limit: int = 200,
) -> list[ExamTypeRule]:
    """A facility's rules in the order they are tried (the caller's facility by default)."""
    action = "imaging:dose:mapping_viewed"
    require(principal, "imaging:read", action=action)
    facility_id = facility_id or principal.facility_id
    if facility_id is None:
        return []
    if not _seen(session, principal, facility_id):
        raise AccessDenied(action=action, object_type="facility", object_id=facility_id, hide=True)
    return list(
        session.scalars(
            select(ExamTypeRule)
            .where(ExamTypeRule.facility_id == facility_id, ExamTypeRule.id > after_id)
            .order_by(ExamTypeRule.id)
            .limit(limit)
        )
    )


def add_rule(session: Session, principal: Principal, body: ExamTypeRuleIn) -> ExamTypeRule:
    """Add a rule at the end of the facility's list; one rule per pattern."""
    action = "imaging:dose:mapping_added"
    require(principal, "admin", roles=KEEPERS, action=action)
    facility_id = body.facility_id or principal.facility_id
    if facility_id is None:
        raise ValidationFailed("Name the facility of the rule.", details={"facility_id": "missing"})
    if not _kept(principal, facility_id):
        raise AccessDenied(action=action, object_type="facility", object_id=facility_id, hide=True)
    if session.get(Facility, facility_id) is None:
        raise ValidationFailed("Unknown facility.", details={"facility_id": facility_id})
    pattern = " ".join(body.pattern.split())
    taken = session.scalar(
        select(ExamTypeRule).where(
            ExamTypeRule.facility_id == facility_id, ExamTypeRule.pattern == pattern
        )
    )
    if taken is not None:
        raise Conflict(
            "The facility has a rule for this text already; delete it to change it.",
            code="rule_exists",
            details={"rule_id": taken.id, "exam_type": taken.exam_type},
        )
    row = ExamTypeRule(
        facility_id=facility_id,
        pattern=pattern,
        exam_type=body.exam_type,
        created_by_id=principal.user_id,
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("The same rule was added at the same moment.", code="rule_exists") from None
    audit.record(
        session,
        principal,
        action,
        object_type="dose_exam_type_rule",
        object_id=row.id,
        details={"facility_id": facility_id, "pattern": pattern, "exam_type": body.exam_type},
    )
    return row


def delete_rule(session: Session, principal: Principal, rule_id: int) -> ExamTypeRule:
    """Remove a rule; the exams it classified go back to the other rules."""
    action = "imaging:dose:mapping_deleted"
    require(principal, "admin", roles=KEEPERS, action=action)
    row = session.get(ExamTypeRule, rule_id)
    if row is None:
        raise NotFound("Not found.")
    if not _kept(principal, row.facility_id):
        raise AccessDenied(
            action=action, object_type="dose_exam_type_rule", object_id=rule_id, hide=True
        )
    details = {"facility_id": row.facility_id, "pattern": row.pattern, "exam_type": row.exam_type}
    session.delete(row)
    session.flush()
    audit.record(
        session,
        principal,
        action,
        object_type="dose_exam_type_rule",
        object_id=rule_id,
        details=details,
    )
    return row
