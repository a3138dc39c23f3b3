"""The whole /api/v1 fuzzed from its own OpenAPI document, as several personas, on each backend.

Every persona gets ``HUB_FUZZ_EXAMPLES`` generated requests per operation (default 8),
positive and negative, with a fixed seed; the national administrator also gets the coverage
phase (each field's boundaries, missing and wrong-typed values, methods the path lacks). A 5xx
or an answer the document does not declare fails the test. The fuzzer writes what it likes, so
it runs on a database of its own. ``tests/benchmarks/fuzz_api.py`` runs the same tests deeper.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.specs.openapi.schemas import OpenApiSchema

from hub import db
from tests.support import fuzzing
from tests.support.apps import make_app
from tests.support.databases import temporary_database
from tests.support.personas import World, build_world

pytestmark = pytest.mark.slow
# Deterministic and bounded by the phase's config; no deadline on a shared CI machine.
FUZZ_SETTINGS = settings(
    deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)


def _backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest.fixture(scope="module")
def fuzz_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app on a database of its own (same backend as the run): what the fuzzer creates
    never meets another test's data."""
    with temporary_database(_backend(database_url), tmp_path_factory.mktemp("fuzzdb")) as url:
        yield make_app(url, tmp_path_factory.mktemp("fuzzdata"))


@pytest.fixture(scope="module")
def fuzz_world(fuzz_app: Flask) -> World:
    sess = db.get_db(fuzz_app).new_session()
    try:
        with fuzz_app.app_context():
            return build_world(fuzz_app, sess)
    finally:
        sess.close()


@pytest.fixture(scope="module")
def fuzzing_schema(fuzz_app: Flask) -> OpenApiSchema:
    return fuzzing.load(fuzz_app, "fuzzing")


@pytest.fixture(scope="module")
def coverage_schema(fuzz_app: Flask) -> OpenApiSchema:
    return fuzzing.load(fuzz_app, "coverage")


@pytest.fixture(params=fuzzing.PERSONAS)
def persona(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=fuzzing.COVERAGE_PERSONAS)
def coverage_persona(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _node_id_alias(request: pytest.FixtureRequest) -> None:
    # schemathesis' fixture-loaded tests read ``item._nodeid``, which pytest 9.2 no longer
    # keeps (it holds a structured id); the alias only names the per-operation subtests.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _call(case: Case, world: World, persona: str, database_url: str) -> None:
    backend = _backend(database_url)
    fuzzing.CASES[backend] += 1
    try:
        case.call_and_validate(headers=world[persona].headers, checks=fuzzing.CHECKS)
    except BaseException:
        fuzzing.FAILURES[backend] += 1
        raise


# The personas are declared on the outer tests too: schemathesis' wrapper asks for the test's
# fixtures by name, and a parametrized fixture must be known to pytest at collection.
@pytest.mark.usefixtures("persona")
@schemathesis.pytest.from_fixture("fuzzing_schema").parametrize()
@FUZZ_SETTINGS
def test_api_conforms_to_its_document(
    case: Case, persona: str, fuzz_world: World, database_url: str
) -> None:
    _call(case, fuzz_world, persona, database_url)


@pytest.mark.usefixtures("coverage_persona")
@schemathesis.pytest.from_fixture("coverage_schema").parametrize()
@FUZZ_SETTINGS
def test_api_boundaries_conform_to_its_document(
    case: Case, coverage_persona: str, fuzz_world: World, database_url: str
) -> None:
    _call(case, fuzz_world, coverage_persona, database_url)


def test_fuzz_summary(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Says how many cases ran on this backend, shown without ``-s``."""
    backend = _backend(database_url)
    line = (
        f"api fuzz [{backend}]: {fuzzing.CASES[backend]} cases, "
        f"{fuzzing.FAILURES[backend]} failing ({fuzzing.EXAMPLES} examples per operation "
        f"and persona; coverage phase as {', '.join(fuzzing.COVERAGE_PERSONAS) or 'nobody'})"
    )
    with capsys.disabled():
        print(f"\n{line}")
    # Ran alone (-k), the summary has nothing to count; after the fuzz tests, at least one
    # case per operation and persona.
    if fuzzing.CASES[backend]:
        assert fuzzing.CASES[backend] >= len(fuzzing.PERSONAS) * 70
