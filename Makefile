# The two commands a newcomer needs: `make demo` and `make test`.
# Both create the virtual environment (.venv) on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint kafka-up kafka-down venv clean bench fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## demo: start local Kafka, run the worker, send telemetry, show the actions
demo: $(STAMP)
	$(BIN)/opsrules demo $(DEMO_ARGS)

## test: ruff, mypy on processors/, import contracts, then every test (integration tests start Kafka)
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## fuzz: FUZZ_EXAMPLES cases per target of tests/fuzz and tests/differential (3,300 each:
##       over 100,000 hostile cases, over 10,000 differential ones); prints the seed
FUZZ_EXAMPLES ?= 3300
fuzz: $(STAMP)
	OPSRULES_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz tests/differential \
		-p no:cacheprovider -q --hypothesis-show-statistics

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy processors/
	$(BIN)/lint-imports

kafka-up: $(STAMP)
	$(BIN)/opsrules kafka up

kafka-down: $(STAMP)
	$(BIN)/opsrules kafka down

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## bench: opsrules bench pipeline on a local Kafka; writes BENCHMARKS.md
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/opsrules kafka up
	$(BIN)/opsrules bench pipeline --json $(BENCH_ARGS) > .bench-result.json
	$(BIN)/python -m bench.report .bench-result.json BENCHMARKS.md
