# The two set-up commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PROFILE_ASSETS_HOME ?= $(CURDIR)/.profile_assets

.PHONY: demo test dev lint bench install

$(BIN)/profile-assets: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/profile-assets

# The demo runs in a home of its own, emptied first: no cursor or ledger of another world survives.
demo: install
	PROFILE_ASSETS_HOME=$(PROFILE_ASSETS_HOME)/demo $(BIN)/profile-assets demo

test: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

dev: install
	$(BIN)/profile-assets dev

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
