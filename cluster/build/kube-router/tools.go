//go:build tools

// Package tools pins kube-router; built with
// `go build github.com/cloudnativelabs/kube-router/v2/cmd/kube-router`.
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/pkg/cmd"
