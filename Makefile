# The two front doors: `make demo` and `make test`. Both create the venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dlrun-installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/dlrun train configs/digits.yaml

test: install
	$(BIN)/ruff check dlrun tests bench
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check dlrun tests bench
	$(BIN)/ruff format --check dlrun tests bench

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
