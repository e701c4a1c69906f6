# Two entry points for a fresh machine (see README):
#   make deploy  set everything up, then deploy the example app locally (embedded emulator) and print its outputs
#   make test    set everything up, then lint and run every test
# and: make destroy, make synth (the pinned CDK CLI), make bench, make lint
SHELL := /bin/bash
VENV := .venv
PYTHON ?= python3
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
# The CDK CLI works offline, but by default sends telemetry and fetches notices.
export CDK_DISABLE_CLI_TELEMETRY := true
# This machine's Node.js 20 is past jsii's support date; it still works, so keep the banner out of the output.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup deploy destroy synth lint test bench clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps --editable .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

deploy: setup
	managed-things deploy
	@echo "Outside make: source $(VENV)/bin/activate, then managed-things deploy|destroy|emulator or npx cdk synth" >&2

destroy: setup
	managed-things destroy

synth: setup
	cdk synth --no-notices

# Each side is type-checked with its own path, as it runs: the library, the provider and the local engine
# each see the shared model beside them; lint-imports checks the import rules of pyproject.toml.
lint: setup
	ruff check .
	ruff format --check .
	mypy model/managed_things_model
	MYPYPATH=model mypy constructs/cdk_managed_things
	MYPYPATH=model mypy lambda/managed_thing_provider
	MYPYPATH=lambda:model mypy local/managed_things_local
	lint-imports

test: lint
	python -m pytest

bench: setup
	python -m benchmarks

clean:
	rm -rf $(VENV) node_modules cdk.out .managed-things dist build
