# The operator on the real cluster: CRDs, Languages, real Jobs of the runner image, MinIO.

.PHONY: test-operator run-operator

test-operator: deps ## operator tests on the real cluster (brings it up, builds and loads the runner image)
	@$(CLUSTER_SH) up >/dev/null
	@$(CLUSTER_SH) images-operator
	@echo "[test] operator: every phase and verdict through real Jobs, cancel, deletion, caps, restart (~12 min)"
	@GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) \
		$(VENV)/bin/pytest -q --durations=8 tests/operator

run-operator: venv ## run the operator here against the cluster (storage settings from GAVEL_* variables)
	@KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_LOG_FORMAT=plain $(VENV)/bin/python -m gavel_operator
