"""The OpenAPI document of /dicomweb (``GET /dicomweb/openapi.json``), built from the routes
the blueprint registered, so it lists exactly what answers. DICOMweb's bodies are PS3.18's
(DICOM JSON, multipart/related), not the JSON API's schemas: each operation names its media
types and the standard's section, and the API documentation page shows it beside the JSON API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydicom.datadict import keyword_for_tag

from imaging.dicomweb import dicomjson as dj
from imaging.dicomweb import wado
from imaging.dicomweb.qido import MAX_LIMIT

_VARIABLE = re.compile(r"<(?:\w+:)?(\w+)>")
_UIDS = {
    "study": "Study Instance UID",
    "series": "Series Instance UID",
    "sop": "SOP Instance UID",
    "token": "An image link's token: the link's one study, without an account",
    "frame_list": "Frame numbers from 1, comma-separated (e.g. 1,3)",
    "trail": "The BulkDataURI path of the metadata (tag, or tag/item/tag for a sequence)",
}
_MULTIPART = "multipart/related"
_JSON = "application/dicom+json"
_ERRORS = {
    "400": "A malformed query (the problem is named)",
    "401": "No credentials (a bearer token, a session, or an image link)",
    "404": "Not found, or outside the caller's scope (never told apart)",
    "406": "None of the accepted media types can be given",
}


@dataclass(frozen=True)
class Documented:
    rule: str
    method: str
    name: str
    summary: str


ROUTES: list[Documented] = []


def record(rule: str, method: str, name: str) -> None:
    """Document a route; its summary is its function's name in words ("search studies")."""
    words = name.removeprefix("link_").replace("_", " ")
    suffix = " through an image link" if name.startswith("link_") else ""
    ROUTES.append(Documented(rule, method, name, words[:1].upper() + words[1:] + suffix))


def _kind(route: Documented) -> str:
    if route.method == "POST":
        return "store"
    for suffix, kind in (("/metadata", "metadata"), ("/rendered", "rendered")):
        if route.rule.endswith(suffix):
            return kind
    if "/frames/" in route.rule:
        return "frames"
    if "/bulkdata/" in route.rule:
        return "bulkdata"
    return "search" if route.name.startswith("search_") else "retrieve"


def _matching(level: dj.Level) -> str:
    names = sorted(keyword_for_tag(int(t, 16)) or t for t in level.matching)
    return ", ".join(n for n in names if n)


_LEVELS = {"studies": dj.STUDY, "series": dj.SERIES, "instances": dj.INSTANCE}


def _search_parameters(rule: str) -> list[dict[str, Any]]:
    level = _LEVELS[rule.rstrip("/").rsplit("/", 1)[-1]]
    return [
        {
            "name": "includefield",
            "in": "query",
            "description": "Attributes to add (keyword or tag, comma-separated), or `all`.",
            "schema": {"type": "string"},
        },
        {
            "name": "limit",
            "in": "query",
            "description": f"Most results (1-{MAX_LIMIT}).",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        },
        {
            "name": "offset",
            "in": "query",
            "description": "Results to skip.",
            "schema": {"type": "integer", "minimum": 0},
        },
        {
            "name": "fuzzymatching",
            "in": "query",
            "schema": {"type": "string", "enum": ["true", "false"]},
        },
        {
            "name": "match",
            "in": "query",
            "description": (
                "Attribute matching (PS3.18 8.3.4): `Keyword=value` or `ggggeeee=value`, "
                "with `*`/`?` wildcards, date ranges `from-to` and UID lists. Matched here: "
                + _matching(level)
                + "."
            ),
            "style": "form",
            "explode": True,
            "schema": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    ]


_ACCEPT = {
    "retrieve": f'{_MULTIPART}; type="{wado.DICOM}"; transfer-syntax=*',
    "frames": (
        f'{_MULTIPART}; type="{wado.OCTET}"; transfer-syntax=* (as stored), or a lossless '
        'type the frames are sent as when stored uncompressed: type="image/jls" '
        '(JPEG-LS lossless) or type="image/dicom-rle"'
    ),
    "bulkdata": f'{_MULTIPART}; type="{wado.OCTET}"',
    "rendered": "image/png or image/jpeg",
}
_RESPONSES = {
    "search": ("Matches as DICOM JSON (PS3.18 10.6)", _JSON),
    "metadata": ("Each instance's attributes as DICOM JSON, pixels as BulkDataURI", _JSON),
    "retrieve": ("The instances, streamed (PS3.18 10.4)", _MULTIPART),
    "frames": ("The frames asked for, in order (PS3.18 10.4.1.1.3)", _MULTIPART),
    "bulkdata": ("The bulk data value (PS3.18 10.4.1.1.4)", _MULTIPART),
    "rendered": ("The frame rendered for a browser (PS3.18 10.4.1.1.5)", "image/png"),
    "store": ("The stored and failed instances (PS3.18 10.5)", _JSON),
}


def _operation(route: Documented) -> dict[str, Any]:
    kind = _kind(route)
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": _UIDS.get(name, name),
            "schema": {"type": "string"},
        }
        for name in _VARIABLE.findall(route.rule)
    ]
    if kind == "search":
        params += _search_parameters(route.rule)
    if kind == "rendered":
        params += [
            {
                "name": "window",
                "in": "query",
                "description": "center,width[,function]",
                "schema": {"type": "string"},
            },
            {
                "name": "accept",
                "in": "query",
                "description": "Stands for the Accept header (PS3.18 8.3.3.1), e.g. image/jpeg.",
                "schema": {"type": "string"},
            },
        ]
    text, media = _RESPONSES[kind]
    ok: dict[str, Any] = {"description": text}
    ok["content"] = {media: {"schema": {}}}
    responses: dict[str, Any] = {"200": ok} | {c: {"description": d} for c, d in _ERRORS.items()}
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "tags": ["DICOMweb: link" if "<token>" in route.rule else f"DICOMweb: {kind}"],
        "parameters": params,
        "responses": responses,
    }
    if kind in _ACCEPT:
        # OpenAPI ignores a header parameter named Accept: the media types are said here.
        operation["description"] = f"Accept: {_ACCEPT[kind]}."
    if kind == "store":
        responses["202"] = {"description": "Some instances stored, the others listed as failed"}
        responses["409"] = {"description": "No instance stored (each failure with its reason)"}
        responses["415"] = {"description": "Not multipart/related of application/dicom"}
        operation["requestBody"] = {
            "required": True,
            "content": {
                f'{_MULTIPART}; type="{wado.DICOM}"': {
                    "schema": {"type": "string", "format": "binary"}
                }
            },
        }
    if "<token>" not in route.rule:
        operation["security"] = [{"bearer": []}, {"session": []}]
    return operation


def build(server_url: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        path = _VARIABLE.sub(r"{\1}", "/dicomweb" + route.rule)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "National telemedicine hub DICOMweb",
            "version": "1",
            "description": (
                "QIDO-RS, WADO-RS and STOW-RS (DICOM PS3.18) over the hub's study index, with "
                "the JSON API's authentication (a bearer token or the session) and its study "
                "visibility; `/dicomweb/links/{token}/...` answers for exactly an image link's "
                "study. Every retrieval and search is audited."
            ),
        },
        "servers": [{"url": server_url}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            }
        },
        "paths": dict(sorted(paths.items())),
    }
