#!/usr/bin/env bash
# Builds the pinned toolchain from the Go module proxy into a versioned cache
# outside the clone, so that a fresh clone (and CI) reuses what an earlier run
# built and only the first run on a machine pays for the build.
#
#   hack/toolchain.sh dir <k8s|kwok|controller-gen|helm|crd-ref-docs>    print where a tool set lives
#   hack/toolchain.sh ensure <k8s|kwok|controller-gen|helm|crd-ref-docs> build it unless already built
#
# SHCR_TOOLS_CACHE overrides the cache root (default $XDG_CACHE_HOME/shcr-operator).
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
CONTROLLER_GEN_VERSION=v0.23.0
HELM_VERSION=v3.22.0
CRD_REF_DOCS_VERSION=v0.3.0

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${SHCR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shcr-operator}

dir_of() {
	case $1 in
	k8s) echo "$cache/k8s-$K8S_VERSION-etcd-$ETCD_VERSION" ;;
	kwok) echo "$cache/kwok-$KWOK_VERSION" ;;
	controller-gen) echo "$cache/controller-gen-$CONTROLLER_GEN_VERSION" ;;
	helm) echo "$cache/helm-$HELM_VERSION" ;;
	crd-ref-docs) echo "$cache/crd-ref-docs-$CRD_REF_DOCS_VERSION" ;;
	*) echo "toolchain: unknown tool set '$1'" >&2; exit 2 ;;
	esac
}

# build_into DIR NAME... : builds into a scratch directory and moves the
# binaries into place only when all of them built, so an interrupted build is
# never mistaken for a finished one.
finish() {
	local dest=$1 tmp=$2
	mkdir -p "$dest"
	for f in "$tmp"/*; do mv -f "$f" "$dest/"; done
	rm -rf "$tmp"
	touch "$dest/.complete"
}

build_k8s() {
	local dest=$1 tmp
	tmp=$(mktemp -d)
	local pkg=k8s.io/component-base/version
	local minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	echo "toolchain: building etcd $ETCD_VERSION (about 40 s on 2 cores)" >&2
	(cd "$here/tools/etcd" && go build -buildvcs=false -trimpath -ldflags "-s -w" -o "$tmp/etcd" .)
	echo "toolchain: building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $K8S_VERSION (about 5 min on 2 cores, once)" >&2
	(cd "$here/tools/k8s" && go build -buildvcs=false -trimpath -ldflags "$ldflags" -o "$tmp/" \
		k8s.io/kubernetes/cmd/kube-apiserver \
		k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler \
		k8s.io/kubernetes/cmd/kubectl)
	finish "$dest" "$tmp"
}

build_go_install() {
	local dest=$1 tmp
	shift
	tmp=$(mktemp -d)
	for pkg in "$@"; do
		echo "toolchain: go install $pkg" >&2
		GOBIN=$tmp go install -trimpath -ldflags "-s -w" "$pkg"
	done
	finish "$dest" "$tmp"
}

ensure() {
	local dest
	dest=$(dir_of "$1")
	[ -f "$dest/.complete" ] && return 0
	case $1 in
	k8s) build_k8s "$dest" ;;
	kwok) build_go_install "$dest" sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION ;;
	controller-gen) build_go_install "$dest" sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION ;;
	helm) build_go_install "$dest" helm.sh/helm/v3/cmd/helm@$HELM_VERSION ;;
	crd-ref-docs) build_go_install "$dest" github.com/elastic/crd-ref-docs@$CRD_REF_DOCS_VERSION ;;
	esac
}

case ${1:-} in
dir) dir_of "$2" ;;
ensure) shift; for t in "$@"; do ensure "$t"; done ;;
*) echo "usage: $0 dir|ensure <k8s|kwok|controller-gen|helm|crd-ref-docs>..." >&2; exit 2 ;;
esac
