# shiprisk — `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install.stamp
DATA_DIR ?= data
DEMO_DAYS ?= 120
DEMO_ROWS ?= 400
MLFLOW_PORT ?= 5000

.DEFAULT_GOAL := help
.PHONY: help install demo test lint format bench clean mlflow-server

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install shiprisk with pinned dependencies

demo: install ## Generate synthetic data, train, register, promote and serve on 127.0.0.1:8000
	$(BIN)/shiprisk demo --data-dir $(DATA_DIR) --days $(DEMO_DAYS) --rows-per-day $(DEMO_ROWS)

test: install ## Run every test (installs chromium and starts PostgreSQL for the tests that need them)
	@bash scripts/chromium.sh
	@if [ -z "$$SHIPRISK_TEST_POSTGRES_URL" ]; then \
	  url=$$(bash scripts/postgres.sh) || { echo "PostgreSQL could not be started: its tests are skipped"; url=; }; \
	  export SHIPRISK_TEST_POSTGRES_URL=$$url; \
	fi; \
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -q

mlflow-server: install ## Start a shared MLflow server (PostgreSQL store, served artifacts) on 127.0.0.1:MLFLOW_PORT (5000)
	@url=$$(SHIPRISK_MLFLOW_PORT=$(MLFLOW_PORT) MLFLOW=$(BIN)/mlflow bash scripts/mlflow_server.sh) && \
	  echo "MLflow tracking and registry at $$url: export SHIPRISK_TRACKING_URI=$$url" && \
	  echo "stop it with: bash scripts/mlflow_server.sh stop (same SHIPRISK_MLFLOW_PORT)"

lint: install ## ruff check, ruff format --check and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Apply ruff's formatter and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## Run the benchmarks in bench/ and record results in bench/RESULTS.md
	@bash scripts/wrk.sh
	$(BIN)/python -m bench

clean: ## Remove the virtual environment, caches and generated data
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(DATA_DIR)
