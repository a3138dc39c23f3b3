"""The dose SR parser against the public vendor corpus (values read off the files with dcmtk's
dsrdump) and against synthetic reports of every template shape and unit spelling."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from pydicom.sr.coding import Code

from imaging.dose.parse import NotADoseReport, read, read_file
from imaging.dose.units import Quantity, convert
from tests.imaging import dosedata
from tests.imaging.dosedata import CtEvent

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "rdsr"


def corpus(name: str) -> Path:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"the public dose SR corpus is not here ({CORPUS.name}/{name} missing)")
    return path


def test_siemens_ct_rdsr():
    report = read_file(corpus("CT-RDSR-Siemens_Flash-TAP-SS.dcm"))
    assert (report.template, report.modality) == ("10011", "CT")
    assert report.ct_dlp_mgycm == pytest.approx(724.52)  # written as "mGycm"
    assert report.events_declared == 4 and len(report.events) == 4
    assert [e.ctdivol_mgy for e in report.events] == pytest.approx([0.14, 1.2, 3.61, 9.91])
    assert [e.dlp_mgycm for e in report.events] == pytest.approx([11.51, 1.2, 3.61, 708.2])
    assert {e.phantom for e in report.events} == {"body"}
    assert report.events[3].exposure_time_s == pytest.approx(16.01)
    assert report.events[3].protocol == "TAP"
    assert report.events[0].uid == "1.3.6.1.4.1.5962.99.1.2662687737.2058515598.1471541535737.4.0"
    assert report.totals() == {
        "ct_dlp_mgycm": pytest.approx(724.52),
        "dap_gym2": None,
        "agd_mgy": None,
        "dose_rp_gy": None,
    }
    assert report.manufacturer == "SIEMENS"


def test_ge_pixelmed_ct_rdsr_with_an_incomplete_item():
    # Item 1.11.1 lacks its concept code (dsrdump refuses it): the rest is read.
    report = read_file(corpus("CT-RDSR-GEPixelMed.dcm"))
    assert report.modality == "CT"
    assert report.ct_dlp_mgycm == pytest.approx(586.34)
    assert len(report.events) == 2 == report.events_declared
    assert [e.ctdivol_mgy for e in report.events] == pytest.approx([60.41, 222.59])
    assert [e.dlp_mgycm for e in report.events] == pytest.approx([475.04, 111.30])
    assert [e.phantom for e in report.events] == ["head", "head"]


def test_ge_enhanced_sr_dose_report():
    report = read_file(corpus("CT-ESR-GE_VCT.dcm"))
    assert report.template == "10011" and report.modality == "CT"
    assert report.ct_dlp_mgycm == pytest.approx(2002.39)
    assert len(report.events) == 27 == report.events_declared
    dosed = [e for e in report.events if e.ctdivol_mgy is not None]
    # Scouts (constant angle) carry no CT Dose container; the dosed events add up to the total.
    assert sum(e.dlp_mgycm or 0 for e in dosed) == pytest.approx(2002.39, abs=0.1)
    assert dosed[0].ctdivol_mgy == pytest.approx(32.83) and dosed[0].dlp_mgycm == pytest.approx(
        16.41
    )


def test_canon_dx_rdsr():
    report = read_file(corpus("DX-RDSR-Canon_CXDI.dcm"))
    assert (report.template, report.modality) == ("10001", "DX")
    assert report.dap_gym2 == pytest.approx(1.07e-05)
    assert report.dose_rp_gy is None  # written, but empty
    assert len(report.events) == 1
    assert report.events[0].dap_gym2 == pytest.approx(1.07e-05)
    assert report.events[0].exposure_time_s == pytest.approx(0.005)  # written as 5 ms
    assert report.acquisition_time_s == pytest.approx(0.005)


def test_hologic_mammography_rdsr():
    report = read_file(corpus("MG-RDSR-Hologic_2D.dcm"))
    assert report.modality == "MG"
    assert report.agd_by_laterality == {"left": pytest.approx(1.30), "right": pytest.approx(1.28)}
    assert report.agd_mgy == pytest.approx(2.58)
    assert [(e.laterality, e.agd_mgy) for e in report.events] == [
        ("left", pytest.approx(1.30)),
        ("right", pytest.approx(1.28)),
    ]
    assert report.events[0].exposure_time_s == pytest.approx(0.854)


def test_siemens_fluoroscopy_radiation_summary():
    report = read_file(corpus("RF-ESR-Siemens-Varic.dcm"))
    assert (report.template, report.modality) == ("vendor", "RF")
    assert report.fluoro_time_s == pytest.approx(34.427)
    assert report.dap_gym2 == pytest.approx(0.2359e-4)  # 0.2359 Gy·cm²
    assert report.events == []


@pytest.mark.parametrize(
    ("value", "unit", "quantity", "expected"),
    [
        (724.52, "mGycm", Quantity.DLP, 724.52),
        (7.2452, "Gy.m", Quantity.DLP, 724520.0),
        (12.0, "dGy*cm2", Quantity.DAP, 12e-5),
        (250.0, "uGy.m2", Quantity.DAP, 250e-6),
        (0.5, "Gy.cm^2", Quantity.DAP, 0.5e-4),
        (3.0, "Gym2", Quantity.DAP, 3.0),
        (40.0, "cGy.cm2", Quantity.DAP, 40e-6),
        (1500.0, "mGy", Quantity.DOSE_RP, 1.5),
        (5.0, "ms", Quantity.TIME, 0.005),
        (2.0, "min", Quantity.TIME, 120.0),
    ],
)
def test_vendor_units_are_normalised(value, unit, quantity, expected):
    assert convert(value, unit, quantity) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("unit", "quantity"), [("mGy", Quantity.DLP), ("kV", Quantity.DOSE), ("mGy.cm", Quantity.DAP)]
)
def test_a_unit_of_the_wrong_dimension_is_refused(unit, quantity):
    assert convert(1.0, unit, quantity) is None


def test_synthetic_ct_report_in_non_ucum_units():
    ds = dosedata.ct_rdsr(
        [
            CtEvent(30.0, 4.0, phantom="113690", units=("mGy", "Gy.cm")),
            CtEvent(12.5, 600.0, units=("mGy", "mGycm"), ssde=16.2),
        ],
        dlp_total=4.6,
        dlp_total_unit="Gy.cm",
    )
    report = read(ds)
    assert report.ct_dlp_mgycm == pytest.approx(4600.0)
    assert [e.dlp_mgycm for e in report.events] == pytest.approx([4000.0, 600.0])
    assert [e.phantom for e in report.events] == ["head", "body"]
    assert report.events[1].ssde_mgy == pytest.approx(16.2)
    assert report.problems == []


def test_codes_are_matched_not_meanings():
    ds = dosedata.ct_rdsr([CtEvent(10.0, 300.0)])
    # A vendor that writes meanings in another language, or none: codes still match.
    for item in ds.ContentSequence[1:]:
        for sub in [item, *getattr(item, "ContentSequence", [])]:
            sub.ConceptNameCodeSequence[0].CodeMeaning = "Доза"
    assert read(ds).ct_dlp_mgycm == pytest.approx(300.0)
    # A right meaning with the wrong code is not the DLP total.
    ds = dosedata.ct_rdsr([CtEvent(10.0, 300.0)])
    ds.ContentSequence[1].ContentSequence[1].ConceptNameCodeSequence[0].CodeValue = "999999"
    report = read(ds)
    assert report.problems == ["DLP total: summed from the events"]


def test_synthetic_projection_report_totals_and_missing_values():
    ds = dosedata.projection_rdsr(
        [(12.0, "dGy*cm2"), (250.0, "uGy.m2")], dap_total=None, fluoro_time=(3.5, "min")
    )
    report = read(ds)
    assert report.dap_gym2 == pytest.approx(12e-5 + 250e-6)
    assert report.fluoro_time_s == pytest.approx(210.0)
    assert report.modality == "RF"  # fluoroscopy time was recorded
    assert report.totals()["ct_dlp_mgycm"] is None and report.totals()["agd_mgy"] is None


def test_an_unknown_unit_is_named_and_left_out():
    ds = dosedata.projection_rdsr([(1.0, "furlongs")], dap_total=(1.0, "furlongs"))
    report = read(ds)
    assert report.dap_gym2 is None
    assert "DAP total: unit not understood" in report.problems


def test_not_a_dose_report():
    ds = dosedata.ct_rdsr([CtEvent(1.0, 1.0)])
    ds.ConceptNameCodeSequence[0].CodeValue = "18748-4"
    ds.ConceptNameCodeSequence[0].CodingSchemeDesignator = "LN"
    with pytest.raises(NotADoseReport, match="not an X-Ray Radiation Dose Report"):
        read(ds)


def test_an_empty_dose_report_is_refused():
    ds = dosedata.ct_rdsr([])
    ds.ContentSequence = ds.ContentSequence[:1]
    with pytest.raises(NotADoseReport, match="neither irradiation events nor totals"):
        read(ds)


def test_truncated_file_is_refused_with_a_reason():
    raw = dosedata.part10(dosedata.ct_rdsr([CtEvent(10.0, 300.0)]))
    with pytest.raises(NotADoseReport, match=r"not a readable DICOM dataset|malformed|neither"):
        read_file(io.BytesIO(raw[: len(raw) // 2]))
    with pytest.raises(NotADoseReport):
        read_file(io.BytesIO(b"DICM" + b"\x00" * 10))


def test_hostile_nesting_is_refused():
    ds = dosedata.ct_rdsr([CtEvent(10.0, 300.0)])
    deep = ds.ContentSequence[1]
    for _ in range(40):
        deep = dosedata.container(Code("113811", "DCM", "x"), [deep])
    ds.ContentSequence = [deep]
    with pytest.raises(NotADoseReport, match="nested too deeply"):
        read(ds)


def test_written_and_read_back_as_part10():
    raw = dosedata.part10(dosedata.ct_rdsr([CtEvent(10.0, 300.0)], dlp_total=300.0))
    assert read_file(io.BytesIO(raw)).ct_dlp_mgycm == pytest.approx(300.0)
    assert pydicom.dcmread(io.BytesIO(raw)).SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.67"
