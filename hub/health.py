"""/healthz (process up), /readyz (database and broker reachable), /metrics (Prometheus)."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text

from hub import db

bp = Blueprint("health", __name__)

REQUESTS = Counter("hub_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram("hub_http_request_seconds", "HTTP request latency", ["endpoint"])


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


def _check_database() -> str | None:
    try:
        with db.get_db().engine.connect() as conn:  # type: ignore[union-attr]
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return type(exc).__name__
    return None


def _check_broker() -> str | None:
    celery = current_app.extensions.get("celery")
    if celery is None:
        return "no celery app"
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return type(exc).__name__
    return None


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks = {"database": _check_database(), "broker": _check_broker()}
    ok = all(v is None for v in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": {k: "ok" if v is None else f"failed: {v}" for k, v in checks.items()},
    }
    return jsonify(body), 200 if ok else 503


@bp.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(resp: Response) -> Response:
        endpoint = request.endpoint or "unknown"
        REQUESTS.labels(request.method, endpoint, str(resp.status_code)).inc()
        if "started" in g:
            LATENCY.labels(endpoint).observe(time.perf_counter() - g.started)
        return resp
