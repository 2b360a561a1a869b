# The Kubernetes cluster Gavel is tested on (docs/cluster.md).
# CLUSTER=local (default): single node of host processes built from source, no registry.
# CLUSTER=kind: kind, three nodes (KIND_NODES), its node image built here (docs/kind-offline.md;
#   KIND_OFFLINE=0: kind's upstream image, where a registry is reachable). Its own GAVEL_STATE.
export CLUSTER ?= local
CLUSTER_SH := cluster/cluster.sh
PYTEST ?= $(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,$(PY)) -m pytest

.PHONY: cluster cluster-down images images-families load-image kubeconfig kubectl test-cluster

cluster: ## start the cluster (CLUSTER=local: one node of host processes; kind: three nodes); prints the kubeconfig path
	@$(CLUSTER_SH) up

cluster-down: ## remove the cluster: no process, mount, interface or iptables rule left behind
	@$(CLUSTER_SH) down

.PHONY: gvisor gvisor-probe test-runner-gvisor
gvisor: ## gVisor in the local cluster: build runsc + shim (cold ~3 min), runtime handler runsc, RuntimeClass gvisor
	@cluster/gvisor.sh install

gvisor-probe: ## can runsc start a sandbox on this machine? one line per platform and option set (docs/gvisor.md)
	@cluster/gvisor.sh probe

test-runner-gvisor: venv ## the runner's integration tests inside a gVisor sandbox (runsc do), as root
	@cluster/gvisor.sh runner-tests

images: ## build the images locally (base, pause, coredns, testbox, runner, operator) and load them into the cluster
	@$(CLUSTER_SH) images

images-families: ## build the five family runner images (runner-native, -jvm, -dotnet, -functional, -scripting; cold: ~15 min) and load them into the cluster
	@$(CLUSTER_SH) images-families

load-image: ## load a local docker image into the cluster: make load-image IMAGE=name:tag
	@$(CLUSTER_SH) load-image "$(IMAGE)"

kubeconfig: ## print the path of the cluster's kubeconfig (make -s kubeconfig)
	@$(CLUSTER_SH) kubeconfig

kubectl: ## print the path of the kubectl matching the cluster (make -s kubectl)
	@$(CLUSTER_SH) kubectl

# venv: tests/conftest.py imports gavel's own package; tests/cluster itself needs only pytest.
test-cluster: venv ## bring the cluster up (cold or warm) and run tests/cluster against it
	@$(CLUSTER_SH) up >/dev/null
	@$(CLUSTER_SH) images-test
	GAVEL_KUBECONFIG=$$($(CLUSTER_SH) kubeconfig) GAVEL_KUBECTL=$$($(CLUSTER_SH) kubectl) $(PYTEST) -v tests/cluster
