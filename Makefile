# Two targets a newcomer needs: `make demo` and `make test` (see README.md); `make lint` is what CI
# and the pre-commit hook check before the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

LINT_PATHS := src tests handlers loadtests benchmarks

.PHONY: setup demo test lint clients clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench,load,containers,dev]'
	touch $@

# The real IaC clients of tests/integration/test_iac_clients.py: aws-sam-cli, awscli and aws-cdk-lib in
# their own virtualenv (their pins fight the project's), the npm aws-cdk CLI in tests/clients/node_modules.
# uv (a project dependency) installs the virtualenv: seconds where pip takes two minutes.
CLIENTS_VENV := .venv-clients

clients: $(CLIENTS_VENV)/.installed tests/clients/node_modules/.installed

$(CLIENTS_VENV)/.installed: tests/clients/requirements.txt $(VENV)/.installed
	$(BIN)/uv venv --quiet --allow-existing --python $(PYTHON) $(CLIENTS_VENV)
	$(BIN)/uv pip install --quiet --python $(CLIENTS_VENV)/bin/python -r tests/clients/requirements.txt
	touch $@

tests/clients/node_modules/.installed: tests/clients/package.json tests/clients/package-lock.json
	npm ci --prefix tests/clients --no-audit --no-fund --silent
	touch $@

demo: setup
	$(BIN)/streamlab demo

test: setup clients
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(CLIENTS_VENV) tests/clients/node_modules .streamlab .pytest_cache
