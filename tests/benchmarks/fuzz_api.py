"""A deeper fuzzing run of /api/v1: the suite's schemathesis test with more examples.

    .venv/bin/python tests/benchmarks/fuzz_api.py                    # 100 examples, both backends
    .venv/bin/python tests/benchmarks/fuzz_api.py --examples 300 --backend postgresql
    .venv/bin/python tests/benchmarks/fuzz_api.py --seed 7 --coverage-personas national

It runs ``tests/hub/test_api_fuzz.py`` with ``HUB_FUZZ_EXAMPLES`` generated requests per
operation and persona (the suite uses 8) and, by default, the coverage phase as every persona
(the suite: the national administrator only). Each backend ends with a line
``api fuzz [BACKEND]: N cases, F failing (...)``; every failure is printed with a command that
reproduces it. Exit status: pytest's (0 when nothing failed). Needs the PostgreSQL server of the
test suite for the postgresql backend (``HUB_TEST_PG_DSN``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST = ROOT / "tests" / "hub" / "test_api_fuzz.py"
PERSONAS = "national,admin_a,hw_a,specialist,insurer_a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--examples", type=int, default=100, help="per operation and persona")
    parser.add_argument("--seed", type=int, default=20270321)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--coverage-personas", default=PERSONAS, help="comma-separated; '' for none"
    )
    args = parser.parse_args(argv)
    # Read by tests/support/fuzzing.py when the test module is imported, so set first.
    os.environ["HUB_FUZZ_EXAMPLES"] = str(args.examples)
    os.environ["HUB_FUZZ_SEED"] = str(args.seed)
    os.environ["HUB_FUZZ_COVERAGE_PERSONAS"] = args.coverage_personas
    pytest_args = ["-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT), str(TEST)]
    if args.backend != "both":
        pytest_args += ["-k", args.backend]
    return int(pytest.main(pytest_args))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
