"""The core's JSON API under /api/v1 (identity, patients, consents) and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from hub.api import me, patients
from hub.api.core import API_PREFIX, OPERATIONS
from hub.api.openapi import build_spec

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)
me.register(bp)
patients.register(bp)

docs_bp = Blueprint("api_docs", __name__, url_prefix=API_PREFIX)


@docs_bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    return jsonify(build_spec(request.host_url.rstrip("/") + "/"))


@docs_bp.get("/docs")
def docs() -> ResponseReturnValue:
    return render_template(
        "api_docs.html", operations=sorted(OPERATIONS, key=lambda o: (o.tag, o.path, o.method))
    )


def init_app(app: Flask) -> None:
    csrf = app.extensions["csrf"]
    # API writes are authorised by bearer tokens, or by the X-CSRFToken header for a session
    # (checked in hub.auth.current), so the form-based CSRF check stays off here.
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(docs_bp)
