# Set-up and everyday commands. `make run` and `make test` install what they need first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
JS_STAMP := static/vendor/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test bench fuzz dist clean

install: $(PY_STAMP) $(JS_STAMP)

$(PY_STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Front-end packages are pinned in package.json/package-lock.json and copied
# next to our own static files; nothing is loaded from a CDN. scripts/vendor.py
# (npm ci, then the copy) is the one list of the files; setup.py uses it too.
$(JS_STAMP): package.json package-lock.json scripts/vendor.py
	$(PYTHON) scripts/vendor.py
	touch $@

run: install
	$(VENV)/bin/backprop-viz serve --host $(HOST) --port $(PORT)

# The tests also compare with PyTorch (float64), pinned in the bench extra.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(PY_STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

test: install $(BENCH_STAMP)
	$(PY) -m pytest

# The long schemathesis run (the one in `make test` is a few hundred cases). Capped at 8 GiB
# of address space: a request that allocates without bound fails the run, not the machine.
fuzz: install
	ulimit -v 8388608 && FUZZ_CASES=10000 $(PY) -m pytest tests/test_fuzz.py -q

# Speed scripts (not tests): each prints its numbers against a reference measured in the same run.
bench: install $(BENCH_STAMP)
	$(PY) benchmarks/engine.py
	$(PY) benchmarks/training.py
	$(PY) benchmarks/lab.py seed002-ex2 xor

# An sdist and a wheel in dist/, both carrying static/vendor: the wheel installs and serves anywhere.
dist: $(PY_STAMP) $(JS_STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .hypothesis test-output dist build
