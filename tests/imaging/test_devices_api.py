"""The equipment API: registering devices (facility and national administrators), listing them
by page, dose exemptions, daily operating logs and uptime per device, with the refusals: 404
outside one's facility, 422 for bad fields, 409 for a second device or day of the same key."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.models import AuditEvent, utcnow
from tests.support import factories as f
from tests.support.personas import World


def _device(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "modality": "CT",
        "manufacturer": "TestVendor",
        "model": "Scanner 64",
        "serial_number": f.unique("SN"),
        "station_name": f.unique("ST"),
        "ae_title": f.unique("AE")[:16],
        "national_device_id": f.unique("IR-CT"),
    }
    body.update(changes)
    return body


def _create(client: FlaskClient, world: World, who: str = "admin_a", **changes: Any) -> Any:
    resp = client.post("/api/v1/equipment", json=_device(**changes), headers=world[who].headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def _log(
    client: FlaskClient, world: World, device_id: int, day: date, planned: int, down: int
) -> Any:
    return client.post(
        f"/api/v1/equipment/{device_id}/logs",
        json={
            "date": day.isoformat(),
            "planned_minutes": planned,
            "downtime_minutes": down,
            "note": "routine",
        },
        headers=world["hw_a"].headers,
    )


def _audited(app: Flask, action: str, object_id: int) -> bool:
    with app.app_context(), db.transaction() as sess:
        found = sess.scalar(
            select(AuditEvent.id).where(
                AuditEvent.action == action, AuditEvent.object_id == str(object_id)
            )
        )
    return found is not None


def test_register_list_and_read(app: Flask, client: FlaskClient, world: World) -> None:
    made = _create(client, world)
    assert made["facility_id"] == world.facility_a.id
    assert made["facility_code"] == world.facility_a.code
    assert made["active"] is True and made["exemption"] is None
    assert _audited(app, "imaging:device:created", made["id"])
    listed = client.get("/api/v1/equipment?limit=200", headers=world["hw_a"].headers).get_json()
    assert made["id"] in [d["id"] for d in listed["items"]]
    other = client.get("/api/v1/equipment?limit=200", headers=world["hw_b"].headers).get_json()
    assert made["id"] not in [d["id"] for d in other["items"]]
    # The region's command staff see the facilities of their region; another region's do not.
    assert (
        client.get(
            f"/api/v1/equipment/{made['id']}", headers=world["command_x"].headers
        ).status_code
        == 200
    )
    assert (
        client.get(
            f"/api/v1/equipment/{made['id']}", headers=world["command_y"].headers
        ).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/equipment/{made['id']}", headers=world["hw_b"].headers).status_code
        == 404
    )
    assert client.get("/api/v1/equipment/999999", headers=world["hw_a"].headers).status_code == 404


def test_list_pages_with_a_cursor(client: FlaskClient, world: World) -> None:
    for _ in range(3):
        _create(client, world)
    first = client.get("/api/v1/equipment?limit=2", headers=world["national"].headers).get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(
        f"/api/v1/equipment?limit=2&cursor={first['next_cursor']}",
        headers=world["national"].headers,
    ).get_json()
    assert second["items"] and second["items"][0]["id"] > first["items"][-1]["id"]
    bad = client.get("/api/v1/equipment?cursor=nonsense", headers=world["national"].headers)
    assert bad.status_code == 400


def test_registering_refusals(client: FlaskClient, world: World) -> None:
    post = lambda who, body: client.post(  # noqa: E731
        "/api/v1/equipment", json=body, headers=world[who].headers
    )
    assert post("hw_a", _device()).status_code == 403  # not an administrator
    assert post("admin_a", _device(facility_id=world.facility_b.id)).status_code == 404
    assert post("national", _device()).status_code == 422  # which facility?
    unknown = post("national", _device(facility_id=2_000_000_000))
    assert unknown.status_code == 422 and "facility" in unknown.get_json()["error"]["message"]
    missing = post("admin_a", {"modality": "CT"})
    assert missing.status_code == 422
    fields = {d["field"] for d in missing.get_json()["error"]["details"]}
    assert {"manufacturer", "model", "serial_number"} <= fields
    assert post("admin_a", _device(modality="XX")).status_code == 422
    assert post("admin_a", _device(ae_title="BAD\\TITLE")).status_code == 422
    made = _create(client, world)
    twin = post("admin_a", _device(serial_number=made["serial_number"]))
    assert twin.status_code == 409 and twin.get_json()["error"]["code"] == "serial_number_taken"
    same_id = post("admin_a", _device(national_device_id=made["national_device_id"]))
    assert same_id.status_code == 409
    # The same serial number at another facility is another unit.
    assert (
        post(
            "national",
            _device(facility_id=world.facility_b.id, serial_number=made["serial_number"]),
        ).status_code
        == 201
    )


def test_update_keeps_the_facility(client: FlaskClient, world: World) -> None:
    made = _create(client, world)
    path = f"/api/v1/equipment/{made['id']}"
    body = _device(serial_number=made["serial_number"], model="Scanner 128", active=False)
    changed = client.put(path, json=body, headers=world["admin_a"].headers)
    assert changed.status_code == 200 and changed.get_json()["model"] == "Scanner 128"
    assert changed.get_json()["active"] is False
    moved = client.put(
        path, json={**body, "facility_id": world.facility_b.id}, headers=world["admin_a"].headers
    )
    assert moved.status_code == 422
    assert client.put(path, json=body, headers=world["hw_a"].headers).status_code == 403


def test_exemption_for_ct_and_mg_only(app: Flask, client: FlaskClient, world: World) -> None:
    ct = _create(client, world)
    path = f"/api/v1/equipment/{ct['id']}/exemption"
    why = "Installed before dose structured reports; writes no dose data at all."
    admin = world["admin_a"].headers
    wrong = client.post(path, json={"serial_number": "OTHER", "justification": why}, headers=admin)
    assert wrong.status_code == 422 and "serial" in wrong.get_json()["error"]["message"]
    short = client.post(
        path, json={"serial_number": ct["serial_number"], "justification": "no"}, headers=admin
    )
    assert short.status_code == 422
    body = {"serial_number": ct["serial_number"], "justification": why}
    assert client.post(path, json=body, headers=world["hw_a"].headers).status_code == 403
    made = client.post(path, json=body, headers=admin)
    assert made.status_code == 201 and made.get_json()["justification"] == why
    assert made.get_json()["granted_by_id"] == world["admin_a"].user_id
    assert client.post(path, json=body, headers=admin).status_code == 409
    shown = client.get(f"/api/v1/equipment/{ct['id']}", headers=admin).get_json()
    assert shown["exemption"]["serial_number"] == ct["serial_number"]
    assert _audited(app, "imaging:device:exempted", ct["id"])
    # An exempt device stays CT or mammography.
    as_dx = client.put(
        f"/api/v1/equipment/{ct['id']}",
        json=_device(modality="DX", serial_number=ct["serial_number"]),
        headers=admin,
    )
    assert as_dx.status_code == 422
    assert client.delete(path, headers=admin).status_code == 204
    assert client.delete(path, headers=admin).status_code == 404
    assert _audited(app, "imaging:device:exemption_withdrawn", ct["id"])
    dx = _create(client, world, modality="DX")
    refused = client.post(
        f"/api/v1/equipment/{dx['id']}/exemption",
        json={"serial_number": dx["serial_number"], "justification": why},
        headers=admin,
    )
    assert refused.status_code == 422


def test_logs_good_and_bad(app: Flask, client: FlaskClient, world: World) -> None:
    device = _create(client, world)
    day = utcnow().date() - timedelta(days=2)
    made = _log(client, world, device["id"], day, 480, 30)
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["date"] == day.isoformat()
    assert _audited(app, "imaging:device:logged", device["id"])
    again = _log(client, world, device["id"], day, 480, 0)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "log_exists"
    over = _log(client, world, device["id"], day - timedelta(days=1), 60, 61)
    assert over.status_code == 422 and "Downtime" in over.get_json()["error"]["message"]
    future = _log(client, world, device["id"], utcnow().date() + timedelta(days=5), 60, 0)
    assert future.status_code == 422
    too_long = _log(client, world, device["id"], day - timedelta(days=3), 1441, 0)
    assert too_long.status_code == 422
    negative = _log(client, world, device["id"], day - timedelta(days=3), 60, -1)
    assert negative.status_code == 422
    text = client.post(
        f"/api/v1/equipment/{device['id']}/logs",
        json={"date": day.isoformat(), "planned_minutes": "480", "downtime_minutes": 0},
        headers=world["hw_a"].headers,
    )
    assert text.status_code == 422  # no "480" read as 480
    elsewhere = client.post(
        f"/api/v1/equipment/{device['id']}/logs",
        json={
            "date": (day - timedelta(days=9)).isoformat(),
            "planned_minutes": 60,
            "downtime_minutes": 0,
        },
        headers=world["hw_b"].headers,
    )
    assert elsewhere.status_code == 404
    # Nothing half-written: only the first day is logged.
    uptime = client.get(
        f"/api/v1/qc/uptime?from={(day - timedelta(days=20)).isoformat()}&to={day.isoformat()}",
        headers=world["hw_a"].headers,
    ).get_json()
    mine = next(g for g in uptime["groups"] if g["device_id"] == device["id"])
    assert (mine["days"], mine["planned_minutes"], mine["downtime_minutes"]) == (1, 480, 30)


def test_uptime_equals_a_hand_count(client: FlaskClient, world: World) -> None:
    busy, idle = _create(client, world), _create(client, world)
    other = _create(client, world, "national", facility_id=world.facility_b.id)
    start = date(2026, 3, 1)
    # (day offset, planned, downtime); the last lies outside the period asked for.
    days = [(0, 480, 0), (1, 480, 60), (2, 300, 30), (3, 0, 0), (10, 480, 480)]
    for offset, planned, down in days:
        assert (
            _log(
                client, world, busy["id"], start + timedelta(days=offset), planned, down
            ).status_code
            == 201
        )
    resp = client.get(
        "/api/v1/qc/uptime?from=2026-03-01&to=2026-03-07", headers=world["hw_a"].headers
    )
    assert resp.status_code == 200
    found = {g["device_id"]: g for g in resp.get_json()["groups"]}
    # By hand: 4 days, 480 + 480 + 300 + 0 = 1260 planned, 0 + 60 + 30 = 90 down,
    # (1260 - 90) / 1260 = 92.857 % -> 92.86 %, below 95 %.
    got = found[busy["id"]]
    assert (got["days"], got["planned_minutes"], got["downtime_minutes"]) == (4, 1260, 90)
    assert got["rate"] == 92.86 and got["flagged"] is True
    assert got["key"] == busy["national_device_id"]
    # No log: no data, never 0 %.
    assert found[idle["id"]]["rate"] is None and found[idle["id"]]["days"] == 0
    assert found[idle["id"]]["flagged"] is False
    assert other["id"] not in found  # another facility's device
    national = client.get(
        f"/api/v1/qc/uptime?from=2026-03-01&to=2026-03-31&facility_id={world.facility_a.id}",
        headers=world["national"].headers,
    ).get_json()
    month = next(g for g in national["groups"] if g["device_id"] == busy["id"])
    # With the tenth day: 1740 planned, 570 down -> 67.24 %.
    assert (month["planned_minutes"], month["downtime_minutes"], month["rate"]) == (
        1740,
        570,
        67.24,
    )
    assert all(g["facility_code"] == world.facility_a.code for g in national["groups"])


def test_uptime_period_refusals(client: FlaskClient, world: World) -> None:
    get = lambda q: client.get(f"/api/v1/qc/uptime?{q}", headers=world["hw_a"].headers)  # noqa: E731
    assert get("from=2026-03-07&to=2026-03-01").status_code == 422
    assert get("from=2024-01-01&to=2026-03-01").status_code == 422  # over 366 days
    assert get("from=yesterday").status_code == 422
    assert get("colour=blue").status_code == 422
    default = get("").get_json()
    assert date.fromisoformat(default["period_end"]) - date.fromisoformat(
        default["period_start"]
    ) == timedelta(days=29)
    assert client.get("/api/v1/qc/uptime", headers=world["insurer_a"].headers).status_code == 403
