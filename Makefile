# Gavel: the verbs a user types. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY ?= python3
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Everything built outside the repo (Kubernetes, MinIO, images) lives here, keyed by version.
export GAVEL_CACHE ?= /var/cache/gavel

.PHONY: help
help: ## list the verbs
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

include mk/*.mk

.PHONY: test
test: ## set up everything and run every test tier (what .ci/run calls)
	@$(MAKE) --no-print-directory test-runner
	@$(MAKE) --no-print-directory test-cluster
	@$(MAKE) --no-print-directory test-operator

.PHONY: demo
demo: ## the main job: set everything up and judge the example submissions
	@$(MAKE) --no-print-directory judge-demo
