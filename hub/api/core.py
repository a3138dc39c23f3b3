"""The ``/api/v1`` route decorator: authentication, scope check, input parsing, one transaction
per request, JSON output; and the registry the OpenAPI document is generated from."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError

from hub import db, limits
from hub.auth.current import api_principal
from hub.errors import BadRequest, ValidationFailed
from hub.permissions import require

API_PREFIX = "/api/v1"
# The one blueprint of the JSON API. Every package's ``api.py`` adds its routes to it at import
# (through ``api_route``); ``hub.api.init_app`` registers it once every package has, and
# exempts it from the form CSRF check in that one place.
bp = Blueprint("api", __name__, url_prefix=API_PREFIX)


@dataclass(frozen=True)
class Operation:
    path: str  # OpenAPI form, e.g. /api/v1/patients/{patient_id}
    rule: str  # Werkzeug form
    method: str
    endpoint: str
    summary: str
    scope: str | None
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    errors: tuple[int, ...]


OPERATIONS: list[Operation] = []
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _openapi_path(rule: str) -> str:
    return _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule)


def _validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(p) for p in err["loc"]) or None,
            "problem": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]


def parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        raise BadRequest(
            "Send a JSON body with Content-Type: application/json.", code="unsupported_media_type"
        )
    limits.check_json_text(request.get_data(cache=True))
    payload = request.get_json(silent=True)
    if payload is None:
        raise BadRequest("The body is not valid JSON.", code="malformed_json")
    if not isinstance(payload, dict):
        raise ValidationFailed("The body must be a JSON object.")
    limits.check_values(payload)
    try:
        # Strictly typed, as the document declares: no false read as 0, no "5" as 5, no 1.5 as
        # a time in 1970. JSON's own forms stay (text for enums, dates and times).
        return model.model_validate_json(request.get_data(cache=True), strict=True)
    except ValidationError as exc:
        raise ValidationFailed(
            "The request has invalid fields.", details=_validation_details(exc)
        ) from None


def parse_query(model: type[BaseModel]) -> BaseModel:
    raw: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        raw[key] = values if len(values) > 1 else values[0]
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed(
            "The query has invalid parameters.", details=_validation_details(exc)
        ) from None
    limits.check_values(parsed.model_dump(), what="query")
    return parsed


def api_route(
    rule: str,
    method: str = "GET",
    *,
    summary: str,
    scope: str | None,
    tag: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
) -> Callable[..., Any]:
    """Register ``fn(principal, **path_args, body=..., query=...)`` as a JSON API operation.

    The scope is checked here; services check role and object access again.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Response]:
        action = f"api:{fn.__name__}:called"

        @wraps(fn)
        def view(**path_args: Any) -> Response:
            principal = api_principal()
            if scope is not None:
                require(principal, scope, action=action)
            kwargs: dict[str, Any] = dict(path_args)
            if body is not None:
                kwargs["body"] = parse_body(body)
            if query is not None:
                kwargs["query"] = parse_query(query)
            result = fn(principal, **kwargs)
            db.session().commit()
            if result is None:
                return Response(status=204)
            if isinstance(result, Response):
                return result
            out = jsonify(result.model_dump(mode="json"))
            out.status_code = status
            return out

        full_rule = (bp.url_prefix or "") + rule
        bp.add_url_rule(rule, fn.__name__, view, methods=[method])
        OPERATIONS.append(
            Operation(
                path=_openapi_path(full_rule),
                rule=full_rule,
                method=method.lower(),
                endpoint=f"{bp.name}.{fn.__name__}",
                summary=summary,
                scope=scope,
                tag=tag,
                body=body,
                query=query,
                response=response,
                status=status,
                errors=tuple(sorted({400, 401, 403, 422, *errors})),
            )
        )
        return view

    return decorate
