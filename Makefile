# TellerWatch: `make demo` (set up and run the main job) and `make test` (set up and run the tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DATA   ?= ./data
PORT   ?= 8000

.PHONY: setup demo test lint typecheck pytest screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	TELLERWATCH_DATA_DIR=$(DATA) $(BIN)/tellerwatch demo --port $(PORT)

lint: setup
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check vision api tellerwatch tests benchmarks sample_videos

typecheck: setup
	$(BIN)/mypy vision api tellerwatch

pytest: setup
	$(BIN)/python -m pytest -q -rs --durations=15

test: lint typecheck pytest

screenshots: setup
	TELLERWATCH_SCREENSHOTS=1 $(BIN)/python -m pytest -q -m e2e tests/web

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
