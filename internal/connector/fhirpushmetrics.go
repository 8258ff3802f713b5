/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// pushMetrics is a FHIR Push connector's Prometheus registry, read from its
// counters when scraped.
func (p *FHIRPushRuntime) pushMetrics() *prometheus.Registry {
	registry := prometheus.NewRegistry()
	counter := func(name, help string, value func(FHIRPushStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(value(p.Stats())) })
	}
	registry.MustRegister(
		counter("shcr_connector_push_forwarded_total", "Pushed resources committed to the record service.",
			func(s FHIRPushStats) int64 { return s.Forwarded }),
		counter("shcr_connector_push_unauthorised_total", "Pushed requests refused for their bearer token (401 or 403).",
			func(s FHIRPushStats) int64 { return s.Unauthorised }),
		counter("shcr_connector_push_failed_total", "Pushed requests answered 503 because the record service did not commit them.",
			func(s FHIRPushStats) int64 { return s.Failed }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, reason := range []string{ReasonCategoryNotProvided, ReasonNoCategory, ReasonInvalidEntry} {
		registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "shcr_connector_push_refused_total",
			Help:        "Pushed entries refused, by reason: category-not-provided, no-category, invalid.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(p.Stats().Refused[reason]) }))
	}
	return registry
}
