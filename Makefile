# Two targets a newcomer needs: `make demo` and `make test` (see README.md); `make lint` is what CI
# and the pre-commit hook check before the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

LINT_PATHS := src tests handlers loadtests benchmarks

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench,load,containers,dev]'
	touch $@

demo: setup
	$(BIN)/streamlab demo

test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .streamlab .pytest_cache
