# Two commands on a fresh clone: `make demo` and `make test`.
# Each creates .venv on first use and installs what it needs.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo playground test lint format bench bench-scale clean chromium

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# A stamp per install flavour, rebuilt whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[dev,dask,serve,playground]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[bench,serve]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/thalweg demo

$(VENV)/.installed-playground: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[playground]'
	touch $@

# The web playground (docs/playground.md): a local server; it opens your browser.
playground: $(VENV)/.installed-playground
	$(VENV)/bin/thalweg playground

# The report tests render a report in headless Chromium: install Debian's package if missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing chromium (the report tests render a report in a real browser)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.installed-dev chromium
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info

# thalweg vs PyTorch, scikit-learn and hand-written NumPy, interleaved; writes docs/benchmarks.md.
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE slow NumPy here: unset for this command only.
# `make bench BENCH_ARGS=--quick` for a ~1.5 min smoke run (prints, writes nothing).
bench: $(VENV)/.installed-bench
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) -m bench $(BENCH_ARGS)

# Streaming at scale (docs/scale.md): a 4 GB Parquet file in /tmp, then memory and speed.
bench-scale: $(VENV)/.installed-bench
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) -m bench.scale_stream generate /tmp/thalweg-scale/big.parquet --gigabytes 4.2
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) -m bench.scale_stream run /tmp/thalweg-scale/big.parquet --repeats 3
