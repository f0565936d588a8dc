# duckdb-clv: `make demo` runs the pipeline on a sample shop, `make test` runs lint and tests.
# Both create .venv and install the project with every extra on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Reinstall whenever pyproject.toml changes.
STAMP := $(VENV)/.installed

.PHONY: install contract demo test test-fast test-slow reliability report-check web-deps web-check spark-check lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[train,dbt,spark,dev]'
	touch $(STAMP)

install: $(STAMP)

# Write the dbt files that restate the feature contract (udfs/contract.py): the ml views' YAML
# columns and macros/contract.sql. A test fails while they differ from what the contract renders.
contract: install
	$(BIN)/python -m duckdb_clv.udfs.contract_files

demo: install
	$(BIN)/clv demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd dbt_project && ../$(BIN)/sqlfluff lint models tests --processes 2

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The 15 slowest tests are listed at the end, to keep the suite within its 10 minutes. The Spark
# tests (tests/spark) run when Java is installed and are skipped, saying so, when it is not.
test: lint
	@command -v java >/dev/null || [ -n "$$JAVA_HOME" ] || echo "No Java: the Spark tests are skipped (install it with apt-get install openjdk-17-jre-headless)"
	$(BIN)/python -m pytest --durations=15

# The quick tier for a change to one module: contract, maths, ONNX guard and export, config, loading
# small files (tests marked `fast`: no generated shop, no dbt run).
test-fast: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m fast

test-slow: install
	$(BIN)/python -m pytest -m slow

# Render the HTML report in headless Chromium and check the charts are drawn (installs Chromium
# from Debian when missing; `make test` runs the same check whenever Chromium is present).
report-check: install
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	CLV_REQUIRE_CHROMIUM=1 $(BIN)/python -m pytest tests/e2e/test_report.py

# DuckDB-WASM and the Apache Arrow modules the scoring page imports (`clv web --vendor .web/node_modules`),
# from the npm registry at the versions clv/web_page.py pins.
WEB_DEPS := .web/node_modules/@duckdb/duckdb-wasm/package.json
$(WEB_DEPS):
	mkdir -p .web
	npm install --prefix .web --no-save --no-audit --no-fund --loglevel=error \
		@duckdb/duckdb-wasm@1.33.1-dev65.0 apache-arrow@17.0.0

web-deps: $(WEB_DEPS)

# Score a customer in the page in headless Chromium (installs Chromium and the page's libraries when missing).
web-check: install web-deps
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	CLV_REQUIRE_CHROMIUM=1 $(BIN)/python -m pytest tests/e2e/test_web_page.py

# The Spark tests, required to run (installs Java from Debian when missing).
spark-check: install
	command -v java >/dev/null || (apt-get update && apt-get install -y openjdk-17-jre-headless)
	CLV_REQUIRE_SPARK=1 $(BIN)/python -m pytest tests/spark

reliability: install
	$(BIN)/python -m pytest tests/reliability -m "slow or not slow"

bench: install
	$(BIN)/python -m bench.bench_generate
	$(BIN)/python -m bench.bench_features --shop bench/out/shop_1m
	$(BIN)/python -m bench.bench_histories --db bench/out/clv_1m.duckdb
	$(BIN)/python -m bench.bench_btyd_summary
	$(BIN)/python -m bench.bench_training --db bench/out/clv_1m.duckdb --no-oracle
	$(BIN)/python -m bench.bench_scoring --source bench/out/clv_1m.duckdb --models bench/out/clv_1m_models
	$(BIN)/python -m bench.bench_training --db bench/out/clv_100k.duckdb --shop bench/out/shop_100k
	$(BIN)/python -m bench.bench_training --db bench/out/clv_100k.duckdb --shop bench/out/shop_100k \
		--models-dir bench/out/clv_100k_seq --only btyd,hgb,rf,mlp,ziln,lstm,cnn,fused,kmeans
	$(BIN)/python -m bench.bench_sequence_scoring --source bench/out/clv_100k.duckdb --models bench/out/clv_100k_seq
	$(BIN)/python -m bench.bench_policies
	$(BIN)/python -m bench.bench_policy_training
	$(BIN)/python -m bench.bench_spark --db bench/out/clv_1m.duckdb --models bench/out/clv_100k_models

clean:
	rm -rf build data bench/out .pytest_cache .ruff_cache
