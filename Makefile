# Entry points. `make demo` and `make test` set up everything they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
# Tools find this collection through a collections path that links back to the work tree.
COLLECTIONS := $(VENV)/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)
# The tests, molecule's cluster commands, the benchmarks and the demo import their support code,
# ansible_collections.consul.peering.tests.support, from the same collections folder.
units integration molecule bench demo demo-keep: export PYTHONPATH := $(COLLECTIONS)

.PHONY: help setup venv consul platform-venvs units units-rhel9 sanity compat galaxy-import ee-context integration \
	molecule lint docs test bench demo demo-keep clean

help:
	@echo "make demo   - build Consul if needed, start two local clusters and peer them with the playbook"
	@echo "make demo-keep - the same, leaving the clusters running"
	@echo "make bench  - benchmarks against baselines in the same run (see docs/performance.md)"
	@echo "make test   - set up everything and run the whole test suite (what .ci/run runs)"
	@echo "make units | units-rhel9 | sanity | compat | galaxy-import | integration | molecule | lint | docs - one part"
	@echo "make ee-context - build the collection tarball and the example execution environment's build context"

setup: venv consul

venv: $(VENV)/.installed $(COLLECTIONS)/ansible_collections/consul/peering

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

$(COLLECTIONS)/ansible_collections/consul/peering:
	mkdir -p $(@D)
	ln -sfn $(CURDIR) $@

consul: venv
	$(BIN)/python tests/support/consul_build.py

# Virtualenvs with RHEL 9's requests 2.25.1 and urllib3 1.26.5 (tests/utils/venvs.py): one for the unit tests
# (Python 3.11, ansible-core 2.16), one that the integration tests run the modules with (Python 3.9).
# Cached in ${XDG_CACHE_HOME:-~/.cache}/consul-peering/venvs, keyed by their pins.
PLATFORM_VENVS := rhel9-units rhel9-modules

platform-venvs: venv
	$(BIN)/python tests/utils/venvs.py build $(PLATFORM_VENVS)

units: venv
	$(BIN)/python -m pytest -p no:cacheprovider tests/unit

units-rhel9: platform-venvs
	PYTHONPATH=$(COLLECTIONS) $$($(BIN)/python tests/utils/venvs.py python rhel9-units) -m pytest -p no:cacheprovider \
		tests/unit

sanity: venv
	$(BIN)/python tests/utils/run_sanity.py

compat: venv
	$(BIN)/python tests/utils/compat.py

# The built tarball through galaxy-importer, as Galaxy and Automation Hub import it (no container engine needed).
galaxy-import: venv
	$(BIN)/python tests/utils/galaxy_import.py

EE := docs/execution-environment
ee-context: venv
	rm -rf $(EE)/collections build/ee
	mkdir -p $(EE)/collections build/ee
	$(BIN)/ansible-galaxy collection build --output-path build/ee .
	cp build/ee/consul-peering-*.tar.gz $(EE)/collections/consul-peering.tar.gz
	$(BIN)/ansible-builder create -f $(EE)/execution-environment.yml -c build/ee/context

integration: setup platform-venvs
	$(BIN)/python -m pytest -p no:cacheprovider tests/integration

molecule: setup
	$(BIN)/molecule test --all

lint: venv
	$(BIN)/ansible-lint
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs .

docs: venv
	$(BIN)/python tests/utils/build_docs.py

test: setup units units-rhel9 sanity compat galaxy-import integration molecule lint docs

bench: setup
	$(BIN)/python bench/run.py

demo: setup
	$(BIN)/python demo/demo.py

demo-keep: setup
	$(BIN)/python demo/demo.py --keep

clean:
	rm -rf $(VENV) tests/output
