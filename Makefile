# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-compare clean

$(STAMP): pyproject.toml hatch_build.py runtime/_otlp_native.c
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench,langchain,service,otel]'
	touch $(STAMP)

# The demo keeps its Redis data in .redis-data, so a second run remembers the first.
# `make demo DEMO_ARGS=--memory` runs in process memory; REDIS_URL points it elsewhere.
REDIS_DATA ?= $(CURDIR)/.redis-data
demo: $(STAMP)
	ACTORGRAPH_REDIS_DATA_DIR=$(REDIS_DATA) $(BIN)/python examples/cross_thread_memory.py $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check runtime actors stores tests bench examples
	$(BIN)/ruff format --check runtime actors stores tests bench examples
	$(BIN)/pyright

test: $(STAMP) lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

bench-compare: $(STAMP)
	test -x .venv-compare/bin/python || $(PY) -m venv .venv-compare
	.venv-compare/bin/python -m pip install -q -e '.[bench,compare]'
	.venv-compare/bin/python -m bench --compare langgraph

clean:
	rm -rf $(VENV) .venv-compare .pytest_cache
