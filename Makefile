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
test: ## set up everything and run every test tier (what .ci/run calls; removes a demo release first; CLUSTER=kind adds test-nodes)
	@$(MAKE) --no-print-directory prefetch
	@$(MAKE) --no-print-directory test-runner
	@$(MAKE) --no-print-directory test-cluster
	@$(MAKE) --no-print-directory demo-down
	@$(MAKE) --no-print-directory test-operator
	@$(MAKE) --no-print-directory test-scale
	@$(MAKE) --no-print-directory test-e2e
	@if [ "$(CLUSTER)" = kind ]; then $(MAKE) --no-print-directory test-nodes; fi

.PHONY: demo
demo: deps ## the main job: cluster, images, chart with bundled MinIO, example Evaluations to their verdicts (RUNTIME=gvisor: runner pods in gVisor)
	@scripts/demo.sh
