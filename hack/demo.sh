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

# wait_for WHAT CMD...: retries CMD for up to a minute (webhooks and caches
# take a moment to come up), then reports WHAT did not become ready.
# apply_sample applies config/samples/<name>.yaml with its dates moved to
# today.
apply_sample() {
	"$state/currentsamples" "$root/config/samples/$1.yaml" |
		"$kubectl" apply --server-side --field-manager=shcr-demo -f -
}

# assure_sample records the assurance panel's assurances of the sample
# region as the panel's chair (impersonated), as the IG Framework's gate
# requires before the region shares.
assure_sample() {
	"$kubectl" apply --server-side --field-manager=shcr-demo -f "$root/config/samples/assurance-panel-rbac.yaml" >/dev/null
	"$state/currentsamples" "$root/config/samples/shcr_v1alpha1_shcrregion_assurance.yaml" |
		"$kubectl" apply --server-side --field-manager=tvs-ig-assurance-panel \
			--as=panel-chair@tvs.example --as-group=tvs-ig-assurance-panel -f -
}

wait_for() {
	local what=$1
	shift
	for _ in $(seq 1 30); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 2
	done
	echo "$what did not become ready; the operator's log is $state/manager.log" >&2
	"$@" >&2 || true
	"$kubectl" get shcr -A >&2 || true
	exit 1
}

# exemplar applies one file of config/samples/exemplars, dates moved to
# today; further arguments are passed to kubectl apply.
exemplar() {
	local file=$1
	shift
	"$state/currentsamples" "$root/config/samples/exemplars/$file.yaml" |
		"$kubectl" apply --server-side --field-manager=shcr-demo "$@" -f - >/dev/null
}

# exemplars applies the five exemplar regions of the IG Framework, each
# assured by its own panel's chair, and the Journey 2 agreement between
# Thames Valley and Surrey and Wessex (SHCR_DEMO_EXEMPLARS=1 make demo).
exemplars() {
	local r
	for r in onelondon yorkshire-humber thames-valley-surrey greater-manchester wessex; do
		wait_for "exemplar $r" exemplar "$r"
		wait_for "the $r panel's RBAC" exemplar "$r-assurance-panel-rbac"
		wait_for "the $r panel's assurance" exemplar "$r-assurance" --field-manager="$r-ig-assurance-panel" \
			--as="panel-chair@$r.example" --as-group="$r-ig-assurance-panel"
	done
	wait_for "the Journey 2 agreement" exemplar journey2-thames-valley-surrey-wessex
	for r in onelondon yorkshire-humber thames-valley-surrey greater-manchester wessex; do
		wait_for "exemplar $r assured" "$kubectl" wait --for=condition=Assured "shcrregion/$r" --timeout=120s
		wait_for "exemplar $r agreements" "$kubectl" wait --for=jsonpath='{.status.phase}'=Active datasharingagreement --all -n "shcr-$r" --timeout=120s
	done
}

up() {
	mkdir -p "$state"
	"$here/cluster.sh" up "$cluster" "$kubeconfig" 2>>"$state/cluster.log"
	export KUBECONFIG="$kubeconfig"
	"$kubectl" apply --server-side --field-manager=shcr-demo -f "$root/config/crd/bases" -f "$root/config/admission/region-namespace.yaml" >/dev/null
	"$kubectl" wait --for=condition=Established crd --all --timeout=60s >/dev/null

	stop_manager
	(cd "$root" && exec ./bin/manager --metrics-bind-address=0 --health-probe-bind-address=0 --leader-elect=false \
		--local-webhook-host=127.0.0.1 --webhook-port=9443 >"$state/manager.log" 2>&1) &
	echo $! >"$pidfile"
	echo "operator running (pid $(cat "$pidfile"), log: $state/manager.log)"

	# The samples' dates are moved to today (hack/currentsamples), so that
	# their DSPT assessments and agreement stay current.
	(cd "$root" && go build -o "$state/currentsamples" ./hack/currentsamples)
	# The region first: the other samples live in the namespace it creates.
	apply_sample shcr_v1alpha1_shcrregion
	wait_for "the region namespace" "$kubectl" wait --for=condition=NamespaceReady shcrregion --all --timeout=60s
	wait_for "the panel's assurance" assure_sample
	# Then members, the agreement between them, and the policies under it, each
	# retried while the webhooks and caches catch up with the one before.
	for f in gateway-config credentials shcr_v1alpha1_memberorganisation shcr_v1alpha1_datasharingagreement shcr_v1alpha1_accesspolicy; do
		wait_for "$f" apply_sample "$f"
	done
	ns=shcr-thames-valley
	wait_for "the region" "$kubectl" wait --for=condition=Ready shcrregion --all --timeout=180s
	wait_for "the members" "$kubectl" wait --for=condition=Ready memberorganisation --all -n "$ns" --timeout=120s
	wait_for "the agreement" "$kubectl" wait --for=jsonpath='{.status.phase}'=Active datasharingagreement --all -n "$ns" --timeout=120s
	wait_for "the policies" "$kubectl" wait --for=condition=Ready accesspolicy --all -n "$ns" --timeout=120s
	wait_for "the region's assurance" "$kubectl" wait --for=condition=Assured shcrregion/thames-valley --timeout=60s
	if [ "${SHCR_DEMO_EXEMPLARS:-}" = 1 ]; then
		exemplars
	fi
	echo
	"$kubectl" get shcr -A
	cat <<TXT

The samples are Ready: a region, three organisations, an Active agreement and two policies.
(Their dates were moved to today, keeping their spacing; the files describe 1 September 2026.)
Look around:
  export KUBECONFIG=$kubeconfig
  $kubectl get shcr -A
  $kubectl describe shcrregion
  $kubectl get all,pvc,networkpolicy,configmap -n shcr-thames-valley
  $kubectl get datasharingagreement -n shcr-thames-valley -o yaml   # phase, termsHash, who recorded each approval
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
