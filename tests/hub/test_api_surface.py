"""OpenAPI document, docs page, health and metrics endpoints, and error format."""

from __future__ import annotations

from flask.testing import FlaskClient
from openapi_spec_validator import validate

from hub.api.core import OPERATIONS
from hub.api.pagination import PageQuery


def test_openapi_is_valid_and_lists_every_operation(client: FlaskClient) -> None:
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    validate(spec)
    for op in OPERATIONS:
        assert op.method in spec["paths"][op.path], f"{op.method} {op.path} missing"
    create = spec["paths"]["/api/v1/patients"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.endswith("/PatientIn")
    assert "national_id" in spec["components"]["schemas"]["PatientIn"]["properties"]


def test_openapi_documents_the_cursor_convention(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "next_cursor" in spec["info"]["description"]
    paged = [op for op in OPERATIONS if op.query is not None and issubclass(op.query, PageQuery)]
    assert {"/api/v1/patients", "/api/v1/consults", "/api/v1/claims"} <= {op.path for op in paged}
    schemas = spec["components"]["schemas"]
    for op in paged:
        operation = spec["paths"][op.path][op.method]
        params = {p["name"]: p for p in operation["parameters"]}
        assert params["cursor"]["description"] and params["cursor"]["schema"]
        assert params["limit"]["description"]
        assert params["limit"]["schema"]["maximum"] == 200
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        fields = schemas[ref.rsplit("/", 1)[1]]["properties"]
        assert fields["next_cursor"]["description"], op.path
    # Responses are documented as written: the field names, not the row attributes read.
    assert "home_facility" in schemas["PatientOut"]["properties"]
    assert "join_url" in schemas["SessionOut"]["properties"]
    # The insurer export keeps its own cursor contract (X-Next-Cursor), not the list paging.
    pull = spec["paths"]["/api/v1/insurer/claims"]["get"]
    assert "X-Next-Cursor" in {p["name"]: p for p in pull["parameters"]}["cursor"]["description"]


def test_docs_page_lists_paths(client: FlaskClient) -> None:
    resp = client.get("/api/v1/docs")
    assert resp.status_code == 200
    assert "/api/v1/patients/{patient_id}" in resp.get_data(as_text=True)


def test_health_endpoints(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "broker": "ok"}
    client.get("/healthz")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'hub_http_requests_total{endpoint="health.healthz",method="GET",status="200"}' in metrics


def test_unknown_api_route_is_json_404(client: FlaskClient) -> None:
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


def test_wrong_method_is_json_405(client: FlaskClient) -> None:
    resp = client.delete("/api/v1/me")
    assert resp.status_code == 405
    assert set(resp.get_json()["error"]) == {"code", "message", "details"}


def test_request_id_is_echoed(client: FlaskClient) -> None:
    resp = client.get("/healthz", headers={"X-Request-ID": "abcdef123456"})
    assert resp.headers["X-Request-ID"] == "abcdef123456"
    forged = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert forged.headers["X-Request-ID"] != "<script>"
