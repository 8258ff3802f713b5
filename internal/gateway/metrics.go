/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's Prometheus metrics, in a registry of its own.
type metrics struct {
	registry          *prometheus.Registry
	decisions         *prometheus.CounterVec
	breakGlass        *prometheus.CounterVec
	bundleInfo        *prometheus.GaugeVec
	bundleLoaded      prometheus.Gauge
	reloads           *prometheus.CounterVec
	reloadErrors      *prometheus.CounterVec
	upstreamLatency   *prometheus.HistogramVec
	authFailures      prometheus.Counter
	auditWriteErrors  prometheus.Counter
	objectingPatients prometheus.Gauge
	registerProblems  *prometheus.GaugeVec
	refusalAuditDrops *prometheus.CounterVec
	// upstreamMemoryRefusals counts answers refused for want of memory;
	// upstreamMemory is the bytes of the budget reserved now.
	upstreamMemoryRefusals prometheus.Counter
	upstreamMemory         prometheus.Gauge
	// gpConnectFailures counts GP practices that could not be read, by
	// ODS code (federated.go).
	gpConnectFailures *prometheus.CounterVec
	// auditWrites is the time each answer waited for its audit events to
	// be handed to the audit sink.
	auditWrites prometheus.Histogram
}

// auditWriteBuckets run from 10 µs to about 95 ms: a page of 20 entries
// (about 45 kB of events) is written to a local file in tens of
// microseconds, and a slow disk or a full pipe shows as milliseconds.
var auditWriteBuckets = prometheus.ExponentialBuckets(10e-6, 2.5, 11)

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shcr_gateway_decisions_total",
			Help: "Access decisions, by outcome (allow, deny) and FHIR interaction.",
		}, []string{"outcome", "interaction"}),
		breakGlass: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shcr_gateway_break_glass_total",
			Help: "Accesses allowed only by a break-glass emergency override, by the ODS code of the organisation the user acts for.",
		}, []string{"organisation"}),
		bundleInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shcr_gateway_policy_bundle_info",
			Help: "The policy bundle in force: 1 for its region and revision.",
		}, []string{"region", "revision"}),
		bundleLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shcr_gateway_policy_bundle_loaded",
			Help: "1 when a valid policy bundle is loaded; 0 means every request is denied.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shcr_gateway_reloads_total",
			Help: "Successful loads, by source (bundle, jwks, objections).",
		}, []string{"source"}),
		reloadErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shcr_gateway_reload_errors_total",
			Help: "Failed loads, by source (bundle, jwks, objections).",
		}, []string{"source"}),
		upstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shcr_gateway_upstream_request_duration_seconds",
			Help:    "Time the record service took to answer, by FHIR interaction.",
			Buckets: prometheus.DefBuckets,
		}, []string{"interaction"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shcr_gateway_authentication_failures_total",
			Help: "Requests refused with 401 because the bearer token was missing or invalid.",
		}),
		auditWriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shcr_gateway_audit_write_errors_total",
			Help: "Audit events that could not be written; the access was refused.",
		}),
		objectingPatients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shcr_gateway_objecting_patients",
			Help: "Patients in the loaded objection register.",
		}),
		registerProblems: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shcr_gateway_objection_register_unreadable_lines",
			Help: "Lines of the loaded objection register that were not understood, by effect: " +
				"every-organisation (their NHS numbers object to every organisation) or ignored (no valid NHS number).",
		}, []string{"effect"}),
		refusalAuditDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shcr_gateway_refusal_audit_events_dropped_total",
			Help: "Audit events of refused requests not written, by reason: rate-limited (too many from one source) " +
				"or write-failed (the audit sink failed; the refusal was still sent).",
		}, []string{"reason"}),
	}
	m.upstreamMemoryRefusals = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shcr_gateway_upstream_memory_refusals_total",
		Help: "Requests answered 503 because the record service's answer did not fit in the memory budget.",
	})
	m.upstreamMemory = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "shcr_gateway_upstream_memory_bytes",
		Help: "Bytes of the memory budget for record service answers reserved now.",
	})
	m.registry.MustRegister(m.upstreamMemoryRefusals, m.upstreamMemory)
	m.gpConnectFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shcr_gateway_gpconnect_failures_total",
		Help: "GP Connect calls whose answer could not be used (unreachable, an error status, an unusable answer), by the practice's ODS code.",
	}, []string{"practice"})
	m.registry.MustRegister(m.gpConnectFailures)
	m.auditWrites = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "shcr_gateway_audit_write_duration_seconds",
		Help: "Time an answer waited for its audit events to be written to the audit sink (the wait for " +
			"other answers' writes included); every audited answer waits for it.",
		Buckets: auditWriteBuckets,
	})
	m.registry.MustRegister(m.auditWrites)
	m.registry.MustRegister(
		m.decisions, m.breakGlass, m.bundleInfo, m.bundleLoaded, m.reloads, m.reloadErrors,
		m.upstreamLatency, m.authFailures, m.auditWriteErrors, m.objectingPatients, m.registerProblems, m.refusalAuditDrops,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// setBundle records the bundle in force; nil means none.
func (m *metrics) setBundle(p *loadedPolicy) {
	m.bundleInfo.Reset()
	if p == nil {
		m.bundleLoaded.Set(0)
		return
	}
	m.bundleInfo.WithLabelValues(p.region, p.revision).Set(1)
	m.bundleLoaded.Set(1)
}
