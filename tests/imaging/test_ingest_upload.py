"""Ingest checks on uploads and the viewer: another facility's study is never joined (409),
zips are unpacked to disk within a budget (three bombs at once stay within a bounded memory
growth), and a series' frames are served in pages."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydicom.uid import generate_uid
from sqlalchemy import func, select

from hub import db
from hub.auth.principal import user_principal
from hub.errors import ValidationFailed
from hub.models import User
from imaging import upload
from imaging.dicom.parse import parse
from imaging.index import Indexer
from imaging.models import Instance, Study
from imaging.storage import file_meta, relative_path
from tests.imaging.dicomdata import ct_instance, write_study
from tests.imaging.support import _encode, ingest, storage
from tests.support.personas import World

BOMB_MEMBER = 500 * 1024 * 1024


def _post(client: FlaskClient, world: World, persona: str, files: list[tuple[Any, str]]) -> Any:
    return client.post(
        "/api/v1/studies/upload",
        headers=world[persona].headers,
        content_type="multipart/form-data",
        data={"files": files},
    )


def _instances(app: Flask, study_uid: str) -> int:
    with app.app_context(), db.transaction() as sess:
        return int(
            sess.scalar(
                select(func.count(Instance.id))
                .join(Study, Study.id == Instance.study_id)
                .where(Study.study_instance_uid == study_uid)
            )
            or 0
        )


def _stored_files(app: Flask) -> set[Path]:
    root = storage(app).root
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_an_upload_naming_another_facilitys_study_is_refused_with_409(
    app: Flask, client: FlaskClient, world: World, tmp_path: Path
) -> None:
    study = ingest(app, world.facility_a, world.patient_a.national_id, images=2, size=16)
    _uid, intruders = write_study(
        tmp_path / "b", patient_id="OTHER-B", count=1, size=16, study_uid=study.study_uid
    )
    own_uid, own = write_study(tmp_path / "own", patient_id="LOCAL-B", count=1, size=16)
    files_before = _stored_files(app)
    resp = _post(
        client,
        world,
        "hw_b",
        [
            (io.BytesIO(intruders[0].read_bytes()), "x.dcm"),
            (io.BytesIO(own[0].read_bytes()), "o.dcm"),
        ],
    )
    assert resp.status_code == 409, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == "study_conflict"
    assert error["details"]["refused"] == [
        {"file": "x.dcm", "reason": "the study belongs to another facility"}
    ]
    # The good file of the same upload is kept.
    assert (error["details"]["stored"], error["details"]["studies"]) == (1, [own_uid])
    assert _instances(app, study.study_uid) == 2
    assert _instances(app, own_uid) == 1
    assert len(_stored_files(app) - files_before) == 1  # the good file's; none of the refused
    # Facility A's own health worker with another patient's image: refused too.
    _uid, other_patient = write_study(
        tmp_path / "a2", patient_id="OTHER-A", count=1, size=16, study_uid=study.study_uid
    )
    resp = _post(client, world, "hw_a", [(io.BytesIO(other_patient[0].read_bytes()), "p.dcm")])
    assert resp.status_code == 409
    assert resp.get_json()["error"]["details"]["refused"][0]["reason"] == (
        "the patient differs from the study's patient"
    )
    assert _instances(app, study.study_uid) == 2


def test_a_different_object_under_an_uploaded_uid_is_quarantined(
    app: Flask, client: FlaskClient, world: World, tmp_path: Path
) -> None:
    _uid, paths = write_study(tmp_path, patient_id="LOCAL-UQ", count=1, size=16)
    raw = paths[0].read_bytes()
    assert _post(client, world, "hw_a", [(io.BytesIO(raw), "a.dcm")]).get_json()["stored"] == 1
    same = _post(client, world, "hw_a", [(io.BytesIO(raw), "a.dcm")]).get_json()
    assert (same["duplicates"], same["quarantined"]) == (1, [])
    changed = raw[:-8] + b"\x01" * 8  # the last pixels differ
    body = _post(client, world, "hw_a", [(io.BytesIO(changed), "b.dcm")]).get_json()
    assert (body["stored"], body["duplicates"], body["quarantined"]) == (0, 0, ["b.dcm"])


def _bomb(path: Path, members: int = 2, good: bytes | None = None) -> Path:
    """A ~1 MB zip whose members each inflate to 500 MB of zeros."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        if good is not None:
            zf.writestr("good.dcm", good)
        chunk = bytes(1024 * 1024)
        for n in range(members):
            with zf.open(f"big{n}.dcm", "w", force_zip64=True) as out:
                for _ in range(BOMB_MEMBER // len(chunk)):
                    out.write(chunk)
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bomb(tmp_path_factory.mktemp("bomb") / "bomb.zip")


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_three_zip_bombs_at_once_stay_on_disk_and_within_budget(
    app: Flask, world: World, bomb: Path, tmp_path: Path
) -> None:
    assert bomb.stat().st_size < 1_200_000
    _uid, good = write_study(tmp_path, patient_id="LOCAL-BOMB", count=1, size=16)
    with_good = _bomb(tmp_path / "with-good.zip", members=1, good=good[0].read_bytes())
    answers: list[Any] = [None] * 3
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    def send(index: int) -> None:
        archive = with_good if index == 0 else bomb
        with app.test_client() as client:
            answers[index] = _post(
                client, world, "hw_a", [(io.BytesIO(archive.read_bytes()), "z.zip")]
            )

    baseline = _rss()
    watcher = threading.Thread(target=watch)
    watcher.start()
    senders = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(600)
    done.set()
    watcher.join()
    growth = peak[0] - baseline
    print(f"peak RSS growth for three 1 GB-expanding zips at once: {growth / 2**20:.1f} MiB")
    assert growth < 100 * 2**20, growth
    for resp in answers:
        assert resp.status_code == 413, resp.get_json()
        error = resp.get_json()["error"]
        assert error["code"] == "upload_too_large"
        assert "expands too much" in error["message"]
    # The good member before the bomb is stored; the bomb's members are refused by name.
    details = answers[0].get_json()["error"]["details"]
    assert details["stored"] == 1
    assert [r["file"] for r in details["refused"]] == ["z.zip/big0.dcm"]
    assert not list((storage(app).root / "incoming").iterdir())


def test_zip_limits_members_nesting_and_total(
    app: Flask, world: World, tmp_path: Path, client: FlaskClient
) -> None:
    _uid, paths = write_study(tmp_path, patient_id="LOCAL-ZL", count=3, size=16)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.write(paths[0], "inner.dcm")
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("nested.zip", inner.getvalue())
        zf.writestr("hidden.dcm", inner.getvalue())  # a zip under another name
        zf.write(paths[1], "ok.dcm")
    outer.seek(0)
    body = _post(client, world, "hw_a", [(outer, "o.zip")]).get_json()
    assert body["stored"] == 1
    assert sorted((r["file"], r["reason"]) for r in body["refused"]) == [
        ("o.zip/hidden.dcm", "a zip inside the zip archive is not unpacked"),
        ("o.zip/nested.zip", "a zip inside the zip archive is not unpacked"),
    ]
    factory = db.get_db(app).session_factory
    assert factory is not None
    with app.app_context():
        sess = db.session()
        user = sess.get_one(User, world["hw_a"].user_id)
        principal = user_principal(user, "test")
        many = io.BytesIO()
        with zipfile.ZipFile(many, "w") as zf:
            for p in paths:
                zf.write(p, p.name)
        with pytest.raises(ValidationFailed, match="at most 2 files"):
            upload.upload(
                sess,
                principal,
                [("m.zip", many)],
                storage=storage(app),
                indexer=Indexer(factory, forward=False),
                facility_code=None,
                limits=upload.Limits(max_expanded=10**9, max_ratio=100, max_members=2),
            )
        # The total budget, whatever the ratio allows: the first member fits, the next not.
        many.seek(0)
        report = upload.upload(
            sess,
            principal,
            [("m.zip", many)],
            storage=storage(app),
            indexer=Indexer(factory, forward=False),
            facility_code=None,
            limits=upload.Limits(
                max_expanded=paths[0].stat().st_size + 10, max_ratio=100000, max_members=10
            ),
        )
        sess.rollback()
    assert report.over_budget == "The zip archive is too large once unpacked."
    assert report.stored == 1
    assert [name for name, _reason in report.refused] == ["m.zip/00002.dcm", "m.zip/00003.dcm"]


def test_series_frames_are_served_in_pages(app: Flask, client: FlaskClient, world: World) -> None:
    study_uid = generate_uid()
    ds = ct_instance(
        patient_id="LOCAL-PAGES", study_uid=study_uid, series_uid=generate_uid(), number=1
    )
    ds.Rows = ds.Columns = 2
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = 2500
    ds.PixelData = (np.arange(2500 * 4) % 251).astype(np.uint8).tobytes()
    data = _encode(ds)
    syntax, sop_class, sop_uid = (
        str(ds.file_meta.TransferSyntaxUID),
        str(ds.SOPClassUID),
        str(ds.SOPInstanceUID),
    )
    parsed = parse(data, syntax, sop_class_uid=sop_class, sop_instance_uid=sop_uid)
    assert (parsed.frames, parsed.problems) == (2500, ())
    factory = db.get_db(app).session_factory
    assert factory is not None
    relative = relative_path(study_uid, sop_uid)
    size = storage(app).write(relative, [file_meta(sop_class, sop_uid, syntax), data])
    Indexer(factory, forward=False).add(parsed, relative, size, "TESTMOD", world.facility_a.id)
    link = client.post(
        f"/api/v1/studies/{study_uid}/links", headers=world["hw_a"].headers, json={}
    ).get_json()
    path = link["url"].split("://", 1)[1].split("/", 1)[1]
    # The simple viewer lists the frames, the first page of them only; the diagnostic viewer
    # reads them over DICOMweb.
    page = client.get(f"/{path}?simple=1")
    assert page.status_code == 200
    assert len(page.data) < 200_000
    assert "(2500)" in page.get_data(as_text=True)
    series_uid = str(ds.SeriesInstanceUID)
    first = client.get(f"/{path}/series/{series_uid}.json").get_json()
    assert (len(first["frames"]), first["total"], first["next"]) == (1000, 2500, 1000)
    last = client.get(f"/{path}/series/{series_uid}.json?start=2000").get_json()
    assert (len(last["frames"]), last["next"]) == (500, None)
    assert last["frames"][-1][1] == 2499
    assert client.get(f"/{path}/series/{series_uid}.json?start=-1").status_code == 400
