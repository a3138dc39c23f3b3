"""OpenAPI 3 document generated from the registered operations and their pydantic schemas."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from hub.api.core import OPERATIONS, Operation
from hub.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageQuery
from hub.limits import ID_MAX, INT_MAX
from hub.permissions import SCOPES

_REF = "#/components/schemas/{model}"
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}


PAGING = (
    f"Lists page one way: send `limit` (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}) and, for "
    "the next page, the `next_cursor` of the previous answer as `cursor`; `next_cursor` is "
    "null on the last page. A cursor is opaque: a malformed one, or one no list issued, answers "
    "400 `bad_cursor`. The insurer export (`/api/v1/insurer/claims`) keeps its own cursor, "
    "returned in the `X-Next-Cursor` header."
)
NEXT_CURSOR = "Send as `cursor` for the next page (opaque); null on the last page."
# Descriptions of the paging parameters every PageQuery shares.
_PAGE_PARAMS = {
    "cursor": "The next_cursor of the previous page (opaque); omit it for the first page.",
    "limit": f"Most items on the page (1-{MAX_LIMIT}, default {DEFAULT_LIMIT}).",
}


# The URL converters of ids (hub.limits) and the largest number each matches.
_ID_BOUNDS = {"int": ID_MAX, "bigint": INT_MAX}
_RULE_VARIABLE = re.compile(r"<(?:(\w+):)?(\w+)>")


def _add_defs(spec: APISpec, schema: dict[str, Any], seen: set[str]) -> None:
    for name, sub in schema.pop("$defs", {}).items():
        if name not in seen:
            seen.add(name)
            spec.components.schema(name, sub)


def _register(
    spec: APISpec, model: type[BaseModel], seen: set[str], mode: JsonSchemaMode = "validation"
) -> dict[str, str]:
    # Responses are documented as they are written (field names, computed fields), requests as
    # they are read.
    schema = model.model_json_schema(ref_template=_REF, mode=mode)
    _add_defs(spec, schema, seen)
    page = schema.get("properties", {}).get("next_cursor")
    if page is not None and not page.get("description"):
        page["description"] = NEXT_CURSOR  # a list that declared the field without saying how
    if model.__name__ not in seen:
        seen.add(model.__name__)
        spec.components.schema(model.__name__, schema)
    return {"$ref": _REF.format(model=model.__name__)}


def _parameters(op: Operation, seen: set[str], spec: APISpec) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    # A variable may share its path segment with a suffix ("<int:version>.pdf").
    for converter, name in _RULE_VARIABLE.findall(op.rule):
        kind: dict[str, Any] = {"type": "string"}
        if converter in _ID_BOUNDS:
            # What the URL converter matches: a larger number is no route (404).
            kind = {"type": "integer", "minimum": 0, "maximum": _ID_BOUNDS[converter]}
        params.append({"name": name, "in": "path", "required": True, "schema": kind})
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=_REF)
        _add_defs(spec, schema, seen)
        paged = issubclass(op.query, PageQuery)
        for attr, field in op.query.model_fields.items():
            name = field.alias or attr  # the parameter's name in the URL (e.g. "from")
            prop = {k: v for k, v in schema["properties"][name].items() if k != "title"}
            description = field.description or ""
            if paged and name in _PAGE_PARAMS:
                description = _PAGE_PARAMS[name]
            prop.pop("description", None)
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": field.is_required(),
                    "description": description,
                    "schema": prop,
                }
            )
    return params


def build_spec(server_url: str = "/") -> dict[str, Any]:
    spec = APISpec(
        title="National telemedicine hub API",
        version="1",
        openapi_version="3.1.0",
        info={
            "description": "JSON API of the hub. Authenticate with a bearer token: a personal "
            "token (`hub token create`) or an OAuth2 token from /oauth/token.\n\n" + PAGING
        },
        servers=[{"url": server_url}],
    )
    spec.components.schema("Error", ERROR_SCHEMA)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme(
        "oauth2",
        {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": SCOPES},
                "authorizationCode": {
                    "authorizationUrl": "/oauth/authorize",
                    "tokenUrl": "/oauth/token",
                    "scopes": SCOPES,
                },
            },
        },
    )
    seen: set[str] = set()
    by_path: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {}
        if op.response is not None:
            responses[str(op.status)] = {
                "description": "Success",
                "content": {
                    "application/json": {
                        "schema": _register(spec, op.response, seen, "serialization")
                    }
                },
            }
        else:
            responses[str(op.status)] = {"description": "Success"}
        for code in op.errors:
            responses[str(code)] = {
                "description": "Error",
                "content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}},
            }
        operation: dict[str, Any] = {
            "operationId": op.endpoint.replace(".", "_"),
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _parameters(op, seen, spec),
            "responses": responses,
            "security": [{"bearer": []}, {"oauth2": [op.scope] if op.scope else []}],
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _register(spec, op.body, seen)}},
            }
        by_path.setdefault(op.path, {})[op.method] = operation
    for path, operations in sorted(by_path.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()
