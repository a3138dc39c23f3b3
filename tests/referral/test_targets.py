"""Regional waiting-time targets (SQLite and PostgreSQL): set by the region's command staff
through the API or by ``hub referral target set``, per specialty or for the whole region,
listed by the API and ``hub referral target list``; the referral clock measures its breach by
the specialty's target before the region's own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from hub.models import utcnow
from referral.models import Referral
from tests.referral.support import Network


def _set(client: FlaskClient, net: Network, who: str, **body: object) -> tuple[int, Any]:
    resp = client.post(
        "/api/v1/referral-targets", json={"region": net.region.code, **body}, headers=net.h[who]
    )
    return resp.status_code, resp.get_json()


def test_command_sets_the_regions_targets_and_the_clock_uses_them(
    client: FlaskClient, session: Session
) -> None:
    net = Network(session)
    ref = net.refer(client)
    # Twenty days waiting: over the default target of 14.
    row = session.get_one(Referral, ref["id"])
    row.created_at = utcnow() - timedelta(days=20)
    session.commit()
    before = client.get(f"/api/v1/referrals/{ref['id']}", headers=net.h["chw"]).get_json()
    assert before["wait_target_days"] == 14 and before["wait_breached"] is True
    status, body = _set(client, net, "command", days=30)
    assert status == 200, body
    assert body == {
        "region": net.region.code,
        "specialty": None,
        "wait_days": 30,
        "back_referral_days": 7,
    }
    after = client.get(f"/api/v1/referrals/{ref['id']}", headers=net.h["chw"]).get_json()
    assert after["wait_target_days"] == 30 and after["wait_breached"] is False
    # The specialty's own target beats the region's.
    status, body = _set(client, net, "command", specialty="pulmonology", days=10)
    assert status == 200 and body["specialty"] == "pulmonology"
    spec = client.get(f"/api/v1/referrals/{ref['id']}", headers=net.h["chw"]).get_json()
    assert spec["wait_target_days"] == 10 and spec["wait_breached"] is True
    # Setting it again changes the row, it adds none.
    status, _ = _set(client, net, "command", specialty="pulmonology", days=12)
    listed = client.get(
        f"/api/v1/referral-targets?region={net.region.code}", headers=net.h["chw"]
    ).get_json()["items"]
    assert sorted((t["specialty"] or "", t["wait_days"]) for t in listed) == [
        ("", 30),
        ("pulmonology", 12),
    ]


def test_bad_targets_and_who_may_set_them(client: FlaskClient, session: Session) -> None:
    net = Network(session)
    other = Network(session)
    # Another region's command staff, a health worker, a specialist: refused.
    refused = client.post(
        "/api/v1/referral-targets",
        json={"region": net.region.code, "days": 5},
        headers=other.h["command"],
    )
    assert refused.status_code == 403
    for who in ("chw", "specialist"):
        assert _set(client, net, who, days=5)[0] == 403
    assert _set(client, net, "command", days=0)[0] == 422
    assert _set(client, net, "command", days=400)[0] == 422
    assert _set(client, net, "command", days=10, specialty="astrology")[0] == 422
    unknown = client.post(
        "/api/v1/referral-targets", json={"region": "NOWHERE", "days": 5}, headers=net.h["command"]
    )
    assert unknown.status_code == 422
    listed = client.get(
        f"/api/v1/referral-targets?region={net.region.code}", headers=net.h["chw"]
    ).get_json()
    assert listed["items"] == []


def test_the_cli_sets_and_lists_targets(app: Flask, session: Session) -> None:
    net = Network(session)
    runner = app.test_cli_runner()
    code = net.region.code
    done = runner.invoke(
        args=["referral", "target", "set", "--region", code, "--specialty", "pulmonology",
              "--days", "21"]
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert f"{code} pulmonology: first visit within 21 days" in done.output
    listed = runner.invoke(args=["referral", "target", "list", "--region", code])
    assert listed.exit_code == 0 and f"{code}\tpulmonology\t21\t7" in listed.output
    bad = runner.invoke(args=["referral", "target", "set", "--region", "NOWHERE", "--days", "3"])
    assert bad.exit_code != 0 and "Unknown region" in bad.output
    zero = runner.invoke(args=["referral", "target", "set", "--region", code, "--days", "0"])
    assert zero.exit_code != 0
