"""The device registry pages: registering, exempting and logging through the forms, with the
refusals shown on the page in the reader's language (never a 500), and another facility's
device not found."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from hub.models import Role
from tests.support import factories as f
from tests.support.pages import logged_in
from tests.support.personas import World

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(client: FlaskClient, path: str) -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match
    return match.group(1)


def test_register_exempt_and_log_through_the_pages(app: Flask, world: World) -> None:
    admin = logged_in(app, Role.FACILITY_ADMIN, world.facility_a.code)
    other = logged_in(app, Role.GP, world.facility_b.code)
    token = _csrf(admin, "/imaging/devices/")
    serial = f.unique("PG")
    missing = admin.post("/imaging/devices/", data={"csrf_token": token, "modality": "CT"})
    assert missing.status_code == 422 and 'id="device-error"' in missing.get_data(as_text=True)
    form = {
        "csrf_token": token,
        "modality": "MG",
        "manufacturer": "PageVendor",
        "model": "Mammo",
        "serial_number": serial,
        "active": "1",
    }
    made = admin.post("/imaging/devices/", data=form)
    assert made.status_code == 302
    path = made.headers["Location"]
    twin = admin.post("/imaging/devices/", data=form, headers={"Accept-Language": "fa"})
    assert twin.status_code == 409
    page = admin.get(path)
    assert page.status_code == 200 and 'id="exemption-form"' in page.get_data(as_text=True)
    wrong = admin.post(
        f"{path}/exemption",
        data={"csrf_token": token, "serial_number": "NOT-IT", "justification": "No dose output."},
    )
    assert wrong.status_code == 422 and 'id="exemption-error"' in wrong.get_data(as_text=True)
    granted = admin.post(
        f"{path}/exemption",
        data={"csrf_token": token, "serial_number": serial, "justification": "No dose output."},
    )
    assert granted.status_code == 302
    assert "No dose output." in admin.get(path).get_data(as_text=True)
    over = admin.post(
        f"{path}/logs",
        data={
            "csrf_token": token,
            "date": "2026-02-02",
            "planned_minutes": "60",
            "downtime_minutes": "90",
        },
    )
    assert over.status_code == 422 and 'id="log-error"' in over.get_data(as_text=True)
    logged = admin.post(
        f"{path}/logs",
        data={
            "csrf_token": token,
            "date": "2026-02-02",
            "planned_minutes": "60",
            "downtime_minutes": "6",
        },
    )
    assert logged.status_code == 302
    assert 'datetime="2026-02-02"' in admin.get(path).get_data(as_text=True)
    assert other.get(path).status_code == 404
    listed = other.get("/imaging/devices/").get_data(as_text=True)
    assert serial not in listed and 'id="device-add"' not in listed  # a GP registers nothing


def test_uptime_page(app: Flask, world: World) -> None:
    reader = logged_in(app, Role.GP, world.facility_a.code)
    shown = reader.get("/imaging/devices/uptime?from=2026-02-01&to=2026-02-28")
    assert shown.status_code == 200 and 'id="uptime-period"' in shown.get_data(as_text=True)
    backwards = reader.get("/imaging/devices/uptime?from=2026-03-01&to=2026-02-01")
    assert backwards.status_code == 422 and 'id="uptime-error"' in backwards.get_data(as_text=True)
    nonsense = reader.get("/imaging/devices/uptime?from=soon")
    assert nonsense.status_code == 422
