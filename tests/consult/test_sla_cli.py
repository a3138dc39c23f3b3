"""``hub sla``: per-region SLA targets used by routing and escalation."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy.orm import Session

from consult.assignment import sla_targets
from consult.models import Urgency
from tests.support import factories as f


def test_region_override_then_national_default(app: Flask, session: Session) -> None:
    region = f.region(session)
    session.commit()
    code = region.code
    runner = app.test_cli_runner()
    done = runner.invoke(
        args=[
            "sla",
            "set",
            "--region",
            code,
            "--urgency",
            "urgent",
            "--accept-minutes",
            "20",
            "--answer-minutes",
            "300",
        ]
    )
    assert done.exit_code == 0, done.output
    assert sla_targets(session, region.id, Urgency.URGENT) == (
        timedelta(minutes=20),
        timedelta(minutes=300),
    )
    # Other urgencies and other regions keep the defaults of the issue.
    assert sla_targets(session, region.id, Urgency.EMERGENCY) == (
        timedelta(minutes=10),
        timedelta(minutes=60),
    )
    session.rollback()  # SQLite: release the read transaction before the next command writes
    shown = runner.invoke(args=["sla", "show", "--region", code])
    assert "urgent     accept    20 min  answer   300 min" in shown.output


def test_bad_values_are_refused(app: Flask) -> None:
    runner = app.test_cli_runner()
    unknown = runner.invoke(
        args=[
            "sla",
            "set",
            "--region",
            "NOPE",
            "--urgency",
            "urgent",
            "--accept-minutes",
            "20",
            "--answer-minutes",
            "300",
        ]
    )
    assert unknown.exit_code != 0 and "unknown region" in unknown.output
    inverted = runner.invoke(
        args=[
            "sla",
            "set",
            "--urgency",
            "urgent",
            "--accept-minutes",
            "300",
            "--answer-minutes",
            "20",
        ]
    )
    assert inverted.exit_code != 0 and "cannot be shorter" in inverted.output
