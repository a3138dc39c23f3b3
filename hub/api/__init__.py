"""The JSON API under /api/v1: the one blueprint every package's ``api.py`` adds its routes to,
the core's own routes (identity, patients, consents) and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from hub.api import me, patients
from hub.api.core import API_PREFIX, OPERATIONS, bp
from hub.api.openapi import build_spec

me.register()
patients.register()

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
    """Register the API blueprint; call it after every package's ``init_app`` has imported its
    ``api`` module, since a blueprint takes no routes once it is registered."""
    csrf = app.extensions["csrf"]
    # API writes are authorised by bearer tokens, or by the X-CSRFToken header for a session
    # (checked in hub.auth.current), so the form-based CSRF check stays off here, and only here.
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(docs_bp)
