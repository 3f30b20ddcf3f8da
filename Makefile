# The two front doors: `make demo` and `make test`. Both create the venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dlrun-installed
BACKENDS_STAMP := $(VENV)/.dlrun-backends-installed

.PHONY: install install-backends demo test test-deps lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The backend tier of the tests trains on JAX and PyTorch too, and exports ONNX.
install-backends: $(BACKENDS_STAMP)

$(BACKENDS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,jax,torch,onnx]'
	touch $(BACKENDS_STAMP)

demo: install
	$(BIN)/dlrun train configs/digits.yaml

# The sweep's PostgreSQL test starts a local server: install Debian's package when it is
# missing and we can (root, apt); if that fails the test skips and says why.
test-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || \
	  echo "note: PostgreSQL could not be installed; its sweep test will skip"

# One worker per core (pytest-xdist), a test file per worker: its module fixtures (the
# backend tier's trained runs) are made once. 2 cores: about 12 minutes instead of 22.
test: install install-backends test-deps
	$(BIN)/ruff check dlrun tests bench
	$(BIN)/python -m pytest -q -n auto --dist loadfile

lint: install
	$(BIN)/ruff check dlrun tests bench
	$(BIN)/ruff format --check dlrun tests bench

bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
