/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package accesspolicy reconciles AccessPolicies: it reports what each
// policy grants once intersected with its agreement's active version, and
// names what the agreement no longer covers.
package accesspolicy

import (
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/kube"
)

// Reconciler reconciles an AccessPolicy.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// Recorder records Events on condition transitions.
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=shcr.io,resources=accesspolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=shcr.io,resources=accesspolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=shcr.io,resources=datasharingagreements,verbs=get;list;watch

// SetupWithManager registers the reconciler; a policy is reconciled again
// whenever a version of its agreement changes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("accesspolicy").
		For(&shcrv1alpha1.AccessPolicy{}).
		Watches(&shcrv1alpha1.DataSharingAgreement{}, handler.EnqueueRequestsFromMapFunc(r.policiesOfAgreement)).
		// A retained namespace adopted by a re-created region, or a region
		// gone: its policies are judged again.
		Watches(&shcrv1alpha1.ShCRRegion{}, handler.EnqueueRequestsFromMapFunc(kube.ObjectsInRegion(r.Client,
			func() client.ObjectList { return &shcrv1alpha1.AccessPolicyList{} })), builder.WithPredicates(kube.RegionNamespaceChanged)).
		Complete(r)
}
