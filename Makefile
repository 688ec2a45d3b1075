# sio-chat: every install step lives here, so that a fresh clone needs only `make run` / `make test`.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
NODE_DIR := tests/node
# The browser the browser interop tests drive (tests/integration/browser): Debian's Chromium.
CHROMIUM ?= /usr/bin/chromium
HOST   ?= 127.0.0.1
PORT   ?= 3000

.PHONY: run test test-ours test-node lint typecheck install install-test npm chromium clean bench-codecs fuzz

run: $(VENV)/.installed
	$(VENV)/bin/sio-chat server --host $(HOST) --port $(PORT)

# Everything: lint, types, our suite against our server, the conformance suite against Node.
test: $(VENV)/.installed-test $(NODE_DIR)/node_modules/.installed chromium lint typecheck test-ours test-node

test-ours: $(VENV)/.installed-test $(NODE_DIR)/node_modules/.installed chromium
	$(PY) -m pytest -q tests

# The same conformance suite against the official Node servers: a test that fails here is wrong.
test-node: $(VENV)/.installed-test $(NODE_DIR)/node_modules/.installed
	$(PY) -m pytest -q tests/protocol/wire --target node

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check reactor eio sio cluster admin cli tests benchmarks
	$(VENV)/bin/ruff format --check reactor eio sio cluster admin cli tests benchmarks

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

# Debian's Chromium, once (apt-get, as root); quiet unless it fails. Where it cannot be installed
# (not root, no apt-get) the browser tests skip and say why; under CI a failed install fails.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the browser tests (apt-get)"; \
	    log=$$(mktemp); \
	    if { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	         apt-get install -y -qq chromium; } >$$log 2>&1; then rm -f $$log; \
	    else cat $$log; rm -f $$log; echo "chromium install failed"; [ -z "$$CI" ] || exit 1; fi; \
	  else \
	    echo "no $(CHROMIUM) and no apt-get as root to install it: the browser tests will skip"; \
	  fi; \
	fi

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
npm: $(NODE_DIR)/node_modules/.installed

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules .pytest_cache .mypy_cache .ruff_cache

# Micro-benchmarks of the codecs and the hot paths (not part of `make test`).
bench-codecs: $(VENV)/.installed
	PYTHONPATH=. $(PY) benchmarks/codecs.py
	PYTHONPATH=. $(PY) benchmarks/echo_path.py
	PYTHONPATH=. $(PY) benchmarks/broadcast_path.py
	PYTHONPATH=. $(PY) benchmarks/connect_path.py

# The decoder property tests (tests/protocol/test_fuzz_decoders.py) with the Hypothesis "fuzz"
# profile: at least FUZZ_TOTAL inputs in all (not part of `make test`, which runs them bounded).
FUZZ_TOTAL ?= 1000000
fuzz: $(VENV)/.installed-test
	PYTHONPATH=. $(PY) benchmarks/fuzz.py --total $(FUZZ_TOTAL)
