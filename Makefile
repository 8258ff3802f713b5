# shcr-operator. A fresh machine needs only Go, make and git: every other tool
# is built from the Go module proxy by hack/toolchain.sh into a versioned
# cache outside the clone ($SHCR_TOOLS_CACHE, default ~/.cache/shcr-operator).

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

TOOLCHAIN      := hack/toolchain.sh
K8S_DIR         = $(shell $(TOOLCHAIN) dir k8s)
KUBECTL         = $(K8S_DIR)/kubectl
CONTROLLER_GEN  = $(shell $(TOOLCHAIN) dir controller-gen)/controller-gen
HELM            = $(shell $(TOOLCHAIN) dir helm)/helm

DEMO_CLUSTER   ?= shcr
DEMO_DIR       := $(CURDIR)/.demo
DEMO_KUBECONFIG := $(DEMO_DIR)/kubeconfig
E2E_CLUSTER    ?= shcr-e2e
E2E_DIR        := $(CURDIR)/.demo/e2e

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: toolchain
toolchain: ## Build the pinned etcd, Kubernetes, kwok, controller-gen and helm binaries (once per machine).
	$(TOOLCHAIN) ensure controller-gen k8s kwok helm

.PHONY: manifests
manifests: ## Generate the CRDs and the manager's ClusterRole.
	$(TOOLCHAIN) ensure controller-gen
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases
	hack/crd-region-name.sh
	hack/sync-chart.sh

.PHONY: generate
generate: ## Generate DeepCopy methods.
	$(TOOLCHAIN) ensure controller-gen
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: api-docs
api-docs: ## Generate the API reference (docs/api-reference.md) from the API types' godoc.
	$(TOOLCHAIN) ensure crd-ref-docs
	$$($(TOOLCHAIN) dir crd-ref-docs)/crd-ref-docs --source-path=api --config=hack/crd-ref-docs/config.yaml \
		--renderer=markdown --output-path=docs/api-reference.md --log-level=WARN

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: verify-generated
verify-generated: manifests generate api-docs ## Fail if generated files are not committed, or a built binary is (run in CI).
	@hack/check-tracked-binaries.sh
	@hack/check-test-imports.sh
	@if [ -n "$${CI:-}" ] && ! git diff --quiet -- api config charts docs/api-reference.md; then \
		echo "generated files are out of date; run 'make manifests generate api-docs' and commit:"; \
		git --no-pager diff --stat -- api config charts docs/api-reference.md; exit 1; fi

##@ Test

.PHONY: test
test: verify-generated vet test-chart test-alerts test-images test-contract test-unit test-bench test-e2e ## Every layer: unit, chart, alert rules, images, pod-spec contracts, envtest, benchmark fairness and e2e on a local kwok cluster.

.PHONY: test-bench
test-bench: ## The benchmark module's own tests (OPA and Decide agree; the latency and scale rigs work), not the benchmarks.
	$(TOOLCHAIN) ensure k8s
	cd test/bench && go vet ./... && KUBEBUILDER_ASSETS="$(K8S_DIR)" go test ./... -count=1

# Region sizes for bench-operator, comma-separated.
ORGS ?= 1000,5000

.PHONY: bench-operator
bench-operator: ## The operator at scale on envtest: W, onboarding makespan, idle and resync writes, one more organisation, memory (docs/benchmarks.md).
	$(TOOLCHAIN) ensure k8s
	cd test/bench && KUBEBUILDER_ASSETS="$(K8S_DIR)" go run ./operatorscale -orgs $(ORGS)

# Audit sink for bench-gateway: file, pipe (as the default Stdout sink) or discard.
AUDIT ?= file

.PHONY: bench-gateway
bench-gateway: ## The gateway's added latency for reads and searches of 20 entries, five runs each (docs/benchmarks.md).
	cd test/bench && go run ./gatewaylatency -runs 5 -audit $(AUDIT) && go run ./gatewaylatency -runs 5 -interaction search -audit $(AUDIT)

.PHONY: bench-gateway-capacity
bench-gateway-capacity: ## The gateway's capacity on one core: a ramp of mixed reads and searches until it adds 5 ms at p99 (docs/benchmarks.md).
	cd test/bench && go run ./gatewaylatency -mode capacity

.PHONY: test-chart
test-chart: ## helm lint and render the chart, and render config/default with kustomize, checking the output.
	$(TOOLCHAIN) ensure helm k8s
	HELM=$(HELM) KUBECTL=$(KUBECTL) go test ./test/chart/... -count=1

.PHONY: test-images
test-images: ## Build the images twice (same digests; the first written to $(IMAGES_DIR) for the e2e suite), look inside them, push them to a loopback OCI registry and resolve the chart's image references.
	$(TOOLCHAIN) ensure helm
	HELM=$(HELM) IMAGES_DIR="$(IMAGES_DIR)" go test ./test/images/... -count=1 -timeout 20m

.PHONY: test-contract
test-contract: ## Run the gateway and connector pod specs the operator writes on envtest, and the chart's manager Deployment, from the built images (own mount and network namespaces, as the pod's user, read-only root) and pass their probes; needs root.
	$(TOOLCHAIN) ensure k8s helm
	HELM=$(HELM) KUBEBUILDER_ASSETS="$(K8S_DIR)" go test ./test/contract/... -count=1 -timeout 15m

.PHONY: hl7client
hl7client: ## Install the third-party MLLP client (node-hl7-client, from the npm registry) the HL7v2 connector is tested with, where node and npm are installed.
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix test/hl7client --no-audit --no-fund --loglevel=error; \
	else echo "npm is not installed: the HL7v2 test with a third-party MLLP client will be skipped"; fi

.PHONY: test-alerts
test-alerts: ## The alert rules of the chart and config/prometheus evaluated by Prometheus's rule engine against written series (module test/alerts).
	$(TOOLCHAIN) ensure helm
	cd test/alerts && go vet ./... && HELM=$(HELM) go test ./... -count=1

.PHONY: test-unit
test-unit: hl7client ## Unit and envtest suites (a real kube-apiserver and etcd, the whole operator with its webhooks).
	$(TOOLCHAIN) ensure k8s
	KUBEBUILDER_ASSETS="$(K8S_DIR)" go test ./api/... ./cmd/... ./internal/... ./controllers/... ./test/integration/... ./test/resilience/... ./test/writes/... ./test/fixtures/... -count=1
	@echo "The scenarios again, with the operator holding only its generated RBAC:"
	SHCR_TEST_LEAST_PRIVILEGE=1 KUBEBUILDER_ASSETS="$(K8S_DIR)" go test ./test/integration/... -count=1 \
		-run 'Onboarding|Superseding|DSPTDowngrade|DeletingAMember|CrossRegion|NoOp'
	@echo "And with a fifth of the operator's writes failing (409, 429, 500): convergence, bounded reconciles:"
	SHCR_TEST_FAULTS=1 KUBEBUILDER_ASSETS="$(K8S_DIR)" go test ./test/integration/... -count=1 \
		-run 'Onboarding|Superseding|DSPTDowngrade|DeletingAMember|CrossRegion'

.PHONY: test-e2e
test-e2e: chromium ## End-to-end suite on a fresh local kwok cluster (it pushes the images of $(IMAGES_DIR) to its own loopback registry), and the evidence pack's layout measured in Chromium.
	$(TOOLCHAIN) ensure k8s kwok helm
	SHCR_REQUIRE_CHROMIUM=1 KUBEBUILDER_ASSETS="$(K8S_DIR)" go test ./internal/plugin/evidence/ -run 'FitsA1280PixelScreenAndA4Paper' -count=1
	hack/cluster.sh up $(E2E_CLUSTER) $(E2E_DIR)/kubeconfig
	trap 'hack/cluster.sh down $(E2E_CLUSTER)' EXIT; \
	KUBECONFIG=$(E2E_DIR)/kubeconfig KUBECTL=$(KUBECTL) HELM=$(HELM) IMAGES_DIR="$(IMAGES_DIR)" go test ./test/e2e/... -count=1 -v -timeout 15m

# chromium installs Debian's headless Chromium when none is on the PATH
# (the evidence pack's layout test renders in it); apt-get only.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
		command -v apt-get >/dev/null || { echo "chromium is missing and there is no apt-get: install Chromium" >&2; exit 1; }; \
		echo "installing Debian's chromium for the evidence pack's layout test"; \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get install -y chromium || { $$sudo apt-get update && $$sudo apt-get install -y chromium; }; }

##@ Build

.PHONY: build
build: ## Build the manager, gateway, connector and kubectl-shcr binaries into bin/.
	go build -o bin/ ./cmd/manager ./cmd/gateway ./cmd/connector ./cmd/kubectl-shcr

# Where make images writes the OCI layout, SBOMs and digests; REGISTRY
# (host[:port][/path]) names the images under it and pushes them there;
# IMAGE_TAG defaults to the chart's appVersion; PLATFORMS is os/arch,...
IMAGES_DIR ?= $(CURDIR)/.images
REGISTRY   ?=
IMAGE_TAG  ?=
PLATFORMS  ?= linux/amd64

.PHONY: images
images: ## Build the manager, gateway and connector OCI images without Docker (reproducible, non-root, SBOM) into $(IMAGES_DIR); push them with REGISTRY=.
	go run ./hack/images -out "$(IMAGES_DIR)" -platforms "$(PLATFORMS)" $(if $(REGISTRY),-registry "$(REGISTRY)") $(if $(IMAGE_TAG),-tag "$(IMAGE_TAG)")

##@ Demo

.PHONY: demo
demo: build ## Run the operator on a local kwok cluster with the samples, and show them Ready.
	@hack/demo.sh up "$(DEMO_CLUSTER)" "$(DEMO_DIR)"

.PHONY: demo-down
demo-down: ## Stop the demo operator and delete the demo cluster.
	@hack/demo.sh down "$(DEMO_CLUSTER)" "$(DEMO_DIR)"
