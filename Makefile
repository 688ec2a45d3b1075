# sio-chat: every install step lives here, so that a fresh clone needs only `make run` / `make test`.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
NODE_DIR := tests/node
HOST   ?= 127.0.0.1
PORT   ?= 3000

.PHONY: run test test-ours test-node lint typecheck install install-test npm clean bench-codecs

run: $(VENV)/.installed
	$(VENV)/bin/sio-chat server --host $(HOST) --port $(PORT)

# Everything: lint, types, our suite against our server, the conformance suite against Node.
test: $(VENV)/.installed-test $(NODE_DIR)/node_modules/.installed lint typecheck test-ours test-node

test-ours: $(VENV)/.installed-test $(NODE_DIR)/node_modules/.installed
	$(PY) -m pytest -q tests

# The same conformance suite against the official Node servers: a test that fails here is wrong.
test-node: $(VENV)/.installed-test $(NODE_DIR)/node_modules/.installed
	$(PY) -m pytest -q tests/protocol/wire --target node

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check eio sio cluster cli tests
	$(VENV)/bin/ruff format --check eio sio cluster cli tests

typecheck: $(VENV)/.installed-test
	$(VENV)/bin/mypy

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e '.[test]'
	touch $@ $(VENV)/.installed

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
npm: $(NODE_DIR)/node_modules/.installed

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules .pytest_cache .mypy_cache .ruff_cache
