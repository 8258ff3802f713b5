#!/usr/bin/env bash
# make demo / make demo-down: the operator, run as a local process, on a local
# kwok cluster, with the samples in config/samples.
#
#   hack/demo.sh up   <cluster> <state dir>
#   hack/demo.sh down <cluster> <state dir>
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cluster=$2
state=$3
kubeconfig="$state/kubeconfig"
pidfile="$state/manager.pid"
kubectl="$("$here/toolchain.sh" dir k8s)/kubectl"

stop_manager() {
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		kill "$(cat "$pidfile")"
		for _ in $(seq 1 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$pidfile"
}

up() {
	mkdir -p "$state"
	"$here/cluster.sh" up "$cluster" "$kubeconfig" 2>>"$state/cluster.log"
	export KUBECONFIG="$kubeconfig"
	"$kubectl" apply --server-side --field-manager=shcr-demo -f "$root/config/crd/bases" >/dev/null
	"$kubectl" wait --for=condition=Established crd --all --timeout=60s >/dev/null

	stop_manager
	"$root/bin/manager" --metrics-bind-address=0 --health-probe-bind-address=0 --leader-elect=false \
		>"$state/manager.log" 2>&1 &
	echo $! >"$pidfile"
	echo "operator running (pid $(cat "$pidfile"), log: $state/manager.log)"

	"$kubectl" apply --server-side --field-manager=shcr-demo -k "$root/config/samples"
	if ! "$kubectl" wait --for=condition=Ready shcrregion --all --timeout=180s; then
		echo "the samples did not become Ready; the operator's log is $state/manager.log" >&2
		"$kubectl" get shcr -A >&2 || true
		exit 1
	fi
	echo
	"$kubectl" get shcr -A
	cat <<TXT

The samples are Ready. Look around:
  export KUBECONFIG=$kubeconfig
  $kubectl get shcr -A
  $kubectl describe shcrregion
  $kubectl get all,pvc,networkpolicy,configmap -n shcr-thames-valley
  tail -f $state/manager.log
Stop everything with: make demo-down
TXT
}

down() {
	stop_manager
	"$here/cluster.sh" down "$cluster"
}

case ${1:-} in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down <cluster> <state dir>" >&2; exit 2 ;;
esac
