/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package alerts evaluates the alerting rules the chart and config/prometheus
// ship with Prometheus's own rule engine (rules and promql from the
// github.com/prometheus/prometheus module), against series the tests write
// in promtool's load notation. It is a module of its own so that the
// operator's go.mod does not carry the Prometheus server's dependencies.
package alerts
