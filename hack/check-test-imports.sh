#!/usr/bin/env bash
# Fails when a production package (anything outside test/) imports a package
# under test/: test fixtures and harnesses must not reach the binaries.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
module=$(go list -m)
bad=$(go list -f '{{.ImportPath}}{{range .Imports}} {{.}}{{end}}' ./... |
	awk -v test="$module/test/" 'index($1, test) != 1 { for (i = 2; i <= NF; i++) if (index($i, test) == 1) print $1 " imports " $i }')
if [ -n "$bad" ]; then
	echo "$bad" >&2
	echo "production packages must not import test/ packages: move what both need out of test/" >&2
	exit 1
fi
