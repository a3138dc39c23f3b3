# The two commands that matter: `make run` (the hub, embedded defaults) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help
.PHONY: help run test install system-deps lint format typecheck migrations-check pytest \
        translations translations-update bench clean vendor

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) translations ## Create .venv and install the hub with its dev tools

NODE_STAMP := frontend/node_modules/.installed

$(NODE_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The OHIF viewer, a test peer of the DICOMweb interop test (not shipped).
OHIF_VERSION := 3.13.2
OHIF_STAMP := var/test-peers/ohif-$(OHIF_VERSION)/.installed

$(OHIF_STAMP): scripts/fetch-ohif
	scripts/fetch-ohif $(OHIF_VERSION) $(dir $(OHIF_STAMP))

vendor: ## Refresh frontend/static/vendor from the pinned npm packages (commit the result)
	scripts/vendor-frontend

translations: $(STAMP) ## Compile the .po catalogues
	@$(BIN)/pybabel compile -d frontend/translations >/dev/null

translations-update: $(STAMP) ## Extract messages and update every catalogue
	$(BIN)/pybabel extract -F babel.cfg -k _l -o frontend/translations/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i frontend/translations/messages.pot -d frontend/translations >/dev/null

run: install ## Run the whole hub (SQLite, embedded broker, demo data) on HUB_HTTP_PORT (5000)
	$(BIN)/hub serve

system-deps: ## Install the Debian packages the tests drive (Chromium, fonts), when missing
	scripts/install-system-deps

lint: $(STAMP) ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check hub consult video imaging referral insurance frontend tests

format: $(STAMP) ## Reformat with ruff
	$(BIN)/ruff format hub consult video imaging referral insurance frontend tests

typecheck: $(STAMP) ## mypy
	$(BIN)/mypy

migrations-check: $(STAMP) ## Fail unless Alembic has exactly one head
	$(BIN)/hub db heads

pytest: install $(NODE_STAMP) $(OHIF_STAMP) ## The pytest suite only (SQLite and PostgreSQL, Redis, Chromium, axe-core)
	$(BIN)/pytest $(PYTEST_ARGS)

test: install system-deps lint typecheck migrations-check pytest ## Everything CI runs

bench: install ## Benchmarks under tests/benchmarks (see their docstrings)
	@for b in tests/benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## Remove .venv and caches (not var/)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache frontend/node_modules
