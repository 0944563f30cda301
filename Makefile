# The two commands: `make run` and `make test` (both set everything up first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# What `make run` needs: Accord and its runtime dependencies only (no dev tools), with pip's progress.
RUN_STAMP := $(VENV)/.installed-run
# A real OpenStack Placement for the integration tests (tests/placement_server.py), in its own venv:
# its oslo.* pins would clash with Accord's own dependencies.
# gunicorn 27 is pinned for its --no-control-socket (tests run several Placements at once).
PLACEMENT_VENV := .venv-placement
PLACEMENT_STAMP := $(PLACEMENT_VENV)/.installed
# A real OpenStack Keystone for the keystone-mode tests (tests/keystone_server.py), in its own venv
# for the same reason.
KEYSTONE_VENV := .venv-keystone
KEYSTONE_STAMP := $(KEYSTONE_VENV)/.installed
# tempest with cyborg-tempest-plugin (tests/tempest/), and Nova's own Cyborg client code driven by
# tests/nova_driver/: each in its own venv, their pins clash with Accord's and with each other.
TEMPEST_VENV := .venv-tempest
TEMPEST_STAMP := $(TEMPEST_VENV)/.installed
NOVA_VENV := .venv-nova
NOVA_STAMP := $(NOVA_VENV)/.installed
# ironic-python-agent 13 with Accord's hardware manager (`accord[ironic]`, editable), driven by
# tests/ironic/ as Ironic's conductor would: IPA's pins stay out of the server's venv.
IPA_VENV := .venv-ipa
IPA_STAMP := $(IPA_VENV)/.installed

.PHONY: install placement keystone tempest nova ipa chromium run test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(RUN_STAMP): pyproject.toml
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then \
		echo "$(VENV) already has Accord (make install)"; \
	else \
		echo "Installing Accord and its runtime dependencies into $(VENV) (the dev tools come with make install)"; \
		[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV); \
		$(BIN)/pip install --upgrade --progress-bar on pip && \
		$(BIN)/pip install --progress-bar on -e . || exit 1; \
	fi
	touch $(RUN_STAMP)

$(PLACEMENT_STAMP):
	$(PYTHON) -m venv $(PLACEMENT_VENV)
	$(PLACEMENT_VENV)/bin/pip install --quiet --upgrade pip
	$(PLACEMENT_VENV)/bin/pip install --quiet openstack-placement==16.0.0 'gunicorn>=27,<28'
	touch $(PLACEMENT_STAMP)

placement: $(PLACEMENT_STAMP)

$(KEYSTONE_STAMP):
	$(PYTHON) -m venv $(KEYSTONE_VENV)
	$(KEYSTONE_VENV)/bin/pip install --quiet --upgrade pip
	$(KEYSTONE_VENV)/bin/pip install --quiet keystone==30.0.0 'gunicorn>=27,<28'
	touch $(KEYSTONE_STAMP)

keystone: $(KEYSTONE_STAMP)

$(TEMPEST_STAMP):
	$(PYTHON) -m venv $(TEMPEST_VENV)
	$(TEMPEST_VENV)/bin/pip install --quiet --upgrade pip
	$(TEMPEST_VENV)/bin/pip install --quiet tempest==47.0.0 cyborg-tempest-plugin==2.8.0
	touch $(TEMPEST_STAMP)

tempest: $(TEMPEST_STAMP)

$(NOVA_STAMP):
	$(PYTHON) -m venv $(NOVA_VENV)
	$(NOVA_VENV)/bin/pip install --quiet --upgrade pip
	$(NOVA_VENV)/bin/pip install --quiet nova==34.0.0
	touch $(NOVA_STAMP)

nova: $(NOVA_STAMP)

$(IPA_STAMP): pyproject.toml
	$(PYTHON) -m venv $(IPA_VENV)
	$(IPA_VENV)/bin/pip install --quiet --upgrade pip
	$(IPA_VENV)/bin/pip install --quiet -e '.[ironic]'
	touch $(IPA_STAMP)

ipa: $(IPA_STAMP)

# Debian's Chromium and its driver, for the console's browser test (tests/console/).
chromium:
	@[ -x /usr/bin/chromedriver ] && [ -x /usr/bin/chromium ] || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

run: $(RUN_STAMP)
	$(BIN)/accord up $(RUN_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy src

pytest: install placement keystone tempest nova ipa chromium
	$(BIN)/pytest

test: placement keystone tempest nova ipa chromium lint typecheck pytest

bench: install keystone
	$(BIN)/python bench/api.py
	$(BIN)/python bench/binds.py
	$(BIN)/python bench/statements.py
	$(BIN)/python bench/scheduler.py
	$(BIN)/python bench/images.py
	$(BIN)/python bench/discovery.py
	$(BIN)/python bench/keystone.py
	$(BIN)/python bench/program_wait.py
	$(BIN)/python bench/soak.py
	$(BIN)/python bench/fleet.py
	@# Accord next to the real Cyborg 17, only with the peers kit: make bench PEERS=../peers-kit
	PEERS=$(PEERS) $(BIN)/python bench/side_by_side.py

clean:
	rm -rf $(VENV) $(PLACEMENT_VENV) $(KEYSTONE_VENV) $(TEMPEST_VENV) $(NOVA_VENV) $(IPA_VENV) .pytest_cache .mypy_cache .ruff_cache
