# Two targets a newcomer needs: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench,load,containers]'
	touch $@

demo: setup
	$(BIN)/streamlab demo

test: setup
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .streamlab .pytest_cache
