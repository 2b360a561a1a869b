//go:build tools

// Package tools pins kubeadm, which the kind node image needs (kind provisions nodes
// with `kubeadm init/join`). This module is a copy of cluster/build/kubernetes (same
// k8s.io/kubernetes version, same staging replaces) plus kubeadm's own dependencies
// (github.com/coredns/corefile-migration, k8s.io/system-validators), kept apart so the
// cached binaries of cluster/build/kubernetes are not affected. Regenerate with
// `cluster/kind-image.sh regen-kubeadm` after cluster/build/regen-kubernetes.sh.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kubeadm/app"
)
