"""Public PKI endpoints at stable URLs: CA certificates, CRLs and the RFC 3161 TSA."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Flask, Response, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, NotFound, UnsupportedMediaType

from hub import db
from hub.config import Settings
from hub.pki import ca, services, tsa
from hub.pki.errors import PkiUnavailable

bp = Blueprint("pki", __name__, url_prefix="/pki")
TSA_MAX_BYTES = 16 * 1024  # a time-stamp request is a few hundred bytes


def _settings() -> Settings:
    settings: Settings = current_app.config["HUB_SETTINGS"]
    return settings


def _authority() -> ca.Authority:
    try:
        return ca.load(_settings().pki)
    except PkiUnavailable:
        raise NotFound("The hub's PKI is not initialised.") from None


def _der(data: bytes, mimetype: str, max_age: int) -> Response:
    resp = Response(data, mimetype=mimetype)
    resp.headers["Cache-Control"] = f"public, max-age={max_age}"
    return resp


@bp.get("/root.crt")
def root_cert() -> ResponseReturnValue:

    return _der(
        _authority().root.public_bytes(serialization.Encoding.DER), "application/pkix-cert", 86400
    )


@bp.get("/issuing.crt")
def issuing_cert() -> ResponseReturnValue:

    return _der(
        _authority().issuing.public_bytes(serialization.Encoding.DER),
        "application/pkix-cert",
        86400,
    )


@bp.get("/root.crl")
def root_crl() -> ResponseReturnValue:
    return _der(_authority().root_crl(), "application/pkix-crl", 3600)


@bp.get("/issuing.crl")
def issuing_crl() -> ResponseReturnValue:
    _authority()
    return _der(services.current_crl(db.session(), _settings()), "application/pkix-crl", 300)


@bp.post("/tsa")
def time_stamp() -> ResponseReturnValue:
    if request.mimetype != "application/timestamp-query":
        raise UnsupportedMediaType("Send an RFC 3161 request as application/timestamp-query.")
    if (request.content_length or 0) > TSA_MAX_BYTES:
        raise BadRequest("The time-stamp request is too large.")
    body = request.get_data(cache=False)[: TSA_MAX_BYTES + 1]
    try:
        reply = tsa.answer(_authority(), body)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return Response(reply, mimetype="application/timestamp-reply")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.extensions["csrf"].exempt(bp)  # machine endpoints; nothing here uses a session
