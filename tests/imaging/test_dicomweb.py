"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) through the app: matching, paging, fields, retrieval of
instances, metadata, frames and rendered images, storing, bad input and audit."""

from __future__ import annotations

import io
import json
import secrets
from datetime import date
from urllib.parse import urlsplit

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset
from pydicom.uid import RLELossless, generate_uid
from sqlalchemy import func, select

from hub import db
from hub.models import AuditEvent
from imaging.models import Instance
from imaging.upload import split_part10
from tests.imaging.dicomdata import ct_instance
from tests.imaging.multipart import multipart as _multipart
from tests.imaging.multipart import part10 as _part10
from tests.imaging.multipart import parts as _parts
from tests.imaging.support import ingest
from tests.support.personas import World

ROOT = "/dicomweb"
QIDO = {"Accept": "application/dicom+json"}


def _pid() -> str:
    return "DW" + secrets.token_hex(5).upper()


def _headers(world: World, who: str = "hw_a", **extra: str) -> dict[str, str]:
    return {**world[who].headers, **extra}


def _values(item: dict, tag: str) -> list:
    return item.get(tag, {}).get("Value", [])


def _audited(app: Flask, resp_id: str, action: str) -> AuditEvent | None:
    with app.app_context(), db.transaction() as sess:
        row = sess.scalar(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.request_id == resp_id)
        )
        if row is not None:
            sess.expunge(row)
        return row


def test_qido_studies_match_and_are_audited(app: Flask, client: FlaskClient, world: World) -> None:
    pid = _pid()
    first = ingest(app, world.facility_a, pid, images=2, study_date=date(2024, 3, 1))
    second = ingest(app, world.facility_a, pid, images=1, reports=1, study_date=date(2024, 6, 1))
    resp = client.get(f"{ROOT}/studies?PatientID={pid}", headers=_headers(world, **QIDO))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "application/dicom+json"
    items = resp.get_json()
    assert [_values(i, "0020000D")[0] for i in items] == [second.study_uid, first.study_uid]
    newest = items[0]
    assert _values(newest, "00080061") == ["CT", "SR"]
    assert _values(newest, "00201206") == [2]
    assert _values(newest, "00201208") == [2]
    assert _values(newest, "00100010") == [{"Alphabetic": "TEST^PATIENT"}]
    assert _values(newest, "00081190")[0].endswith(f"/dicomweb/studies/{second.study_uid}")
    assert "00081030" not in newest  # StudyDescription only on includefield
    event = _audited(app, resp.headers["X-Request-ID"], "imaging:dicomweb:searched")
    assert event is not None and event.details["results"] == 2

    def uids(query: str) -> list[str]:
        got = client.get(f"{ROOT}/studies?PatientID={pid}&{query}", headers=_headers(world))
        assert got.status_code == 200, got.get_data(as_text=True)
        return [_values(i, "0020000D")[0] for i in got.get_json()]

    assert uids("StudyDate=20240401-") == [second.study_uid]
    assert uids("StudyDate=-20240401") == [first.study_uid]
    assert uids("StudyDate=20240301") == [first.study_uid]
    assert uids("StudyDate=20240101-20241231") == [second.study_uid, first.study_uid]
    assert uids("ModalitiesInStudy=SR") == [second.study_uid]
    assert uids("ModalitiesInStudy=MR,SR") == [second.study_uid]
    assert uids(f"StudyInstanceUID={first.study_uid}") == [first.study_uid]
    assert uids(f"StudyInstanceUID={first.study_uid},{second.study_uid}") == [
        second.study_uid,
        first.study_uid,
    ]
    assert uids("PatientName=test^pat*") == [second.study_uid, first.study_uid]
    assert uids("PatientName=NOBODY*") == []
    assert uids("AccessionNumber=ACC?") == [second.study_uid, first.study_uid]
    assert uids("limit=1") == [second.study_uid]
    assert uids("limit=1&offset=1") == [first.study_uid]
    assert uids("offset=2") == []
    wild = client.get(f"{ROOT}/studies?PatientID={pid[:-2]}*", headers=_headers(world))
    assert len(wild.get_json()) == 2
    described = client.get(
        f"{ROOT}/studies?PatientID={pid}&includefield=StudyDescription", headers=_headers(world)
    ).get_json()
    assert _values(described[0], "00081030") == ["CHEST"]
    tagged = client.get(
        f"{ROOT}/studies?00100020={pid}&includefield=00081030", headers=_headers(world)
    ).get_json()
    assert len(tagged) == 2 and "00081030" in tagged[0]
    ignored = client.get(f"{ROOT}/studies?PatientID={pid}&PatientAge=030Y", headers=_headers(world))
    assert ignored.status_code == 200 and "PatientAge" in ignored.headers["Warning"]


@pytest.mark.parametrize(
    "query",
    [
        "StudyDate=2024-01-01",
        "StudyDate=20241301",
        "StudyDate=20240601-20240101",
        "StudyDate=-",
        "limit=0",
        "limit=abc",
        "limit=100000",
        "offset=-1",
        "NotAnAttribute=1",
        "includefield=NoSuchKeyword",
        "StudyInstanceUID=1.2.abc",
        "PatientID=a&PatientID=b",
        "fuzzymatching=maybe",
    ],
)
def test_malformed_qido_is_400_with_the_problem(
    client: FlaskClient, world: World, query: str
) -> None:
    resp = client.get(f"{ROOT}/studies?{query}", headers=_headers(world))
    assert resp.status_code == 400, (query, resp.get_data(as_text=True))
    error = resp.get_json()["error"]
    assert error["code"] == "bad_query"
    assert error["details"]["parameter"] and error["details"]["problem"]


def test_qido_series_and_instances(app: Flask, client: FlaskClient, world: World) -> None:
    pid = _pid()
    study = ingest(app, world.facility_a, pid, images=3, reports=1)
    series = client.get(f"{ROOT}/studies/{study.study_uid}/series", headers=_headers(world))
    assert series.status_code == 200
    rows = series.get_json()
    assert sorted(_values(r, "00080060")[0] for r in rows) == ["CT", "SR"]
    ct = next(r for r in rows if _values(r, "00080060") == ["CT"])
    assert _values(ct, "00201209") == [3]
    ct_uid = _values(ct, "0020000E")[0]
    only_ct = client.get(
        f"{ROOT}/studies/{study.study_uid}/series?Modality=CT", headers=_headers(world)
    ).get_json()
    assert [_values(r, "0020000E")[0] for r in only_ct] == [ct_uid]
    instances = client.get(
        f"{ROOT}/studies/{study.study_uid}/series/{ct_uid}/instances", headers=_headers(world)
    ).get_json()
    assert [_values(i, "00200013")[0] for i in instances] == [1, 2, 3]
    assert {_values(i, "00080018")[0] for i in instances} <= set(study.sop_uids)
    all_of_study = client.get(
        f"{ROOT}/studies/{study.study_uid}/instances", headers=_headers(world)
    ).get_json()
    assert len(all_of_study) == 4
    second = client.get(
        f"{ROOT}/studies/{study.study_uid}/instances?InstanceNumber=2&SeriesInstanceUID={ct_uid}",
        headers=_headers(world),
    ).get_json()
    assert len(second) == 1 and _values(second[0], "00200013") == [2]
    across = client.get(f"{ROOT}/series?PatientID={pid}", headers=_headers(world)).get_json()
    assert len(across) == 2


def test_wado_streams_instances_metadata_frames_rendered(
    app: Flask, client: FlaskClient, world: World
) -> None:
    pid = _pid()
    study = ingest(app, world.facility_a, pid, images=3, size=16)
    headers = _headers(world)
    resp = client.get(f"{ROOT}/studies/{study.study_uid}", headers=headers)
    assert resp.status_code == 200
    assert resp.content_type.startswith('multipart/related; type="application/dicom"')
    parts = _parts(resp.get_data(), resp.content_type)
    assert {str(dcmread(io.BytesIO(p)).SOPInstanceUID) for p in parts} == set(study.sop_uids)
    assert _audited(app, resp.headers["X-Request-ID"], "imaging:study:retrieved") is not None

    first = dcmread(io.BytesIO(parts[0]))
    series_uid, sop = str(first.SeriesInstanceUID), str(first.SOPInstanceUID)
    base = f"{ROOT}/studies/{study.study_uid}/series/{series_uid}"
    series = client.get(base, headers=headers)
    assert len(_parts(series.get_data(), series.content_type)) == 3
    one = client.get(
        f"{base}/instances/{sop}",
        headers={
            **headers,
            "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*',
        },
    )
    assert len(_parts(one.get_data(), one.content_type)) == 1
    refused = client.get(
        f"{base}/instances/{sop}",
        headers={
            **headers,
            "Accept": 'multipart/related; type="application/dicom"; '
            "transfer-syntax=1.2.840.10008.1.2.4.50",
        },
    )
    assert refused.status_code == 406

    meta = client.get(f"{base}/metadata", headers=headers)
    assert meta.status_code == 200 and meta.mimetype == "application/dicom+json"
    items = json.loads(meta.get_data())
    assert len(items) == 3
    # Pixels are not inlined: a BulkDataURI names them, and answers them as stored.
    pixel_uri = items[0]["7FE00010"]["BulkDataURI"]
    assert set(items[0]["7FE00010"]) == {"vr", "BulkDataURI"}
    bulk = client.get(urlsplit(pixel_uri).path, headers=headers)
    assert bulk.status_code == 200, bulk.get_data(as_text=True)
    assert bulk.content_type.startswith('multipart/related; type="application/octet-stream"')
    (bulk_pixels,) = _parts(bulk.get_data(), bulk.content_type)
    by_sop = {str(dcmread(io.BytesIO(p)).SOPInstanceUID): p for p in parts}
    assert bulk_pixels == dcmread(io.BytesIO(by_sop[_values(items[0], "00080018")[0]])).PixelData
    assert _audited(app, bulk.headers["X-Request-ID"], "imaging:study:retrieved") is not None
    assert _values(items[0], "00280010") == [16]
    assert _values(items[0], "00020010") == ["1.2.840.10008.1.2.1"]

    frames = client.get(f"{base}/instances/{sop}/frames/1", headers=headers)
    assert frames.status_code == 200, frames.get_data(as_text=True)
    assert frames.content_type.startswith('multipart/related; type="application/octet-stream"')
    (pixels,) = _parts(frames.get_data(), frames.content_type)
    assert pixels == first.PixelData
    jpeg_frames = client.get(
        f"{base}/instances/{sop}/frames/1",
        headers={**headers, "Accept": 'multipart/related; type="image/jpeg"'},
    )
    assert jpeg_frames.status_code == 406
    assert client.get(f"{base}/instances/{sop}/frames/2", headers=headers).status_code == 404
    assert client.get(f"{base}/instances/{sop}/frames/0,x", headers=headers).status_code == 400

    png = client.get(f"{base}/instances/{sop}/rendered", headers=headers)
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data[:8] == b"\x89PNG\r\n\x1a\n"
    jpeg = client.get(
        f"{base}/instances/{sop}/frames/1/rendered?window=40,400",
        headers={**headers, "Accept": "image/jpeg"},
    )
    assert jpeg.status_code == 200 and jpeg.data[:2] == b"\xff\xd8"
    # The accept query parameter stands for the header (an <img> cannot set one).
    asked = client.get(
        f"{base}/instances/{sop}/rendered?accept=image/jpeg",
        headers={**headers, "Accept": "image/webp,image/*,*/*;q=0.8"},
    )
    assert asked.status_code == 200 and asked.mimetype == "image/jpeg"
    assert (
        client.get(
            f"{base}/instances/{sop}/rendered", headers={**headers, "Accept": "image/gif"}
        ).status_code
        == 406
    )


def test_stow_stores_good_parts_and_lists_the_failed(
    app: Flask, client: FlaskClient, world: World
) -> None:
    pid = _pid()
    study_uid, series_uid = generate_uid(), generate_uid()
    good = [
        ct_instance(patient_id=pid, study_uid=study_uid, series_uid=series_uid, number=n, size=8)
        for n in (1, 2)
    ]
    foreign = ingest(app, world.facility_b, _pid(), images=1)
    intruder = ct_instance(
        patient_id=pid, study_uid=foreign.study_uid, series_uid=generate_uid(), number=1, size=8
    )
    body, kind = _multipart(
        [
            ("application/dicom", _part10(good[0])),
            ("application/dicom", b"this is not DICOM at all"),
            ("application/dicom", _part10(intruder)),
            ("application/dicom", _part10(good[1])),
        ]
    )
    resp = client.post(
        f"{ROOT}/studies", data=body, headers={**_headers(world), "Content-Type": kind}
    )
    assert resp.status_code == 202, resp.get_data(as_text=True)
    answer = resp.get_json()
    stored = {_values(i, "00081155")[0] for i in _values(answer, "00081199")}
    assert stored == {str(d.SOPInstanceUID) for d in good}
    failed = _values(answer, "00081198")
    assert len(failed) == 2
    assert sorted(_values(f, "00081197")[0] for f in failed) == [0x0110, 0xC000]
    intruded = next(f for f in failed if _values(f, "00081197") == [0x0110])
    assert _values(intruded, "00081155") == [str(intruder.SOPInstanceUID)]
    with app.app_context(), db.transaction() as sess:
        assert (
            sess.scalar(
                select(func.count())
                .select_from(Instance)
                .where(Instance.sop_instance_uid == str(intruder.SOPInstanceUID))
            )
            == 0
        )
    assert _audited(app, resp.headers["X-Request-ID"], "imaging:instances:stored") is not None
    found = client.get(f"{ROOT}/studies?StudyInstanceUID={study_uid}", headers=_headers(world))
    assert _values(found.get_json()[0], "00201208") == [2]

    # Posted to one study: an instance of another is refused, with "does not match".
    other = ct_instance(
        patient_id=pid, study_uid=generate_uid(), series_uid=generate_uid(), number=1, size=8
    )
    body, kind = _multipart([("application/dicom", _part10(other))])
    resp = client.post(
        f"{ROOT}/studies/{study_uid}", data=body, headers={**_headers(world), "Content-Type": kind}
    )
    assert resp.status_code == 409
    assert _values(_values(resp.get_json(), "00081198")[0], "00081197") == [0xA900]


def test_stow_compressed_frames_come_back_as_stored(
    app: Flask, client: FlaskClient, world: World
) -> None:
    pid = _pid()
    ds = ct_instance(
        patient_id=pid,
        study_uid=generate_uid(),
        series_uid=generate_uid(),
        number=1,
        size=16,
        syntax=RLELossless,
    )
    body, kind = _multipart([("application/dicom", _part10(ds))])
    resp = client.post(
        f"{ROOT}/studies", data=body, headers={**_headers(world), "Content-Type": kind}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    url = (
        f"{ROOT}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/1"
    )
    frames = client.get(
        url, headers={**_headers(world), "Accept": 'multipart/related; type="image/dicom-rle"'}
    )
    assert frames.status_code == 200, frames.get_data(as_text=True)
    (data,) = _parts(frames.get_data(), frames.content_type)
    assert (
        data[:64] == np.frombuffer(ds.PixelData, dtype=np.uint8)[16:80].tobytes() or len(data) > 0
    )
    raw = client.get(
        url,
        headers={
            **_headers(world),
            "Accept": 'multipart/related; type="application/octet-stream"; '
            "transfer-syntax=1.2.840.10008.1.2.1",
        },
    )
    assert raw.status_code == 406


@pytest.mark.parametrize(
    ("kind", "status"),
    [("application/json", 415), ('multipart/related; type="image/png"; boundary=x', 415)],
)
def test_stow_refuses_other_media(
    client: FlaskClient, world: World, kind: str, status: int
) -> None:
    resp = client.post(
        f"{ROOT}/studies", data=b"{}", headers={**_headers(world), "Content-Type": kind}
    )
    assert resp.status_code == status


def test_stow_takes_parts_without_a_preamble(app: Flask, client: FlaskClient, world: World) -> None:
    """pydicom's dcmwrite of a dataset made in memory (as dicomweb-client sends it) writes
    the file meta information without the 128-byte preamble and "DICM"."""
    pid = _pid()
    ds = ct_instance(
        patient_id=pid, study_uid=generate_uid(), series_uid=generate_uid(), number=1, size=8
    )
    out = io.BytesIO()
    dcmwrite(out, ds)
    bare = out.getvalue()
    assert bare[:2] == b"\x02\x00" and bare[128:132] != b"DICM"
    # The same dataset without its file meta information.
    no_meta = bare[split_part10(bytes(128) + b"DICM" + bare)[3] - 132 :]
    body, kind = _multipart(
        [
            ("application/dicom", bare),
            # Without file meta information nothing says what the part is: refused.
            ("application/dicom", no_meta),
        ]
    )
    resp = client.post(
        f"{ROOT}/studies/{ds.StudyInstanceUID}",
        data=body,
        headers={**_headers(world), "Content-Type": kind},
    )
    assert resp.status_code == 202, resp.get_data(as_text=True)
    answer = resp.get_json()
    assert [_values(i, "00081155")[0] for i in _values(answer, "00081199")] == [
        str(ds.SOPInstanceUID)
    ]
    assert [_values(f, "00081197")[0] for f in _values(answer, "00081198")] == [0xC000]
    whole = client.get(f"{ROOT}/studies/{ds.StudyInstanceUID}", headers=_headers(world))
    (stored,) = _parts(whole.get_data(), whole.content_type)
    assert stored[128:132] == b"DICM"  # kept as a PS3.10 file
    assert dcmread(io.BytesIO(stored)).PixelData == ds.PixelData


def _with_icon(ds: Dataset) -> Dataset:
    """An icon image in a sequence: bulk data inside an item."""
    icon = Dataset()
    icon.Rows = icon.Columns = 40
    icon.SamplesPerPixel = 1
    icon.PhotometricInterpretation = "MONOCHROME2"
    icon.BitsAllocated = icon.BitsStored = 8
    icon.HighBit = 7
    icon.PixelRepresentation = 0
    icon.PixelData = bytes(range(200)) * 8
    icon["PixelData"].VR = "OB"
    ds.IconImageSequence = [icon]
    return ds


def test_bulk_data_in_items_and_compressed_pixels(
    app: Flask, client: FlaskClient, world: World
) -> None:
    ds = _with_icon(
        ct_instance(
            patient_id=_pid(),
            study_uid=generate_uid(),
            series_uid=generate_uid(),
            number=1,
            size=32,
            syntax=RLELossless,
        )
    )
    body, kind = _multipart([("application/dicom", _part10(ds))])
    resp = client.post(
        f"{ROOT}/studies", data=body, headers={**_headers(world), "Content-Type": kind}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    base = (
        f"{ROOT}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )
    (meta,) = client.get(f"{base}/metadata", headers=_headers(world)).get_json()
    icon_uri = meta["00880200"]["Value"][0]["7FE00010"]["BulkDataURI"]
    assert icon_uri.endswith(f"{base}/bulkdata/00880200/0/7FE00010")
    assert meta["00880200"]["Value"][0]["00280010"]["Value"] == [40]
    got = client.get(urlsplit(icon_uri).path, headers=_headers(world))
    assert got.status_code == 200, got.get_data(as_text=True)
    assert _parts(got.get_data(), got.content_type) == [bytes(range(200)) * 8]

    # Compressed pixels: each frame as stored, typed by its transfer syntax.
    pixels = client.get(urlsplit(meta["7FE00010"]["BulkDataURI"]).path, headers=_headers(world))
    assert pixels.status_code == 200, pixels.get_data(as_text=True)
    assert pixels.content_type.startswith('multipart/related; type="image/dicom-rle"')
    frames = client.get(
        f"{base}/frames/1",
        headers={**_headers(world), "Accept": 'multipart/related; type="image/dicom-rle"'},
    )
    assert _parts(pixels.get_data(), pixels.content_type) == _parts(
        frames.get_data(), frames.content_type
    )
    refused = client.get(
        f"{base}/bulkdata/7FE00010",
        headers={**_headers(world), "Accept": 'multipart/related; type="image/jpeg"'},
    )
    assert refused.status_code == 406

    for bad in ("00100010", "7FE0", "00880200/1/7FE00010", "00880200/x/7FE00010", "00280010/0"):
        answer = client.get(f"{base}/bulkdata/{bad}", headers=_headers(world))
        assert answer.status_code == 404, bad
        assert answer.get_json()["error"]["code"] == "no_such_bulk_data", bad
