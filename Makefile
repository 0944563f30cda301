# The two commands: `make run` and `make test` (both set everything up first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A real OpenStack Placement for the integration tests (tests/placement_server.py), in its own venv:
# its oslo.* pins would clash with Accord's own dependencies.
# gunicorn 27 is pinned for its --no-control-socket (tests run several Placements at once).
PLACEMENT_VENV := .venv-placement
PLACEMENT_STAMP := $(PLACEMENT_VENV)/.installed

.PHONY: install placement run test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(PLACEMENT_STAMP):
	$(PYTHON) -m venv $(PLACEMENT_VENV)
	$(PLACEMENT_VENV)/bin/pip install --quiet --upgrade pip
	$(PLACEMENT_VENV)/bin/pip install --quiet openstack-placement==16.0.0 'gunicorn>=27,<28'
	touch $(PLACEMENT_STAMP)

placement: $(PLACEMENT_STAMP)

run: install
	$(BIN)/accord up $(RUN_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy src

pytest: install placement
	$(BIN)/pytest

test: placement lint typecheck pytest

bench: install
	$(BIN)/python bench/api.py
	$(BIN)/python bench/binds.py
	$(BIN)/python bench/scheduler.py
	$(BIN)/python bench/images.py
	$(BIN)/python bench/discovery.py
	$(BIN)/python bench/program_wait.py

clean:
	rm -rf $(VENV) $(PLACEMENT_VENV) .pytest_cache .mypy_cache .ruff_cache
