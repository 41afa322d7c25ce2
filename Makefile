# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
UV = $(PYTHON) -m uv
SM8 = .venv-sm8/bin/snakemake

.PHONY: setup demo lint test test-fast sm8 bench clean

setup:  ## the development environment: every package, editable, from the lock file
	$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --locked

$(SM8):  ## Snakemake 8 in its own environment, for the --log-handler-script tests
	$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) venv --quiet --allow-existing .venv-sm8 --python $(PYTHON)
	$(UV) pip install --quiet --python .venv-sm8/bin/python -r tests/snakemake/requirements-sm8.txt -e core -e plugins/snakemake

sm8: $(SM8)

demo: setup  ## Snakemake, then redun, then a tracked script, into a fresh ledger: lineage, verify, the page
	$(UV) run --locked python -m flowledger.demo

lint: setup  ## ruff (lint and format) on everything, mypy on the core and its plugin API
	$(UV) run --locked ruff check .
	$(UV) run --locked ruff format --check .
	$(UV) run --locked mypy

test: setup sm8 lint  ## lint, then the whole test suite, end-to-end tests included
	$(UV) run --locked pytest

test-fast: setup lint  ## without the slow end-to-end tests
	$(UV) run --locked pytest -m "not slow"

bench: setup
	$(UV) run --locked python bench/core_record.py

clean:
	rm -rf .venv .venv-sm8 .pytest_cache
