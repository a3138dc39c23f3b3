"""Interoperability: the real ``dicomweb-client`` against a live hub with a bearer token —
search with matching, retrieval of studies, series, instances, metadata, bulk data and frames,
and STOW of datasets as the client encodes them (no PS3.10 preamble)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from flask import Flask
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid
from sqlalchemy import func, select

from hub import db
from hub.models import AuditEvent, Facility
from tests.imaging.dicomdata import ct_instance
from tests.imaging.support import Ingested, ingest
from tests.support.apps import make_app
from tests.support.live import demo_env, live_demo_hub, run_hub_command
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.slow]


@dataclass
class Hub:
    live: HubProcess
    app: Flask  # the live hub's database and storage, to count its audit
    tokens: dict[str, str]
    foreign: Ingested  # a study of HP-B, which chw.demo (HP-A) does not reach

    def client(self, who: str = "chw.demo") -> DICOMwebClient:
        return DICOMwebClient(
            url=f"{self.live.base_url}/dicomweb",
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
        )

    def audited(self, action: str) -> int:
        with self.app.app_context(), db.transaction() as sess:
            return int(
                sess.scalar(
                    select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
                )
                or 0
            )


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    directory = tmp_path_factory.mktemp("dicomweb-client")
    with live_demo_hub(directory) as live:
        env = demo_env(directory, int(live.port or 0))
        data = directory / "data"
        app = make_app(f"sqlite:///{data / 'hub.sqlite'}", data)
        with app.app_context(), db.transaction() as sess:
            facility = sess.scalar(select(Facility).where(Facility.code == "HP-B"))
            assert facility is not None
            sess.expunge(facility)
        foreign = ingest(app, facility, "DWCFOREIGN", images=1)
        tokens = {
            who: run_hub_command("token", "create", who, env=env).strip().splitlines()[-1]
            for who in ("chw.demo", "gp.demo")
        }
        yield Hub(live, app, tokens, foreign)


def _series(pid: str, count: int, syntax: str = ExplicitVRLittleEndian) -> list[Dataset]:
    study_uid, series_uid = generate_uid(), generate_uid()
    return [
        ct_instance(
            patient_id=pid,
            study_uid=study_uid,
            series_uid=series_uid,
            number=n,
            size=32,
            syntax=syntax,  # type: ignore[arg-type]
        )
        for n in range(1, count + 1)
    ]


def _uids(seq: Dataset, name: str) -> set[str]:
    return {str(item.ReferencedSOPInstanceUID) for item in getattr(seq, name, [])}


def test_store_search_and_retrieve_round_trip(hub: Hub) -> None:
    client = hub.client()
    pid = "DWC" + secrets.token_hex(4).upper()
    datasets = _series(pid, 3)
    study_uid, series_uid = str(datasets[0].StudyInstanceUID), str(datasets[0].SeriesInstanceUID)
    stored = client.store_instances(datasets)
    assert _uids(stored, "ReferencedSOPSequence") == {str(d.SOPInstanceUID) for d in datasets}
    assert "FailedSOPSequence" not in stored
    assert str(stored.RetrieveURL).endswith(f"/dicomweb/studies/{study_uid}")

    studies = client.search_for_studies(search_filters={"PatientID": pid})
    assert [s["0020000D"]["Value"][0] for s in studies] == [study_uid]
    assert studies[0]["00201208"]["Value"] == [3]
    assert (
        client.search_for_studies(search_filters={"PatientID": pid, "ModalitiesInStudy": "MR"})
        == []
    )
    wild = client.search_for_studies(search_filters={"PatientID": pid[:-2] + "*"}, limit=5)
    assert study_uid in {s["0020000D"]["Value"][0] for s in wild}
    described = client.search_for_studies(
        search_filters={"PatientID": pid}, fields=["StudyDescription"]
    )
    assert described[0]["00081030"]["Value"] == ["CHEST"]

    series = client.search_for_series(study_uid, search_filters={"Modality": "CT"})
    assert [s["0020000E"]["Value"][0] for s in series] == [series_uid]
    assert client.search_for_series(study_uid, search_filters={"Modality": "MR"}) == []
    second = client.search_for_instances(
        study_uid, series_uid, search_filters={"InstanceNumber": "2"}
    )
    assert [i["00080018"]["Value"][0] for i in second] == [str(datasets[1].SOPInstanceUID)]
    assert len(client.search_for_instances(study_uid)) == 3

    retrieved_before = hub.audited("imaging:study:retrieved")
    whole = client.retrieve_study(study_uid)
    by_uid = {str(d.SOPInstanceUID): d for d in whole}
    assert set(by_uid) == {str(d.SOPInstanceUID) for d in datasets}
    for original in datasets:
        assert by_uid[str(original.SOPInstanceUID)].PixelData == original.PixelData
    assert len(client.retrieve_series(study_uid, series_uid)) == 3
    sop = str(datasets[0].SOPInstanceUID)
    one = client.retrieve_instance(study_uid, series_uid, sop)
    assert str(one.SOPInstanceUID) == sop and one.PatientID == pid

    meta = client.retrieve_instance_metadata(study_uid, series_uid, sop)
    assert meta["00100020"]["Value"] == [pid]
    bulk_uri = meta["7FE00010"]["BulkDataURI"]
    assert client.retrieve_bulkdata(bulk_uri) == [datasets[0].PixelData]

    (native,) = client.retrieve_instance_frames(
        study_uid, series_uid, sop, frame_numbers=[1], media_types=("application/octet-stream",)
    )
    assert native == datasets[0].PixelData
    rendered = client.retrieve_instance_rendered(
        study_uid, series_uid, sop, media_types=("image/png",)
    )
    assert rendered[:8] == b"\x89PNG\r\n\x1a\n"
    # Every retrieval above is audited: study, series, instance, metadata, bulk, frames, rendered.
    assert hub.audited("imaging:study:retrieved") - retrieved_before == 7


def test_compressed_frames_come_back_in_their_stored_syntax(hub: Hub) -> None:
    client = hub.client()
    (ds,) = _series("DWC" + secrets.token_hex(4).upper(), 1, RLELossless)
    client.store_instances([ds])
    study_uid, series_uid, sop = (
        str(ds.StudyInstanceUID),
        str(ds.SeriesInstanceUID),
        str(ds.SOPInstanceUID),
    )
    (frame,) = client.retrieve_instance_frames(
        study_uid,
        series_uid,
        sop,
        frame_numbers=[1],
        media_types=(("image/dicom-rle", RLELossless),),
    )
    assert frame == next(generate_frames(ds.PixelData, number_of_frames=1))
    one = client.retrieve_instance(study_uid, series_uid, sop)
    assert one.file_meta.TransferSyntaxUID == RLELossless
    assert one.PixelData == ds.PixelData
    # The hub does not transcode: asking for the frame natively is refused (406).
    with pytest.raises(requests.HTTPError) as refused:
        client.retrieve_instance_frames(
            study_uid,
            series_uid,
            sop,
            frame_numbers=[1],
            media_types=(("application/octet-stream", ExplicitVRLittleEndian),),
        )
    assert refused.value.response.status_code == 406


def test_store_keeps_good_parts_and_lists_another_facilitys_study(hub: Hub) -> None:
    client = hub.client()
    pid = "DWC" + secrets.token_hex(4).upper()
    good = _series(pid, 2)
    intruder = ct_instance(
        patient_id=pid,
        study_uid=hub.foreign.study_uid,
        series_uid=generate_uid(),
        number=1,
        size=32,
    )
    answer = client.store_instances([good[0], intruder, good[1]])
    assert _uids(answer, "ReferencedSOPSequence") == {str(d.SOPInstanceUID) for d in good}
    (failed,) = answer.FailedSOPSequence
    assert failed.ReferencedSOPInstanceUID == intruder.SOPInstanceUID
    assert failed.FailureReason == 0x0110
    # Nothing of the refused part is there, for its own facility either.
    gp = hub.client("gp.demo")
    assert len(gp.search_for_instances(hub.foreign.study_uid)) == 1
    # Another facility's study is out of reach on every route: 404.
    for call in (
        lambda: client.retrieve_study(hub.foreign.study_uid),
        lambda: client.search_for_series(hub.foreign.study_uid),
        lambda: client.retrieve_study_metadata(hub.foreign.study_uid),
    ):
        with pytest.raises(requests.HTTPError) as missing:
            call()
        assert missing.value.response.status_code == 404
    assert (
        client.search_for_studies(search_filters={"StudyInstanceUID": hub.foreign.study_uid}) == []
    )


def test_every_part_refused_is_409(hub: Hub) -> None:
    client = hub.client()
    study_uid = generate_uid()
    other = _series("DWC" + secrets.token_hex(4).upper(), 1)
    with pytest.raises(requests.HTTPError) as refused:
        client.store_instances(other, study_instance_uid=study_uid)
    assert refused.value.response.status_code == 409
    failed = refused.value.response.json()["00081198"]["Value"]
    assert [f["00081197"]["Value"] for f in failed] == [[0xA900]]
