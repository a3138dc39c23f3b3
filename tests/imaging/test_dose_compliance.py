"""The dose compliance report (studies late for the national node, CT/MG devices sending no
dose data and not exempt), matching studies to registered devices, the facility's editable
exam-type mapping (its rules before the built-in ones), and the dose section of the study
page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydicom.uid import generate_uid
from sqlalchemy import select, update

from hub import db
from hub.auth.principal import user_principal
from hub.models import Role, User, utcnow
from imaging.dose import compliance
from imaging.dose.models import NodeSend, NodeState
from imaging.models import Study
from tests.imaging import dosedata
from tests.imaging.dosedata import CtEvent
from tests.imaging.support import ingest
from tests.support import factories as f
from tests.support.pages import logged_in
from tests.support.personas import World


def _device(client: FlaskClient, world: World, **changes: Any) -> Any:
    body: dict[str, Any] = {
        "modality": "CT",
        "manufacturer": "TestVendor",
        "model": "Scanner",
        "serial_number": f.unique("SN"),
        "ae_title": f.unique("C")[:16],
    }
    body.update(changes)
    resp = client.post("/api/v1/equipment", json=body, headers=world["admin_a"].headers)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def _rdsr_study(
    app: Flask, world: World, *, ae: str, serial: str | None = None, protocol: str = "CHEST"
) -> str:
    report = dosedata.ct_rdsr([CtEvent(10.0, 400.0, protocol=protocol)], study_uid=generate_uid())
    if serial is not None:
        report.DeviceSerialNumber = serial
    dosedata.store(app, world.facility_a.id, [report], calling_ae=ae)
    return str(report.StudyInstanceUID)


def _age(app: Flask, study_uid: str, hours: float) -> None:
    """Make the study arrive ``hours`` ago."""
    with app.app_context(), db.transaction() as sess:
        sess.execute(
            update(Study)
            .where(Study.study_instance_uid == study_uid)
            .values(received_at=utcnow() - timedelta(hours=hours))
        )


def _report(app: Flask, world: World, **kwargs: Any) -> compliance.Compliance:
    with app.app_context(), db.transaction() as sess:
        admin = sess.get(User, world["admin_a"].user_id)
        assert admin is not None
        return compliance.report(
            sess,
            user_principal(admin, "session"),
            app.config["HUB_SETTINGS"].imaging,
            world.facility_a.code,
            **kwargs,
        )


def test_late_studies_against_the_deadline(app: Flask, client: FlaskClient, world: World) -> None:
    device = _device(client, world)
    fresh = _rdsr_study(app, world, ae=device["ae_title"])
    old = _rdsr_study(app, world, ae="UNKNOWNAE")
    in_time = _rdsr_study(app, world, ae=device["ae_title"])
    accepted_late = _rdsr_study(app, world, ae=device["ae_title"])
    images_only = ingest(app, world.facility_a, "P-LATE", images=1, calling_ae=device["ae_title"])
    for uid in (old, in_time, accepted_late, images_only.study_uid):
        _age(app, uid, 30)  # past the default 24-hour deadline
    with app.app_context(), db.transaction() as sess:
        for uid, hours_after in ((in_time, 2), (accepted_late, 28)):
            study = sess.scalar(select(Study).where(Study.study_instance_uid == uid))
            assert study is not None
            sess.add(
                NodeSend(
                    study_id=study.id,
                    state=NodeState.ACCEPTED,
                    kos_sop_instance_uid=generate_uid(),
                    kos_series_instance_uid=generate_uid(),
                    delivered=[],
                    accepted_at=study.received_at + timedelta(hours=hours_after),
                )
            )
    found = _report(app, world)
    late = {s.study_instance_uid: s for s in found.late}
    assert fresh not in late and in_time not in late  # within the deadline / accepted in time
    assert late[accepted_late].state == "accepted"
    assert late[images_only.study_uid].state == "no_dose"
    assert late[images_only.study_uid].device is not None  # matched by its AE title
    assert late[old].device is None and late[old].modalities == ("CT",)
    assert late[old].state in ("not_configured", "local")
    assert late[old].due_at == late[old].received_at + timedelta(hours=24)
    # A report read later: the fresh study is late too.
    later = _report(app, world, now=utcnow() + timedelta(hours=25))
    assert fresh in {s.study_instance_uid for s in later.late}


def test_silent_devices_and_exemptions(app: Flask, client: FlaskClient, world: World) -> None:
    silent = _device(client, world)
    sending = _device(client, world)
    exempt = _device(client, world, modality="MG")
    dx = _device(client, world, modality="DX")
    ingest(app, world.facility_a, "P-SIL", images=1, calling_ae=silent["ae_title"])
    ingest(app, world.facility_a, "P-SIL", images=1, calling_ae=sending["ae_title"])
    # The sending unit's dose report names its serial number (sent through a PACS proxy).
    _rdsr_study(app, world, ae="PROXYAE", serial=sending["serial_number"])
    resp = client.post(
        f"/api/v1/equipment/{exempt['id']}/exemption",
        json={"serial_number": exempt["serial_number"], "justification": "Analogue unit, no RDSR."},
        headers=world["admin_a"].headers,
    )
    assert resp.status_code == 201
    found = _report(app, world)
    ids = {d.device.id for d in found.silent}
    assert silent["id"] in ids
    assert sending["id"] not in ids and exempt["id"] not in ids and dx["id"] not in ids
    row = next(d for d in found.silent if d.device.id == silent["id"])
    assert row.studies == 1
    # Once exempt, the same unit is no longer listed.
    exempted = client.post(
        f"/api/v1/equipment/{silent['id']}/exemption",
        json={
            "serial_number": silent["serial_number"],
            "justification": "Cannot produce dose data.",
        },
        headers=world["admin_a"].headers,
    )
    assert exempted.status_code == 201
    assert silent["id"] not in {d.device.id for d in _report(app, world).silent}


def test_the_compliance_api_answers_what_the_report_finds(
    app: Flask, client: FlaskClient, world: World
) -> None:
    silent = _device(client, world)
    ingest(app, world.facility_a, "P-API", images=1, calling_ae=silent["ae_title"])
    late = _rdsr_study(app, world, ae="APIAE")
    _age(app, late, 30)
    admin = world["admin_a"].headers
    url = f"/api/v1/dose/compliance?facility={world.facility_a.code}"
    resp = client.get(url, headers=admin)
    assert resp.status_code == 200, resp.get_json()
    answer = resp.get_json()
    found = _report(app, world)
    assert answer["facility"] == world.facility_a.code and answer["deadline_hours"] == 24
    assert answer["studies"] == found.studies
    assert [s["study_instance_uid"] for s in answer["late"]] == [
        s.study_instance_uid for s in found.late
    ]
    assert late in {s["study_instance_uid"] for s in answer["late"]}
    assert silent["id"] in {d["device_id"] for d in answer["silent_devices"]}
    # Bad input: a day that is not a day, a facility one does not see.
    for bad in ("&from=2026-02-30", "&to=0", "&from=2026-12-01&to=2025-01-01"):
        assert client.get(url + bad, headers=admin).status_code in (400, 422), bad
    assert (
        client.get(
            f"/api/v1/dose/compliance?facility={world.facility_b.code}", headers=admin
        ).status_code
        == 404
    )
    # Without a facility: one's own.
    own = client.get("/api/v1/dose/compliance", headers=world["hw_b"].headers).get_json()
    assert own["facility"] == world.facility_b.code


def test_compliance_page(app: Flask, world: World) -> None:
    # Page clients only: a test client kept open in a ``with`` block shares its context.
    page = logged_in(app, Role.FACILITY_ADMIN, world.facility_a.code)
    reader = logged_in(app, Role.FACILITY_ADMIN, world.facility_a.code)
    device = _device(app.test_client(), world)
    study = ingest(app, world.facility_a, "P-PAGE", images=1, calling_ae=device["ae_title"])
    _age(app, study.study_uid, 48)
    resp = page.get("/imaging/dose/compliance")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f'data-study="{study.study_uid}"' in html and f'data-device="{device["id"]}"' in html
    persian = reader.get("/imaging/dose/compliance", headers={"Accept-Language": "fa"})
    assert "Dose compliance" not in persian.get_data(as_text=True)
    bad = page.get("/imaging/dose/compliance?from=2026-05-01&to=2026-04-01")
    assert bad.status_code == 422 and 'id="compliance-error"' in bad.get_data(as_text=True)
    board = page.get("/imaging/dose/").get_data(as_text=True)
    for link in (
        "/imaging/dose/compliance",
        "/imaging/devices/",
        "/imaging/devices/uptime",
        "/imaging/dose/exam-types",
    ):
        assert f'href="{link}"' in board


def _exam_type(client: FlaskClient, world: World, uid: str, who: str = "gp_a") -> Any:
    resp = client.get(f"/api/v1/studies/{uid}/dose", headers=world[who].headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["exam_type"]


def test_mapping_precedence(app: Flask, client: FlaskClient, world: World) -> None:
    word = f.unique("Thorax")
    uid = _rdsr_study(app, world, ae="MAPAE", protocol=f"{word} routine CHEST")
    assert _exam_type(client, world, uid) == "ct_chest"  # built in
    other = dosedata.ct_rdsr(
        [CtEvent(10.0, 400.0, protocol=f"{word} CHEST")], study_uid=generate_uid()
    )
    dosedata.store(app, world.facility_b.id, [other])
    admin = world["admin_a"].headers
    rules = "/api/v1/dose/exam-type-rules"
    # A rule to another modality's exam type never applies to a CT.
    mg = client.post(rules, json={"pattern": word, "exam_type": "mammography_view"}, headers=admin)
    assert mg.status_code == 201
    assert _exam_type(client, world, uid) == "ct_chest"
    client.delete(f"{rules}/{mg.get_json()['id']}", headers=admin)
    made = client.post(
        rules, json={"pattern": word.upper(), "exam_type": "ct_abdomen_pelvis"}, headers=admin
    )
    assert made.status_code == 201
    # The facility's rule wins over the built-in one, for the exam already stored.
    assert _exam_type(client, world, uid) == "ct_abdomen_pelvis"
    # Not for another facility's exam.
    assert _exam_type(client, world, str(other.StudyInstanceUID), "hw_b") == "ct_chest"
    listed = client.get(rules, headers=world["hw_a"].headers).get_json()
    assert made.get_json()["id"] in [r["id"] for r in listed["items"]]
    assert client.delete(f"{rules}/{made.get_json()['id']}", headers=admin).status_code == 204
    assert _exam_type(client, world, uid) == "ct_chest"
    excluded = client.post(
        rules, json={"pattern": word, "exam_type": "unclassified"}, headers=admin
    )
    assert excluded.status_code == 201
    assert _exam_type(client, world, uid) is None
    client.delete(f"{rules}/{excluded.get_json()['id']}", headers=admin)


def test_mapping_refusals(client: FlaskClient, world: World) -> None:
    rules = "/api/v1/dose/exam-type-rules"
    admin = world["admin_a"].headers
    word = f.unique("Kopf")
    body = {"pattern": word, "exam_type": "ct_head"}
    assert client.post(rules, json=body, headers=world["hw_a"].headers).status_code == 403
    assert (
        client.post(rules, json={**body, "exam_type": "ct_knee"}, headers=admin).status_code == 422
    )
    assert client.post(rules, json={**body, "pattern": "x"}, headers=admin).status_code == 422
    elsewhere = {**body, "facility_id": world.facility_b.id}
    assert client.post(rules, json=elsewhere, headers=admin).status_code == 404
    made = client.post(rules, json=body, headers=admin)
    assert made.status_code == 201
    twin = client.post(rules, json=body, headers=admin)
    assert twin.status_code == 409 and twin.get_json()["error"]["code"] == "rule_exists"
    theirs = client.post(rules, json=elsewhere, headers=world["national"].headers)
    assert theirs.status_code == 201
    assert client.delete(f"{rules}/{theirs.get_json()['id']}", headers=admin).status_code == 404
    assert (
        client.get(
            f"{rules}?facility_id={world.facility_b.id}", headers=world["hw_a"].headers
        ).status_code
        == 404
    )
    assert client.delete(f"{rules}/999999", headers=admin).status_code == 404


def test_mapping_page(app: Flask, world: World) -> None:
    page = logged_in(app, Role.FACILITY_ADMIN, world.facility_a.code)
    assert page.get("/imaging/dose/exam-types").status_code == 200
    token = page.get("/imaging/dose/exam-types").get_data(as_text=True)
    csrf = token.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    word = f.unique("Schaedel")
    form = {
        "csrf_token": csrf,
        "pattern": word,
        "exam_type": "ct_head",
        "facility_id": str(world.facility_a.id),
    }
    assert page.post("/imaging/dose/exam-types", data=form).status_code == 302
    shown = page.get("/imaging/dose/exam-types").get_data(as_text=True)
    assert f"<bdi>{word}</bdi>" in shown
    twin = page.post("/imaging/dose/exam-types", data=form)
    assert twin.status_code == 409 and 'id="rule-error"' in twin.get_data(as_text=True)
    reader = logged_in(app, Role.GP, world.facility_a.code)
    html = reader.get("/imaging/dose/exam-types").get_data(as_text=True)
    assert f"<bdi>{word}</bdi>" in html and 'id="rule-add"' not in html


@pytest.mark.parametrize("language", ["en", "fa"])
def test_study_page_dose_section(app: Flask, world: World, language: str) -> None:
    report = dosedata.ct_rdsr(
        [CtEvent(95.0, 1200.0, protocol="CHEST"), CtEvent(8.0, 300.0, protocol="CHEST")],
        study_uid=generate_uid(),
    )
    dosedata.store(app, world.facility_a.id, [report])
    page = logged_in(app, Role.GP, world.facility_a.code)
    resp = page.get(
        f"/imaging/studies/{report.StudyInstanceUID}", headers={"Accept-Language": language}
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    section = html.split('id="dose"', 1)[1].split("</section>", 1)[0]
    assert "<bdi>1500</bdi>" in section  # DLP total, mGy·cm
    assert 'id="dose-flags"' in section and "<bdi>95</bdi>" in section  # CTDIvol above 80
    assert 'id="dose-node"' in section
    if language == "fa":
        assert "Radiation dose" not in section and "CTDIvol alert" not in section
    else:
        assert "CTDIvol alert" in section
    # A study without dose documents and of no dose modality has no dose section.
    plain = ingest(app, world.facility_a, "P-NODOSE", images=0, reports=1)
    other = page.get(f"/imaging/studies/{plain.study_uid}").get_data(as_text=True)
    assert 'id="dose"' not in other
