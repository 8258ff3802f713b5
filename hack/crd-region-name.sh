#!/usr/bin/env bash
# Gives the ShCRRegion CRD a schema for metadata.name (controller-gen drops
# markers on ObjectMeta), so that a bad region name is refused naming
# metadata.name; the CEL rules on the object would name no field ("<nil>").
set -euo pipefail
crd="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/config/crd/bases/shcr.io_shcrregions.yaml"
# Only where metadata is a bare object (so a second run changes nothing).
awk '
  pending && /^            type: object$/ {
    print "            properties:"
    print "              name:"
    print "                maxLength: 58"
    print "                pattern: ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    print "                type: string"
  }
  { print; pending = 0 }
  /^          metadata:$/ { pending = 1 }
' "$crd" >"$crd.tmp"
mv "$crd.tmp" "$crd"
