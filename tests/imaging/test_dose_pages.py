"""The dose pages: a patient's history with its chart, the facility dashboard and the
reference-level table, in English and Persian; refused to those who may not see the patient."""

from __future__ import annotations

import pytest
from flask import Flask
from pydicom.uid import generate_uid

from hub import db
from hub.models import Role
from tests.imaging import dosedata
from tests.imaging.dosedata import CtEvent
from tests.support import factories as f
from tests.support.pages import logged_in
from tests.support.personas import World


@pytest.fixture
def patient_with_dose(app: Flask, world: World) -> int:
    with app.app_context(), db.transaction() as sess:
        patient = f.patient(sess, world.facility_a)
        patient_id, national_id = patient.id, patient.national_id
    for dlp, ctdivol in ((400.0, 20.0), (900.0, 95.0)):
        report = dosedata.ct_rdsr(
            [CtEvent(ctdivol, dlp, protocol="CHEST")],
            study_uid=generate_uid(),
            patient_id=national_id,
        )
        dosedata.store(app, world.facility_a.id, [report])
    return patient_id


def test_patient_history_with_chart(app: Flask, world: World, patient_with_dose: int) -> None:
    client = logged_in(app, Role.GP, world.facility_a.code)
    page = client.get(f"/imaging/dose/patients/{patient_with_dose}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="dose-studies"' in html and html.count("<rect ") == 2
    assert "<bdi>1300</bdi>" in html  # lifetime DLP, mGy·cm
    assert "18.2" in html  # 1300 mGy·cm x 0.014 mSv/mGy·cm (chest), an estimate
    assert "style=" not in html.split("<main", 1)[-1]  # the CSP allows no inline style
    other = logged_in(app, Role.GP, world.facility_b.code)
    assert other.get(f"/imaging/dose/patients/{patient_with_dose}").status_code == 404


def test_dashboard_and_levels_in_persian(app: Flask, world: World, patient_with_dose: int) -> None:
    client = logged_in(app, Role.FACILITY_ADMIN, world.facility_a.code)
    board = client.get("/imaging/dose/", headers={"Accept-Language": "fa"})
    assert board.status_code == 200
    html = board.get_data(as_text=True)
    assert 'id="dose-devices"' in html and 'id="dose-flagged"' in html
    assert "Dose dashboard" not in html  # translated
    levels = client.get("/imaging/dose/reference-levels")
    text = levels.get_data(as_text=True)
    assert levels.status_code == 200 and "Kanal KM" in text and 'id="dose-levels"' in text
