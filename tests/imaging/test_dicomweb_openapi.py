"""The DICOMweb OpenAPI document: valid, public, and listing every /dicomweb route."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

ROOT = "/dicomweb"


def test_the_document_is_valid_and_lists_every_route(app: Flask, client: FlaskClient) -> None:
    resp = client.get(f"{ROOT}/openapi.json")  # no credentials: the document is public
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    spec = resp.get_json()
    validate(spec)
    documented = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
    }
    routes = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(ROOT + "/") and rule.rule != f"{ROOT}/openapi.json"
        for method in rule.methods or ()
        if method in ("GET", "POST")
    }
    assert documented == routes
    frames = spec["paths"][
        f"{ROOT}/studies/{{study}}/series/{{series}}/instances/{{sop}}/frames/{{frame_list}}"
    ]["get"]
    assert "image/jls" in frames["description"]
    search = spec["paths"][f"{ROOT}/studies"]["get"]
    assert search["summary"] == "Search studies"
    match = next(p for p in search["parameters"] if p["name"] == "match")
    assert "PatientID" in match["description"] and "StudyDate" in match["description"]
    stow = spec["paths"][f"{ROOT}/studies"]["post"]
    assert {"200", "202", "409", "415"} <= set(stow["responses"])
    link = spec["paths"][f"{ROOT}/links/{{token}}/studies"]["get"]
    assert "security" not in link  # the token in the path is the credential
