# imbalance-flow: `make run` and `make test` are all a fresh clone needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install run test lint format clean bench server deploy worker up down

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python3 >= 3.11 is needed, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its dev tools

run: $(STAMP) ## run the retrain flow with the tutorial's defaults (local mode, no server)
	$(BIN)/imbalance run

# Two processes: much of the suite waits (servers starting, workers polling, processes
# importing TensorFlow), so the other process trains meanwhile. A module's tests stay in
# one process (--dist loadscope): its fixtures (a server, a cluster, runs) start once.
test: $(STAMP) ## run the whole test suite (two processes)
	$(BIN)/python -m pytest -n 2 --dist loadscope

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) ## time reading data, batched training, the gate's rates, Dask, the flow (~40 min)
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_batched.py
	$(BIN)/python benchmarks/bench_gate.py
	$(BIN)/python benchmarks/bench_dask.py
	$(BIN)/python benchmarks/bench.py

clean: ## remove the virtualenv and caches (keeps artifacts/)
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info

# A local Prefect server with the nightly and manual deployments (README, "Server").
# Everything it keeps (SQLite database, pid files, logs) is in .prefect/, git-ignored.
PREFECT_ENV := PREFECT_API_URL=http://127.0.0.1:4200/api PREFECT_HOME=$(CURDIR)/.prefect \
	PREFECT_SERVER_ANALYTICS_ENABLED=false PWD=$(CURDIR)
STACK := $(PREFECT_ENV) scripts/prefect-stack.sh

server: $(STAMP) ## Prefect server on http://127.0.0.1:4200, in the foreground
	$(STACK) server

deploy: $(STAMP) ## create the work pool if missing, deploy prefect.yaml (server running)
	$(STACK) deploy

worker: $(STAMP) ## a worker of the local-process pool, in the foreground
	$(STACK) worker

up: $(STAMP) ## server + worker in the background (logs in .prefect/), then deploy
	$(STACK) up

down: ## stop the background worker and server, and wait for them
	$(STACK) down
