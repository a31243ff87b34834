# Two commands do everything on a fresh machine:
#   make run   - set up, build the default index from the bundled articles if missing, start the chat UI
#   make test  - set up (incl. the local LLM and a browser for UI tests) and run the test suite
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast setup setup-test bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install torch==2.13.0  # pinned CPU wheel first, so nothing can pull a CUDA build
	$(BIN)/pip install -e '.[dev,llm,ray,milvus]'
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/sanad models prepare

run: setup
	$(BIN)/sanad serve

setup-test: setup
	bash scripts/install-browser.sh
	$(BIN)/sanad models install-llm

test: setup-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "fast and not process" -q

bench: setup
	$(BIN)/python bench/retrieval_bench.py

clean:
	rm -rf $(VENV) index/*/ eval/reports/*/
