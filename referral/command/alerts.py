"""Command alerts: an SLA breach or escalation that reached "the region's command staff are
alerted" (consult's SLA sweep, imaging's critical-result escalation, through the
``command_alerted`` seam) is kept as a row that stays open until one officer takes it; who took
it and when is recorded and audited, and the region's dashboards hear of both at once."""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, select, true, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, joinedload

from hub import audit, hooks
from hub.auth.principal import Principal
from hub.errors import AccessDenied, Conflict
from hub.models import Role, utcnow
from hub.permissions import require
from hub.realtime import command_room, emit_after_commit
from referral.command.monitoring_models import CommandAlert

log = logging.getLogger(__name__)
OFFICERS = frozenset({Role.COMMAND, Role.NATIONAL_ADMIN})
STATES = ("open", "taken")
# Where the dashboard links each kind of subject.
SUBJECT_URLS = {
    "consult": "/consults/{id}",
    "critical_result": "/reading/critical-results/{id}",
}


def subject_url(alert: CommandAlert) -> str | None:
    pattern = SUBJECT_URLS.get(alert.subject_type)
    return pattern.format(id=alert.subject_id) if pattern else None


def _announce(session: Session, alert: CommandAlert, event: str) -> None:
    payload = {"alert_id": alert.id, "kind": alert.kind, "taken": alert.taken_at is not None}
    emit_after_commit(session, event, payload, [command_room(alert.region_id)])


def on_command_alerted(session: Session, facts: hooks.CommandAlert) -> None:
    """Keep the alert (the seam's listener, in the owner's transaction). The same subject
    alerted again for the same reason reopens its row rather than adding a second one. Never
    raises: losing an alert row must not undo the escalation that caused it."""
    try:
        with session.begin_nested():
            row = session.scalar(
                select(CommandAlert).where(
                    CommandAlert.kind == facts.kind,
                    CommandAlert.subject_type == facts.subject_type,
                    CommandAlert.subject_id == facts.subject_id,
                )
            )
            if row is None:
                row = CommandAlert(
                    region_id=facts.region_id,
                    kind=facts.kind,
                    subject_type=facts.subject_type,
                    subject_id=facts.subject_id,
                )
                session.add(row)
            row.region_id = facts.region_id
            row.detail = facts.detail
            row.raised_at = facts.raised_at
            row.taken_by_id = None
            row.taken_at = None
            session.flush()
    except SQLAlchemyError:
        log.exception("could not keep a command alert (%s)", facts.kind)
        return
    _announce(session, row, "command.alert")


def _visible(principal: Principal) -> ColumnElement[bool]:
    if principal.has_role(Role.NATIONAL_ADMIN):
        return true()
    return CommandAlert.region_id == principal.region_id


def _hidden(action: str, alert_id: int) -> AccessDenied:
    """Another region's alert (or none at all): answered as not found, and audited."""
    return AccessDenied(
        "Alert not found.",
        action=action,
        object_type="command_alert",
        object_id=alert_id,
        hide=True,
    )


def _require_officer(principal: Principal, action: str) -> None:
    require(principal, "consults:dispatch", roles=OFFICERS, action=action)


def list_alerts(
    session: Session,
    principal: Principal,
    *,
    state: str = "open",
    after_id: int | None = None,
    limit: int = 50,
) -> list[CommandAlert]:
    """The region's alerts (every region for a national administrator), newest first."""
    action = "command:alert:listed"
    _require_officer(principal, action)
    stmt = (
        select(CommandAlert)
        .options(joinedload(CommandAlert.taken_by))
        .where(_visible(principal))
        .where(
            CommandAlert.taken_at.is_(None)
            if state == "open"
            else CommandAlert.taken_at.is_not(None)
        )
        .order_by(CommandAlert.id.desc())
        .limit(limit)
    )
    if after_id is not None:
        stmt = stmt.where(CommandAlert.id < after_id)
    found = list(session.scalars(stmt))
    audit.record(
        session,
        principal,
        action,
        object_type="command_alert",
        details={"state": state, "ids": [a.id for a in found]},
    )
    return found


def get(session: Session, principal: Principal, alert_id: int) -> CommandAlert:
    """One alert of the caller's region (another region's is not found)."""
    _require_officer(principal, "command:alert:viewed")
    alert = session.scalar(
        select(CommandAlert)
        .options(joinedload(CommandAlert.taken_by))
        .where(CommandAlert.id == alert_id, _visible(principal))
    )
    if alert is None:
        raise _hidden("command:alert:viewed", alert_id)
    return alert


def take(session: Session, principal: Principal, alert_id: int) -> CommandAlert:
    """The caller takes the alert: recorded once (who, when), audited, announced; taking an
    alert someone already took is a conflict naming them."""
    action = "command:alert:taken"
    _require_officer(principal, action)
    if principal.user_id is None:
        raise AccessDenied("Alerts are taken by a person.", action=action)
    alert = session.scalar(
        select(CommandAlert).where(CommandAlert.id == alert_id, _visible(principal))
    )
    if alert is None:
        raise _hidden(action, alert_id)
    now = utcnow()
    # Guarded: of two officers pressing "Take" at once, exactly one wins.
    won = session.execute(
        update(CommandAlert)
        .where(CommandAlert.id == alert.id, CommandAlert.taken_at.is_(None))
        .values(taken_by_id=principal.user_id, taken_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(alert)
    if cast(CursorResult[Any], won).rowcount != 1:
        who = alert.taken_by.full_name if alert.taken_by is not None else "someone"
        raise Conflict(
            f"{who} already took this alert.",
            code="already_taken",
            details={
                "taken_by": who,
                "taken_by_id": alert.taken_by_id,
                "taken_at": alert.taken_at.isoformat() if alert.taken_at else None,
            },
        )
    audit.record(
        session,
        principal,
        action,
        object_type="command_alert",
        object_id=alert.id,
        details={"kind": alert.kind, "subject": f"{alert.subject_type}:{alert.subject_id}"},
    )
    _announce(session, alert, "command.alert_taken")
    return alert
