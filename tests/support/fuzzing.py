"""Schema-driven fuzzing of /api/v1: the hub's own OpenAPI document loaded in-process (WSGI),
the checks every response must pass, and a tally of the cases run per backend.

Used by ``tests/hub/test_api_fuzz.py`` (a bounded run) and ``tests/benchmarks/fuzz_api.py``
(the same test with more examples per operation).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import schemathesis
from flask import Flask
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

OPENAPI_PATH = "/api/v1/openapi.json"
# Examples Hypothesis draws per operation and persona in the fuzzing phase; the deeper run sets
# more through the environment (tests/benchmarks/fuzz_api.py).
EXAMPLES = int(os.environ.get("HUB_FUZZ_EXAMPLES", "8"))
SEED = int(os.environ.get("HUB_FUZZ_SEED", "20270321"))
# One of each kind of caller: every role sees a different part of the API through its
# permission checks (the insurer is an OAuth2 machine client).
PERSONAS = ("national", "admin_a", "hw_a", "specialist", "insurer_a")
# Who also gets the coverage phase (about 40 cases per operation: each field's boundaries,
# missing, wrong types, other methods). The national administrator passes every route's scope
# check, so the input reaches the parsing and the services; the deeper run gives it to all.
COVERAGE_PERSONAS = tuple(
    name
    for name in os.environ.get("HUB_FUZZ_COVERAGE_PERSONAS", "national").split(",")
    if name in PERSONAS
)

# What every answer must satisfy: never a 5xx; a status, content type, headers and body the
# document declares; input the document says is invalid refused with a 4xx; no answer without
# credentials; a method the path does not have answered 405.
# positive_data_acceptance is left out on purpose: schema-valid input naming ids the persona
# may not see is rightly a 403/404, not a 2xx.
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
    unsupported_method,
]

# Cases run and failures seen, per backend, for the summary line.
CASES: Counter[str] = Counter()
FAILURES: Counter[str] = Counter()
PHASES: Counter[str] = Counter()


def config(phase: str, examples: int = EXAMPLES, seed: int = SEED) -> SchemathesisConfig:
    """One phase (``fuzzing`` or ``coverage``) with deterministic generation: a fixed seed,
    positive and negative data, no example database."""
    # The document has no examples, and the stateful phase chains operations through links it
    # does not declare: neither would add a case.
    phases = {name: {"enabled": name == phase} for name in ("examples", "coverage", "fuzzing")}
    data: dict[str, Any] = {
        "seed": seed,
        "generation": {
            "mode": "all",
            "max-examples": examples,
            "deterministic": True,
            "database": "none",
        },
        "phases": {**phases, "stateful": {"enabled": False}},
    }
    return SchemathesisConfig.from_dict(data)


def load(app: Flask, phase: str, examples: int = EXAMPLES, seed: int = SEED) -> OpenApiSchema:
    """The hub's OpenAPI document, served by ``app`` itself; requests go to ``app`` in-process."""
    return schemathesis.openapi.from_wsgi(OPENAPI_PATH, app, config=config(phase, examples, seed))
