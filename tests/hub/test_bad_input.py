"""Malformed input is a 4xx with the usual error body on every API route, never a 500: JSON
nested without end, integers no column holds (in paths, queries and bodies), lone surrogates."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from hub.api.core import OPERATIONS, Operation
from hub.errors import ValidationFailed
from hub.limits import MAX_DEPTH, check_values, json_depth_exceeds
from tests.support.personas import World

PERSONAS = ("national", "hw_a", "specialist", "admin_a", "command_x", "insurer_a")
_PARAM = re.compile(r"\{(\w+)\}")


def _path(op: Operation, value: object = 1) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return "1.2.840.99999.1" if name.endswith("uid") else str(value)

    return _PARAM.sub(fill, op.path)


def _send(
    client: FlaskClient, op: Operation, persona: str, world: World, **kw: Any
) -> TestResponse:
    return client.open(
        _path(op, kw.pop("value", 1)),
        method=op.method.upper(),
        headers=world[persona].headers,
        **kw,
    )


def _writes() -> list[Operation]:
    return [op for op in OPERATIONS if op.body is not None]


def _error_code(resp: TestResponse) -> str | None:
    body = resp.get_json(silent=True) or {}
    return (body.get("error") or {}).get("code")


def test_the_depth_check_reads_json_without_parsing_it() -> None:
    assert not json_depth_exceeds(b'{"a": [[[1]]]}', limit=4)
    assert json_depth_exceeds(b'{"a": [[[[1]]]]}', limit=4)
    # Brackets inside strings, escaped quotes included, are text, not nesting.
    assert not json_depth_exceeds(b'{"a": "[[[[[[\\"[[[[[["}', limit=2)
    assert json_depth_exceeds(b"[" * 100_000 + b"]" * 100_000)


def test_values_no_column_can_hold_are_named() -> None:
    check_values({"a": [1, 2**63 - 1, -(2**63)], "b": "text", "c": True})
    for bad, field in (({"a": [0, 2**63]}, "a.1"), ({"x": {"y": "\ud800"}}, "x.y")):
        with pytest.raises(ValidationFailed) as refused:
            check_values(bad)
        assert refused.value.status == 422
        assert refused.value.details[0]["field"] == field


def test_deeply_nested_json_is_refused_on_every_write_route(
    client: FlaskClient, world: World
) -> None:
    deep = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    reached = []
    for op in _writes():
        for persona in PERSONAS:
            resp = _send(client, op, persona, world, data=deep, content_type="application/json")
            assert resp.status_code < 500, (op.method, op.path, persona, resp.status_code)
            assert _error_code(resp) is not None, (op.method, op.path, resp.get_data()[:200])
            if _error_code(resp) == "json_too_deep":
                assert resp.status_code == 400
                reached.append(op.path)
                break
    # Every write route has a persona whose scope lets the request reach the body parser.
    assert sorted(reached) == sorted(op.path for op in _writes())
    # Nesting within the bound is parsed as before (and refused by the schema, not the bound).
    within = b'{"a": ' + b"[" * (MAX_DEPTH - 2) + b"]" * (MAX_DEPTH - 2) + b"}"
    resp = client.post(
        "/api/v1/patients",
        data=within,
        content_type="application/json",
        headers=world["hw_a"].headers,
    )
    assert resp.status_code == 422 and _error_code(resp) == "validation_failed"


def test_huge_integers_and_lone_surrogates_in_bodies_are_422(
    client: FlaskClient, world: World
) -> None:
    for op in _writes():
        for payload, problem in (
            ('{"id": 1180591620717411303424}', "integer out of range"),
            ('{"name": "\\ud800"}', "lone surrogate"),
        ):
            statuses = []
            for persona in PERSONAS:
                resp = _send(
                    client, op, persona, world, data=payload, content_type="application/json"
                )
                assert resp.status_code < 500, (op.method, op.path, persona, resp.status_code)
                statuses.append(resp.status_code)
                if resp.status_code == 422:
                    details = resp.get_json()["error"]["details"]
                    assert problem in details[0]["problem"], (op.path, details)
                    break
            assert 422 in statuses, (op.method, op.path, statuses)


def test_ids_beyond_a_64_bit_column_match_no_route(client: FlaskClient, world: World) -> None:
    with_ids = [op for op in OPERATIONS if "<int:" in op.rule]
    assert with_ids
    for op in with_ids:
        for value in (2**63, 2**70):
            resp = _send(client, op, "national", world, value=value, json={})
            # 405 where another route of that shape answers other methods.
            assert resp.status_code in (404, 405), (op.method, op.path, value, resp.status_code)
            assert _error_code(resp) is not None


def test_huge_integers_in_queries_are_422_not_500(client: FlaskClient, world: World) -> None:
    for op in OPERATIONS:
        if op.query is None or op.method != "get":
            continue
        ints = [
            name
            for name, info in op.query.model_fields.items()
            if info.annotation in (int, int | None)
        ]
        for name in ints:
            resp = client.get(
                _path(op), query_string={name: str(2**70)}, headers=world["national"].headers
            )
            assert 400 <= resp.status_code < 500, (op.path, name, resp.status_code)
