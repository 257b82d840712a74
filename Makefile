# Set-up on a fresh machine is `make demo` or `make test`; both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED_DATA := $(abspath ../shared/datasets)
# Real data lives beside the checkout on this machine; elsewhere the loader downloads it.
DATA_ENV := $(if $(wildcard $(SHARED_DATA)/mnist),TINYFLOW_DATA_DIR=$(SHARED_DATA),)
BENCH_ENV := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE

.PHONY: demo test test-fast bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(DATA_ENV) $(PY) examples/mnist_softmax.py

# Two worker processes (pytest-xdist), one per core; a module's tests stay together and the
# Ray modules share one worker (tests/conftest.py groups them).
PYTEST := $(PY) -m pytest -n 2 --dist loadgroup

test: $(VENV)/.installed
	$(DATA_ENV) $(PYTEST) tests

# The suite without the tests marked slow (examples, Ray, full conv grids, training runs).
test-fast: $(VENV)/.installed
	$(DATA_ENV) $(PYTEST) -m "not slow" tests

bench: $(VENV)/.installed
	$(DATA_ENV) $(BENCH_ENV) $(PY) bench/seed_step.py
	$(BENCH_ENV) $(PY) bench/harness.py
	$(BENCH_ENV) $(PY) bench/eager.py
	$(BENCH_ENV) $(PY) bench/workloads.py
	$(BENCH_ENV) $(PY) bench/fusion.py
	$(BENCH_ENV) $(PY) bench/rewrites_linear.py
	$(DATA_ENV) $(BENCH_ENV) $(PY) bench/rewrites_seed.py
	$(BENCH_ENV) $(PY) bench/jit.py --torch
	$(BENCH_ENV) $(PY) bench/search.py

clean:
	rm -rf $(VENV) build *.egg-info
