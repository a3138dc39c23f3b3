"""Permission matrix of the progress reports and command alerts (the rows for their routes;
see tests/hub): command staff and national administrators only, another region's report or
alert answered as not found."""

from __future__ import annotations

import itertools

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub import hooks
from hub.models import utcnow
from referral.command.monitoring_models import CommandAlert
from tests.support.matrix import Rule, run_matrix
from tests.support.personas import World

OFFICERS = frozenset({"command_x", "command_y", "national"})
REGION_X = frozenset({"command_x", "national"})
_subjects = itertools.count(2_000_000_000)


def rules(alert_id: int) -> list[Rule]:
    return [
        Rule(
            "GET",
            "/api/v1/progress-reports",
            lambda w: f"/api/v1/progress-reports?region={w.region_x.code}",
            REGION_X,
        ),
        Rule("GET", "/api/v1/command/alerts", lambda w: "/api/v1/command/alerts", OFFICERS),
        # The first allowed persona takes it; the second finds it taken (409, not a refusal).
        Rule(
            "POST",
            "/api/v1/command/alerts/{alert_id}/take",
            lambda w: f"/api/v1/command/alerts/{alert_id}/take",
            REGION_X,
        ),
    ]


def test_monitoring_refusals_hold_and_are_audited(
    app: Flask, client: FlaskClient, session: Session, world: World
) -> None:
    subject = next(_subjects)
    hooks.command_alerted.run(
        session,
        hooks.CommandAlert(
            region_id=world.region_x.id,
            kind="consult_unassigned",
            subject_type="consult",
            subject_id=subject,
            raised_at=utcnow(),
            detail="urgent",
        ),
    )
    session.commit()
    alert = session.query(CommandAlert).filter_by(subject_id=subject).one()
    alert_id = alert.id
    session.rollback()
    assert run_matrix(app, client, world, rules(alert_id)) == []
