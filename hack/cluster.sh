#!/usr/bin/env bash
# A local simulated Kubernetes cluster (kwok, binary runtime) built entirely
# from the pinned toolchain: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok, with two fake nodes and storage it can bind.
#
#   hack/cluster.sh up   <name> <kubeconfig>   create it (or reuse it if it is already up)
#   hack/cluster.sh down <name>                delete it
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/toolchain.sh" ensure k8s kwok
k8s=$("$here/toolchain.sh" dir k8s)
kwok=$("$here/toolchain.sh" dir kwok)
kwokctl="$kwok/kwokctl"
kubectl="$k8s/kubectl"

up() {
	local name=$1 kubeconfig=$2
	mkdir -p "$(dirname "$kubeconfig")"
	if "$kwokctl" get clusters 2>/dev/null | grep -qx "$name" &&
		"$kwokctl" get kubeconfig --name "$name" >"$kubeconfig.tmp" 2>/dev/null &&
		"$kubectl" --kubeconfig "$kubeconfig.tmp" get --raw /readyz >/dev/null 2>&1; then
		mv "$kubeconfig.tmp" "$kubeconfig"
		echo "cluster $name is already up"
	else
		rm -f "$kubeconfig.tmp"
		"$kwokctl" delete cluster --name "$name" >/dev/null 2>&1 || true
		local log
		log=$(mktemp)
		if ! "$kwokctl" create cluster --name "$name" --runtime binary \
			--etcd-binary "$k8s/etcd" \
			--kube-apiserver-binary "$k8s/kube-apiserver" \
			--kube-controller-manager-binary "$k8s/kube-controller-manager" \
			--kube-scheduler-binary "$k8s/kube-scheduler" \
			--kwok-controller-binary "$kwok/kwok" \
			--kubeconfig "$kubeconfig" \
			--wait 2m >"$log" 2>&1; then
			cat "$log" >&2
			rm -f "$log"
			exit 1
		fi
		rm -f "$log"
		"$kwokctl" get kubeconfig --name "$name" >"$kubeconfig"
	fi
	"$kwokctl" scale node --name "$name" --replicas 2 >/dev/null 2>&1
	# kwok runs no volume provisioner: a no-provisioner StorageClass and
	# static volumes let StatefulSets and connectors (a state claim each)
	# bind their claims (nothing is written).
	{
		cat <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
YAML
		for i in $(seq 1 40); do
			cat <<YAML
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: local-pv-$i
spec:
  capacity:
    storage: 100Gi
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: standard
  hostPath:
    path: /tmp/kwok-pv-$i
YAML
		done
	} | "$kubectl" --kubeconfig "$kubeconfig" apply --server-side --field-manager=shcr-hack -f - >/dev/null
	echo "cluster $name is up (kubeconfig: $kubeconfig)"
}

down() {
	"$kwokctl" delete cluster --name "$1" >/dev/null 2>&1 || true
	echo "cluster $1 is down"
}

case ${1:-} in
up) up "$2" "$3" ;;
down) down "$2" ;;
*) echo "usage: $0 up <name> <kubeconfig> | down <name>" >&2; exit 2 ;;
esac
