# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test lint format requirements clean bench bench-serving bench-drift bench-monitoring \
	bench-loop soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

$(BENCH_STAMP): $(DEV_STAMP)
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	touch $@

demo: $(STAMP)
	$(BIN)/driftloop demo

# The browser tests drive Debian's chromium (a browser download at install time is not needed).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: $(DEV_STAMP) $(CHROMIUM)
	$(BIN)/ruff check src tests scripts benchmarks preprocess_telco.py train_model.py deploy.py
	$(BIN)/ruff format --check src tests scripts benchmarks preprocess_telco.py train_model.py deploy.py
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest

# Benchmarks print their results and never fail on a missed target.
bench: $(DEV_STAMP) bench-serving bench-drift bench-monitoring bench-loop

bench-serving: $(BENCH_STAMP)
	$(BIN)/python benchmarks/serving.py

bench-drift: $(DEV_STAMP)
	$(BIN)/python benchmarks/drift.py

bench-monitoring: $(DEV_STAMP)
	$(BIN)/python benchmarks/monitoring.py --records 1000000 3000000 10000000

bench-loop: $(DEV_STAMP)
	$(BIN)/python benchmarks/loop.py

# 30 minutes at half capacity with a config swap a minute; not part of `make test` or `make bench`.
soak: $(DEV_STAMP)
	$(BIN)/python benchmarks/soak.py

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests scripts preprocess_telco.py train_model.py deploy.py

format: $(DEV_STAMP)
	$(BIN)/ruff format src tests scripts preprocess_telco.py train_model.py deploy.py
	$(BIN)/ruff check --fix src tests scripts preprocess_telco.py train_model.py deploy.py

# requirements.txt is generated from pyproject.toml, never edited by hand.
requirements: $(BIN)/python
	$(BIN)/python scripts/requirements.py > requirements.txt

clean:
	rm -rf $(VENV) .driftloop .pytest_cache
