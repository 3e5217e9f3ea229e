# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A wheel the deploy tests read as data: downloaded without its dependencies, never installed.
KSERVE_SDK := tests/deploy/crd/kserve-sdk.txt

.PHONY: install demo test lint docs clean

$(STAMP): pyproject.toml $(KSERVE_SDK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip uv  # uv installs the rest, fast
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]'
	$(BIN)/pip download -q --no-deps --require-hashes --python-version 3.11 -d $(VENV)/schema-wheels -r $(KSERVE_SDK)
	touch $(STAMP)

install: $(STAMP)

## Install cogkit and run a real prediction on examples/hello-world, without Docker.
demo: $(STAMP)
	cd examples/hello-world && ../../$(BIN)/cogkit predict --runtime local -i text=cogkit

## Lint, then run the whole test suite.
test: $(STAMP)
	$(BIN)/ruff check cogkit tests bench
	$(BIN)/ruff format --check cogkit tests bench
	$(BIN)/pytest -q -ra $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check --fix cogkit tests bench
	$(BIN)/ruff format cogkit tests bench

## Regenerate docs/cli.md from the commands' own --help (a test checks it is current).
docs: $(STAMP)
	$(BIN)/python -m cogkit.cli.reference > docs/cli.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache dist build
