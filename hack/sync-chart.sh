#!/usr/bin/env bash
# Copies what controller-gen generates into the Helm chart, so the chart and
# config/ (kustomize) install the same CRDs, RBAC and admission policy.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
chart="$root/charts/shcr-operator"
rm -f "$chart"/crds/*.yaml
cp "$root"/config/crd/bases/*.yaml "$chart/crds/"
sed -n '/^rules:/,$p' "$root/config/rbac/role.yaml" | tail -n +2 >"$chart/files/manager-rules.yaml"
cp "$root/config/admission/region-namespace.yaml" "$chart/files/region-namespace.yaml"
cp "$root/config/admission/agreement-ledger.yaml" "$chart/files/agreement-ledger.yaml"
