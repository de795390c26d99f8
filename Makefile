# ganxun — the two commands a new user needs: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: install demo test lint format bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Generate the city-scale demo data, train, and serve on http://127.0.0.1:$(PORT) (docs at /docs).
## Another port: make demo PORT=8001
demo: install
	$(VENV)/bin/ganxun demo --port $(PORT)

## Lint, then run the test suite (slow tests are behind the `slow` marker).
test: install lint
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Speed and quality benchmarks; results go to benchmarks/results/, then one summary table of every
## headline figure against its target (benchmarks/results/summary.json).
bench: install
	$(PY) benchmarks/run.py

## Every benchmark's quick mode (tiny city or a sample of the public data; a couple of minutes).
bench-quick: install
	$(PY) benchmarks/run.py --quick

clean:
	rm -rf artifacts data/city benchmarks/results .pytest_cache
