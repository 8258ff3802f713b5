/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the connector's Prometheus metrics, in a registry of its own.
type metrics struct {
	registry    *prometheus.Registry
	fetched     *prometheus.CounterVec
	forwarded   *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	deleted     *prometheus.CounterVec
	errors      *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

// newMetrics registers the metrics. lag and circuitOpen are read when
// scraped: both change with time alone.
func newMetrics(lag func() float64, circuitOpen func(target string) float64) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		fetched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shcr_connector_resources_fetched_total",
			Help: "Resources read from the organisation's endpoint, by resource type.",
		}, []string{"type"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shcr_connector_resources_forwarded_total",
			Help: "Resources written to the record service, by resource type.",
		}, []string{"type"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shcr_connector_resources_dropped_total",
			Help: "Resources not forwarded because they are outside the categories the organisation may provide now, by resource type.",
		}, []string{"type"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shcr_connector_resources_skipped_total",
			Help: "Resources read again at the watermark instant and not forwarded again, by resource type.",
		}, []string{"type"}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shcr_connector_records_deleted_total",
			Help: "Records removed from the record service because their source resource was deleted, by resource type.",
		}, []string{"type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shcr_connector_errors_total",
			Help: "Errors, by kind: config, credentials, state, source, record_service, malformed_page, circuit_open, other.",
		}, []string{"kind"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shcr_connector_last_successful_sync_timestamp_seconds",
			Help: "When the last cycle in which every feed succeeded ended, as a Unix time.",
		}),
	}
	m.registry.MustRegister(
		m.fetched, m.forwarded, m.dropped, m.skipped, m.deleted, m.errors, m.lastSuccess,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "shcr_connector_lag_seconds",
			Help: "Now minus the oldest position of the feeds the organisation may provide now; +Inf while a feed has none.",
		}, lag),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, target := range []string{kindSource, kindRecordService} {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "shcr_connector_circuit_open",
			Help:        "1 while the circuit to a target (source, record_service) is not closed.",
			ConstLabels: prometheus.Labels{"target": target},
		}, func() float64 { return circuitOpen(target) }))
	}
	return m
}
