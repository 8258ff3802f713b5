/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package bench holds the benchmarks that need dependencies the product must
// not have: policy.Decide against Open Policy Agent on the same compiled
// bundle, and (in gatewaylatency) the latency the record gateway adds in
// front of a FHIR server. It is its own module, so OPA never becomes a
// dependency of the operator or the gateway. See docs/benchmarks.md.
package bench
