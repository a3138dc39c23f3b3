"""The DICOMweb benchmark's own pieces, cheaply: its percentiles, and its searches are valid
QIDO-RS queries the hub answers without ignoring any key."""

from __future__ import annotations

import random

from flask import Flask
from flask.testing import FlaskClient

from tests.benchmarks import bench_dicomweb as bench
from tests.imaging.support import ingest
from tests.support.personas import World


def test_percentile_picks_the_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert bench.percentile(values, 0.5) == 51.0
    assert bench.percentile(values, 0.99) == 100.0
    assert bench.percentile([3.0], 0.99) == 3.0


def test_the_benchmark_searches_are_answered(app: Flask, client: FlaskClient, world: World) -> None:
    study = ingest(app, world.facility_a, "BP0000001", images=1)
    picked = {
        "pid": ["BP0000001", "BP0000002"],
        "name": ["TEST^P", "KARIMI^B"],
        "accession": ["ACC1", "A000000002"],
        "uid": [study.study_uid, "1.2.826.0.1.3680043.10.1000.18.2"],
    }
    kinds = bench.query_kinds(picked, random.Random(1))
    assert len(kinds) == 7 and all(len(v) == 2 for v in kinds.values())
    for kind, queries in kinds.items():
        for query in queries:
            resp = client.get(f"/dicomweb/studies?{query}", headers=world["national"].headers)
            assert resp.status_code == 200, (kind, query, resp.get_data(as_text=True))
            assert "Warning" not in resp.headers, (kind, query)  # nothing ignored
    found = client.get(f"/dicomweb/studies?{kinds['PatientID'][0]}", headers=world["hw_a"].headers)
    assert [i["0020000D"]["Value"][0] for i in found.get_json()] == [study.study_uid]
