//go:build tools

// Package tools pins the Kubernetes control-plane binaries that envtest, the
// e2e suite and `make demo` run. It is its own module so that k8s.io/kubernetes
// never becomes a dependency of the operator.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
