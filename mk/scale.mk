# Beyond this machine, simulated: kwok's fake nodes on the real API server (tests/scale, bench/bench_scale.py).

.PHONY: kwok test-scale bench-scale bench-memory

kwok: ## build kwok (simulated nodes) into $(GAVEL_CACHE) (cold: ~1.5 min)
	@scripts/kwok.sh >/dev/null

test-scale: venv s3-server kwok ## the kwok tier: hundreds of Evaluations at once, runner pods on simulated nodes (local cluster)
	@$(CLUSTER_SH) up >/dev/null
	@echo "[test] scale: $${GAVEL_SCALE_EVALUATIONS:-300} Evaluations at once on $${GAVEL_SCALE_NODES:-8} simulated nodes (kwok), judged once each (~3 min)"
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		$(VENV)/bin/pytest -q -s tests/scale

bench-scale: venv s3-server kwok ## benchmark: the operator under 1k, 5k and 10k Evaluations at once on simulated nodes (BENCH_SCALE_SIZES)
	@$(CLUSTER_SH) up >/dev/null
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		$(VENV)/bin/python bench/bench_scale.py

bench-memory: venv s3-server ## benchmark: the operator's RSS with 1k and 10k Evaluations in flight, heap steps off vs on (a control plane of its own)
	@cluster/build-binaries.sh kubernetes etcd
	@$(VENV)/bin/python bench/bench_memory.py
