/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package metrics holds the operator's Prometheus metrics, registered with
// controller-runtime's registry and served on the manager's metrics endpoint.
// Reconcile errors by controller come from controller-runtime itself
// (controller_runtime_reconcile_errors_total).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// Agreements counts each region's agreement versions by phase.
	Agreements = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shcr_agreements",
		Help: "DataSharingAgreement versions in a region, by phase.",
	}, []string{"region", "phase"})

	// AgreementEnds is the endsOn of each Active agreement, as a Unix time, so
	// that an alert can compare it with time().
	AgreementEnds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shcr_agreement_ends_timestamp_seconds",
		Help: "When each Active agreement ends (Unix seconds).",
	}, []string{"region", "agreement", "version"})

	// AgreementReview is the reviewDate of each Active agreement, as a Unix time.
	AgreementReview = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shcr_agreement_review_timestamp_seconds",
		Help: "When each Active agreement is due for review (Unix seconds).",
	}, []string{"region", "agreement", "version"})

	// AssuranceReview is the review date of each counted IG Framework
	// assurance of a region, as a Unix time: sharing stops at the earliest.
	AssuranceReview = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shcr_region_assurance_review_timestamp_seconds",
		Help: "When each counted IG Framework assurance of a region lapses (Unix seconds).",
	}, []string{"region", "requirement"})

	// RegionAssured is 1 while a region's IG Framework assurance lets it
	// share, 0 otherwise.
	RegionAssured = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shcr_region_assured",
		Help: "1 when every IG Framework requirement of the region is assured now.",
	}, []string{"region"})

	// Members counts each region's organisations, admitted or not.
	Members = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shcr_members",
		Help: "MemberOrganisations in a region, by whether they are Admitted.",
	}, []string{"region", "admitted"})

	// BundleBytes is the size of each region's stored policy bundle.
	BundleBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shcr_policy_bundle_bytes",
		Help: "Size of the region's stored policy bundle.",
	}, []string{"region"})

	// CompileDuration times policy compilation.
	CompileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "shcr_policy_compile_duration_seconds",
		Help:    "Time to compile a region's policy bundle.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"region"})

	// CompileErrors counts failed policy compilations or stores.
	CompileErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shcr_policy_compile_errors_total",
		Help: "Policy bundles that could not be compiled or stored.",
	}, []string{"region"})

	// Stalled is 1 for each object whose Stalled condition is True.
	Stalled = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shcr_stalled",
		Help: "1 when an shcr.io object is Stalled: a problem retrying cannot fix.",
	}, []string{"kind", "namespace", "name"})
)

func init() {
	metrics.Registry.MustRegister(Agreements, AgreementEnds, AgreementReview, AssuranceReview, RegionAssured, Members, BundleBytes,
		CompileDuration, CompileErrors, Stalled)
}

// SetStalled records whether an object is Stalled.
func SetStalled(kind, namespace, name string, stalled bool) {
	if stalled {
		Stalled.WithLabelValues(kind, namespace, name).Set(1)
		return
	}
	Stalled.DeleteLabelValues(kind, namespace, name)
}

// ForgetRegion drops every series of a deleted region.
func ForgetRegion(region string) {
	for _, vec := range []*prometheus.GaugeVec{Agreements, AgreementEnds, AgreementReview, AssuranceReview, RegionAssured, Members, BundleBytes} {
		vec.DeletePartialMatch(prometheus.Labels{"region": region})
	}
	CompileDuration.DeletePartialMatch(prometheus.Labels{"region": region})
	CompileErrors.DeletePartialMatch(prometheus.Labels{"region": region})
}
