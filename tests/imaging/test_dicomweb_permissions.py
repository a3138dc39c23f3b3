"""Who reaches what under /dicomweb: every route as every persona (the API's permission
matrix covers /api/v1 only), and an image link reaching exactly its study."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from pydicom.uid import generate_uid

from tests.imaging.support import ingest
from tests.imaging.test_permissions import READERS, SEE, UPLOADERS, Probe
from tests.imaging.test_permissions import probe as probe  # the shared probe study
from tests.support.matrix import Rule, run_matrix
from tests.support.personas import World

ROOT = "/dicomweb"


def _first_instance(
    app: Flask, client: FlaskClient, world: World, study_uid: str
) -> tuple[str, str]:
    resp = client.get(f"{ROOT}/studies/{study_uid}/instances", headers=world["national"].headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    item = resp.get_json()[0]
    return item["0020000E"]["Value"][0], item["00080018"]["Value"][0]


def rules(p: Probe, series: str, sop: str) -> list[Rule]:
    study = f"{ROOT}/studies/{p.study_uid}"
    instance = f"{study}/series/{series}/instances/{sop}"
    return [
        Rule("GET", "/studies", lambda w: f"{ROOT}/studies", READERS),
        Rule("GET", "/series", lambda w: f"{ROOT}/series", READERS),
        Rule("GET", "/instances", lambda w: f"{ROOT}/instances", READERS),
        Rule("GET", "/studies/<study>/series", lambda w: f"{study}/series", SEE),
        Rule("GET", "/studies/<study>/instances", lambda w: f"{study}/instances", SEE),
        Rule(
            "GET",
            "/studies/<study>/series/<series>/instances",
            lambda w: f"{study}/series/{series}/instances",
            SEE,
        ),
        Rule("GET", "/studies/<study>", lambda w: study, SEE),
        Rule("GET", "/studies/<study>/series/<series>", lambda w: f"{study}/series/{series}", SEE),
        Rule("GET", "/studies/<study>/series/<series>/instances/<sop>", lambda w: instance, SEE),
        Rule("GET", "/studies/<study>/metadata", lambda w: f"{study}/metadata", SEE),
        Rule(
            "GET",
            "/studies/<study>/series/<series>/metadata",
            lambda w: f"{study}/series/{series}/metadata",
            SEE,
        ),
        Rule(
            "GET",
            "/studies/<study>/series/<series>/instances/<sop>/metadata",
            lambda w: f"{instance}/metadata",
            SEE,
        ),
        Rule(
            "GET",
            "/studies/<study>/series/<series>/instances/<sop>/frames/<frame_list>",
            lambda w: f"{instance}/frames/1",
            SEE,
        ),
        Rule(
            "GET",
            "/studies/<study>/series/<series>/instances/<sop>/rendered",
            lambda w: f"{instance}/rendered",
            SEE,
        ),
        Rule(
            "GET",
            "/studies/<study>/series/<series>/instances/<sop>/frames/<frame_list>/rendered",
            lambda w: f"{instance}/frames/1/rendered",
            SEE,
        ),
        Rule(
            "GET",
            "/studies/<study>/series/<series>/instances/<sop>/bulkdata/<path:trail>",
            lambda w: f"{instance}/bulkdata/7FE00010",
            SEE,
        ),
        # A JSON body is no multipart request: permitted callers get 415, others refusals.
        Rule("POST", "/studies", lambda w: f"{ROOT}/studies", UPLOADERS, lambda w: {}),
        Rule("POST", "/studies/<study>", lambda w: study, UPLOADERS, lambda w: {}),
    ]


def test_every_dicomweb_route_has_a_rule(
    app: Flask,
    client: FlaskClient,
    world: World,
    probe: Probe,
) -> None:
    series, sop = _first_instance(app, client, world, probe.study_uid)
    covered = {(r.method, r.template) for r in rules(probe, series, sop)}
    routes = {
        (method, rule.rule.removeprefix(ROOT))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(ROOT + "/") and not rule.rule.startswith(ROOT + "/links/")
        for method in rule.methods or ()
        if method in ("GET", "POST", "PUT", "DELETE", "PATCH")
    }
    # The OpenAPI document is public, as the JSON API's is.
    assert routes - covered == {("GET", "/openapi.json")}


def test_dicomweb_refusals_hold_and_are_audited(
    app: Flask,
    client: FlaskClient,
    world: World,
    probe: Probe,
) -> None:
    series, sop = _first_instance(app, client, world, probe.study_uid)
    assert run_matrix(app, client, world, rules(probe, series, sop)) == []


def test_search_leaves_out_what_is_out_of_scope(
    app: Flask, client: FlaskClient, world: World
) -> None:
    pid = "DWSCOPE" + generate_uid()[-6:]
    study = ingest(app, world.facility_a, pid, images=1)
    for who, seen in (("hw_a", 1), ("hw_b", 0), ("command_y", 0), ("national", 1)):
        resp = client.get(f"{ROOT}/studies?PatientID={pid}", headers=world[who].headers)
        assert resp.status_code == 200
        assert len(resp.get_json()) == seen, who
    resp = client.get(f"{ROOT}/studies/{study.study_uid}/series", headers=world["hw_b"].headers)
    assert resp.status_code == 404
    assert client.get(f"{ROOT}/studies").status_code == 401


def test_an_image_link_reaches_exactly_its_study(
    app: Flask, client: FlaskClient, world: World
) -> None:
    pid = "DWLINK" + generate_uid()[-6:]
    shared = ingest(app, world.facility_a, pid, images=2)
    other = ingest(app, world.facility_a, pid, images=1)
    made = client.post(
        f"/api/v1/studies/{shared.study_uid}/links",
        json={"ttl_hours": 1},
        headers=world["hw_a"].headers,
    )
    assert made.status_code == 201
    token = made.get_json()["url"].rsplit("/", 1)[1]
    root = f"{ROOT}/links/{token}"
    found = client.get(f"{root}/studies").get_json()
    assert [i["0020000D"]["Value"][0] for i in found] == [shared.study_uid]
    assert found[0]["00081190"]["Value"][0].endswith(f"{root}/studies/{shared.study_uid}")
    assert client.get(f"{root}/studies?PatientID={pid}").get_json() == found
    whole = client.get(f"{root}/studies/{shared.study_uid}")
    assert whole.status_code == 200
    mark = re.search(r"boundary=([^;]+)", whole.content_type)
    assert mark is not None and whole.get_data().count(b"--" + mark.group(1).encode()) == 3
    series, sop = _first_instance(app, client, world, shared.study_uid)
    instance = f"{root}/studies/{shared.study_uid}/series/{series}/instances/{sop}"
    assert client.get(f"{instance}/frames/1").status_code == 200
    assert client.get(f"{instance}/rendered").status_code == 200
    meta = client.get(f"{instance}/metadata").get_json()
    assert meta[0]["00080018"]["Value"] == [sop]
    # The metadata's bulk data URIs stay under the link, and answer there.
    pixels = meta[0]["7FE00010"]["BulkDataURI"]
    assert pixels.endswith(
        f"{root}/studies/{shared.study_uid}/series/{series}/instances/{sop}/bulkdata/7FE00010"
    )
    assert client.get(urlsplit(pixels).path).status_code == 200
    # Any other study, even of the same patient and facility, is not there.
    for path in ("", "/series", "/instances", "/metadata"):
        assert client.get(f"{root}/studies/{other.study_uid}{path}").status_code == 404, path
    # A link reads; it never stores.
    assert client.post(f"{root}/studies", data=b"x").status_code == 405
    # A forged token, and a revoked link, reach nothing.
    assert client.get(f"{ROOT}/links/{token[:-4]}AAAA/studies").status_code == 404
    link_id = made.get_json()["id"]
    revoked = client.post(
        f"/api/v1/studies/{shared.study_uid}/links/{link_id}/revoke", headers=world["hw_a"].headers
    )
    assert revoked.status_code == 200
    assert client.get(f"{root}/studies").status_code == 404
    assert client.get(f"{root}/studies/{shared.study_uid}").status_code == 404
