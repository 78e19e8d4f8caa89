# Every target installs what it needs from the lock file first; a fresh machine needs only
# Python 3.11+, Node.js and a PostgreSQL server.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export DAGSTER_DISABLE_TELEMETRY := true

.PHONY: install test lint format demo ui synth api clean backtest

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-extras --all-groups --python $(PYTHON)
	touch $@

install: $(VENV)/.synced

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## The test suite: lint, then every test (PostgreSQL is started first if it is down).
test: install
	bash scripts/ensure-postgres.sh
	$(BIN)/ruff check .
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(TOOLS) infra_cdk/cdk.out .pytest_cache .ruff_cache .demo

## The main job: the whole system on the local AWS emulator, through the production Lambda handler, with a
## report and .demo/chart.png (docs/demo.md): make demo [DEMO_ARGS="--hours 6 --seed 3"]
## Its runs go to the Dagster instance it shares with `make ui` (database 'dagster' on the local PostgreSQL,
## started first if it is down); without a server they go to an ephemeral instance, and the demo says so.
demo: install
	-bash scripts/ensure-postgres.sh
	$(BIN)/python -m cw_local.demo $(DEMO_ARGS)

## Replay a candidate rule or SLO next to the current one over the demo workload on the emulator (or, with
## --use-environment, the configured table): make backtest ARGS="--rule api_error_rate --threshold 10"
backtest: install
	$(BIN)/python -m cw_local.backtest $(ARGS)

## The Dagster UI on http://127.0.0.1:3000 against the emulator (port 4566) with a live workload; Ctrl-C stops both.
## Same Dagster instance as `make demo`: its Runs page shows the demo's Lambda runs next to the UI's own.
ui: install
	-bash scripts/ensure-postgres.sh
	$(BIN)/python -m cw_local.ui $(UI_ARGS)

## The interactions API on http://127.0.0.1:8080 (the Lambda handler behind a local HTTP server).
api: install
	bash scripts/ensure-postgres.sh
	$(BIN)/python -m cw_local.api_server

## Load benchmark of the API handler against the local PostgreSQL (prints p50/p99 and throughput).
bench-api: install
	bash scripts/ensure-postgres.sh
	$(BIN)/python bench/api_load.py

## Synthesize the CDK app offline (no cdk CLI, Docker or AWS account needed) into infra_cdk/cdk.out,
## cdk-nag included, then cfn-lint the templates: make synth [ENV_NAME=qa] [ALERT_EMAIL=ops@example.com]
ENV_NAME ?= dev
synth: install
	cd infra_cdk && ../$(BIN)/python app.py -c env=$(ENV_NAME) $(if $(ALERT_EMAIL),-c alertEmail=$(ALERT_EMAIL)) --output cdk.out
	$(BIN)/cfn-lint --non-zero-exit-code error infra_cdk/cdk.out/*.template.json

## Every benchmark on the local emulator (the seed stack cold, warm and over a 7-day backfill, the
## 1,000-function estate, the API load test), each pipeline figure beside the plain-boto3 baseline's in the
## same run; writes docs/benchmarks.md. 15-40 minutes, on a quiet machine: make bench [BENCH_ARGS="--runs 7 --skip-api"]
.PHONY: bench
bench: install
	bash scripts/ensure-postgres.sh
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)
