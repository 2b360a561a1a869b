# The user's path: the Helm chart on the real cluster, and the demo.

.PHONY: test-e2e test-hostile test-families test-nodes demo-down

# RUNTIME=gvisor: the chart installed with every runner pod in the RuntimeClass gvisor (local cluster)
E2E_RUNTIME = $(if $(RUNTIME),GAVEL_TEST_RUNTIME=$(RUNTIME),)
E2E_GVISOR = $(if $(filter gvisor,$(RUNTIME)),cluster/gvisor.sh install,true)

test-e2e: deps ## end-to-end: install the chart, judge every verdict in every language, upgrade, uninstall (RUNTIME=gvisor: in gVisor)
	@$(CLUSTER_SH) up >/dev/null
	@$(CLUSTER_SH) images-e2e
	@$(E2E_GVISOR)
	@echo "[test] e2e: helm install, 42 evaluations in 7 languages, hostile pods, cancel, delete, upgrade, uninstall (~9 min)"
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		GAVEL_HELM=$$(scripts/helm.sh) $(E2E_RUNTIME) $(VENV)/bin/pytest -q --durations=8 tests/e2e

test-hostile: deps ## containment in real runner pods: hostile submissions and checkers through the chart (part of test-e2e; RUNTIME=gvisor: in gVisor)
	@$(CLUSTER_SH) up >/dev/null
	@$(CLUSTER_SH) images-e2e
	@$(E2E_GVISOR)
	@echo "[test] hostile: attacks from submissions and checkers in runner pods, outputs at the cap, Pod Security (~5 min)"
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		GAVEL_HELM=$$(scripts/helm.sh) $(E2E_RUNTIME) $(VENV)/bin/pytest -q tests/e2e/test_hostile.py tests/e2e/test_gvisor.py

test-families: deps ## opt-in, not in `make test` (cold image builds): every family image on the cluster: A+B and a wrong answer per language, a fork, memory and thread bomb contained in each
	@$(CLUSTER_SH) up >/dev/null
	@$(CLUSTER_SH) images-e2e
	@$(CLUSTER_SH) images-families
	@echo "[test] families: the chart with every family image, 18 languages judged, bombs in each image (~10 min warm)"
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		GAVEL_HELM=$$(scripts/helm.sh) GAVEL_TEST_FAMILIES=1 $(VENV)/bin/pytest -q tests/e2e/test_families.py

test-nodes: deps ## many nodes (CLUSTER=kind, 3 nodes): spread, a worker paused mid-judging, the operator's node killed, a drain
	@if [ "$(CLUSTER)" != kind ]; then echo "test-nodes needs two workers: CLUSTER=kind make test-nodes"; exit 2; fi
	@$(CLUSTER_SH) up >/dev/null
	@$(CLUSTER_SH) images-e2e
	@echo "[test] nodes: Evaluations over two workers, one paused, the operator's killed, one drained (~12 min)"
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		GAVEL_HELM=$$(scripts/helm.sh) $(VENV)/bin/pytest -q -s --durations=8 tests/nodes

demo-down: ## uninstall the demo release (the cluster stays: make cluster-down)
	@$(CLUSTER_SH) up >/dev/null
	@$$(scripts/helm.sh) --kubeconfig $$($(CLUSTER_SH) kubeconfig) uninstall gavel -n gavel-system --wait 2>/dev/null || true

.PHONY: bench-operator
bench-operator: demo ## benchmark: Evaluations through the installed chart vs bare Jobs of the same pod shape
	@echo "[bench] operator: $${BENCH_EVALUATIONS:-12} Evaluations vs as many bare Jobs, $${BENCH_ROUNDS:-3} rounds"
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		$(VENV)/bin/python bench/bench_operator.py

.PHONY: bench-gvisor
bench-gvisor: demo ## benchmark: the same Evaluations in runc and in gVisor runner pods, side by side (builds runsc: cold ~3 min)
	@echo "[bench] gvisor: $${BENCH_EVALUATIONS:-6} Evaluations per runtime, C++ and Python, $${BENCH_ROUNDS:-2} rounds"
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		$(VENV)/bin/python bench/bench_gvisor.py

.PHONY: bench-burst
bench-burst: demo ## benchmark: a contest's last minutes on the demo install (BENCH_BURST Evaluations, default 1,000, at once)
	@echo "[bench] burst: $${BENCH_BURST:-1000} Evaluations created at once; progress every 10 s until all are final"
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		$(VENV)/bin/python bench/bench_burst.py

.PHONY: bench-cache
bench-cache: demo ## benchmark: bytes storage sends for 100 Evaluations of one 50 MB problem, node cache off and on
	@echo "[bench] cache: $${BENCH_EVALUATIONS:-100} Evaluations of a $${BENCH_TESTS:-10} × $${BENCH_INPUT_MIB:-5} MiB problem, node cache off, then on"
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		GAVEL_HELM=$$(scripts/helm.sh) $(VENV)/bin/python bench/bench_cache.py

.PHONY: bench-images
bench-images: demo ## benchmark: a node without the runner images: each one's import and first Evaluation vs the second (builds the family images: cold ~15 min)
	@$(CLUSTER_SH) images-families
	@echo "[bench] images: the six runner images removed from the node, then each imported and judged twice"
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		$(VENV)/bin/python bench/bench_images.py
