# Two targets a newcomer needs: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test clients clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench,load,containers]'
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

test: setup
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) $(CLIENTS_VENV) tests/clients/node_modules .streamlab .pytest_cache
