"""Permission matrix: every /api/v1 operation, who may call it, and proof that others are refused
(403, or 404 where existence is private) with the refusal written to the audit log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.api.core import OPERATIONS
from hub.models import AuditEvent
from tests.support.personas import World

PathFn = Callable[[World], str]
BodyFn = Callable[[World], dict[str, Any] | None]


@dataclass(frozen=True)
class Rule:
    method: str
    template: str  # OpenAPI path, e.g. /api/v1/patients/{patient_id}
    path: PathFn
    allowed: frozenset[str]
    body: BodyFn = lambda w: None
    # Personas whose answer is not a refusal but a specific status (e.g. 422 for a patient
    # they cannot see, where saying "forbidden" would reveal that the patient exists).
    expect: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Outcome:
    rule: Rule
    persona: str
    status: int
    audited: bool


def uncovered_operations(rules: Iterable[Rule]) -> list[str]:
    covered = {(r.method.lower(), r.template) for r in rules}
    return sorted(
        f"{op.method.upper()} {op.path}" for op in OPERATIONS if (op.method, op.path) not in covered
    )


def _denial_audited(app: Flask, request_id: str) -> bool:
    with app.app_context(), db.transaction() as sess:
        return (
            sess.scalar(
                select(AuditEvent.id).where(
                    AuditEvent.request_id == request_id, AuditEvent.outcome == "denied"
                )
            )
            is not None
        )


def run_matrix(app: Flask, client: FlaskClient, world: World, rules: Iterable[Rule]) -> list[str]:
    """Call every rule as every persona; return a list of violations (empty when all hold)."""
    problems: list[str] = []
    for rule in rules:
        for name, persona in world.personas.items():
            path = rule.path(world)
            body = rule.body(world)
            resp = client.open(
                path,
                method=rule.method,
                headers=persona.headers,
                json=body if body is not None else None,
            )
            where = f"{rule.method} {path} as {name}"
            expected = dict(rule.expect).get(name)
            if resp.status_code >= 500:
                problems.append(f"{where}: server error {resp.status_code}")
            elif expected is not None:
                if resp.status_code != expected:
                    problems.append(f"{where}: expected {expected}, got {resp.status_code}")
            elif name in rule.allowed:
                if resp.status_code in (401, 403, 404):
                    problems.append(f"{where}: allowed persona refused ({resp.status_code})")
            elif resp.status_code not in (403, 404):
                problems.append(f"{where}: expected refusal, got {resp.status_code}")
            elif not _denial_audited(app, resp.headers["X-Request-ID"]):
                problems.append(f"{where}: refusal {resp.status_code} was not audited")
    return problems
