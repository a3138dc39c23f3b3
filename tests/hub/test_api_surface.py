"""OpenAPI document, docs page, health and metrics endpoints, and error format."""

from __future__ import annotations

from flask.testing import FlaskClient
from openapi_spec_validator import validate

from hub.api.core import OPERATIONS


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
