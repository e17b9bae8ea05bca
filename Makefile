# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-compare clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/cross_thread_memory.py

lint: $(STAMP)
	$(BIN)/ruff check runtime actors stores tests bench examples
	$(BIN)/ruff format --check runtime actors stores tests bench examples

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
