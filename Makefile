# socialpulse: `make demo` runs the demo, `make test` runs the tests (each makes its own .venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help demo test unit integration lint docs site boards bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

$(BIN)/socialpulse: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet -e examples/socialpulse-ticks  # the example producer plug-in
	@touch $@

# the demo's own virtualenv: runtime dependencies only (no test, lint or bench tools)
DEMO_VENV ?= .venv-demo

$(DEMO_VENV)/bin/socialpulse: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install --quiet --upgrade pip
	$(DEMO_VENV)/bin/pip install --quiet -e .
	@touch $@

demo: $(DEMO_VENV)/bin/socialpulse  ## install (runtime only, in .venv-demo) and run `socialpulse demo`
	$(DEMO_VENV)/bin/socialpulse demo

lint: $(BIN)/socialpulse  ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy agents streams alerts grafana bench cli

unit: $(BIN)/socialpulse  ## unit tests only (no broker)
	$(BIN)/pytest -q tests --ignore=tests/integration

integration: $(BIN)/socialpulse  ## integration tests only (embedded broker, real processes)
	$(BIN)/pytest -q tests/integration

test: lint site  ## lint, build the docs site, then every test
	$(BIN)/pytest -q -p no:cacheprovider tests

docs: $(BIN)/socialpulse  ## regenerate the generated tables of docs/ (metrics, settings)
	$(BIN)/python -m socialpulse.cli.docs docs

site: $(BIN)/socialpulse  ## build the documentation site from docs/ into site/ (mkdocs, warnings are errors)
	$(BIN)/mkdocs build --strict --quiet

bench: $(BIN)/socialpulse  ## `socialpulse bench`: throughput side by side; writes bench-results/
	$(BIN)/socialpulse bench --out bench-results

boards: $(BIN)/socialpulse  ## regenerate grafana/dashboards/*.json from grafana/boards.py
	$(BIN)/python -m socialpulse.grafana.build grafana/dashboards

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) $(DEMO_VENV) site .pytest_cache .mypy_cache .ruff_cache .hypothesis
