/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package datasharingagreement reconciles DataSharingAgreements: it derives
// each version's phase from its approvals, dates, successors, membership and
// (for Journey 2) its peer region, records the terms hash and the parties
// that share, and wakes on the second of the next transition.
package datasharingagreement

import (
	"time"

	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
)

// Reconciler reconciles a DataSharingAgreement.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// Recorder records Events on condition transitions.
	Recorder events.EventRecorder
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// ledgerReader reads the agreement ledger from the API server, and
	// ledger groups this process's appends to it (ledger.go).
	ledgerReader client.Reader
	ledger       ledgerWriter
}

// +kubebuilder:rbac:groups=shcr.io,resources=datasharingagreements,verbs=get;list;watch
// +kubebuilder:rbac:groups=shcr.io,resources=datasharingagreements/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=shcr.io,resources=memberorganisations;shcrregions,verbs=get;list;watch

// SetupWithManager registers the reconciler. An agreement is reconciled
// again when a party's membership changes, when another version of it (here
// or in a peer region) changes, and when its peer region changes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	r.ledgerReader = mgr.GetAPIReader()
	return ctrl.NewControllerManagedBy(mgr).
		Named("datasharingagreement").
		For(&shcrv1alpha1.DataSharingAgreement{}).
		Watches(&shcrv1alpha1.MemberOrganisation{}, handler.EnqueueRequestsFromMapFunc(r.agreementsNamingMember),
			builder.WithPredicates(partyFactsChanged())).
		Watches(&shcrv1alpha1.DataSharingAgreement{}, handler.EnqueueRequestsFromMapFunc(r.otherVersions)).
		// A region's peers (its spec) confirm cross-region agreements; its
		// namespace becoming a region namespace again (a retained namespace
		// adopted) or not lets its agreements be judged again.
		Watches(&shcrv1alpha1.ShCRRegion{}, handler.EnqueueRequestsFromMapFunc(r.regionChanged),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, kube.RegionNamespaceChanged))).
		Complete(r)
}
