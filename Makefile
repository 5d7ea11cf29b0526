# The two commands a newcomer needs:  make demo  (the whole pipeline)  and  make test.
# Everything else is set up on demand by `make setup`, which is idempotent and quick when done.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SERVICES := $(PY) -m local_services

.PHONY: help setup up down status clean-data demo lint test test-unit test-integration test-faults bench

help:
	@echo "make demo        run the whole pipeline on sample photos and serve the dashboard"
	@echo "make test        set up everything and run all tests against real local services"
	@echo "make test-unit   the quick unit tests (no services, no model, no subprocesses)"
	@echo "make test-faults only the fault tests (make test runs them too): services killed while the pipeline works"
	@echo "make lint        ruff check and ruff format --check"
	@echo "make up|down|status|clean-data   manage the local Kafka, Elasticsearch, S3, Traefik and Hadoop"
	@echo "make bench       run the benchmarks in benchmarks/"

setup:
	@bash scripts/setup.sh

up: setup
	@$(SERVICES) up

down:
	@$(SERVICES) down

status:
	@$(SERVICES) status

clean-data:
	@$(SERVICES) clean-data

demo: setup
	@$(PY) -m scripts.demo

lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

# Unit tests first: on a fresh machine they run while Traefik still builds in the
# background (scripts/go_tool.sh, started by setup), which the integration tests wait for.
# Then the fault tests, which kill and restart services, on a stack of their own (free
# ports, its own folder, deleted afterwards); both runs go to the end, and a failure in
# either fails the target.
FAULTS := PIPELINE_SERVICES=isolated $(PY) -m pytest tests/integration -m fault
test: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@status=0; \
	$(PY) -m pytest tests/unit tests/integration -m "not fault" || status=$$?; \
	$(FAULTS) || status=$$?; \
	exit $$status

# Only the fault tests (about 8 minutes on a loaded 2-core machine); -s shows their tallies.
test-faults: setup
	@$(FAULTS) -s

test-unit: setup
	@$(PY) -m pytest tests/unit -m "not model and not process"

test-integration: setup
	@$(PY) -m pytest tests/integration

bench: setup
	@$(PY) -m benchmarks
