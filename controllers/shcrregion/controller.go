/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package shcrregion reconciles ShCRRegions into running tenants: a
// namespace with quota, isolation and admin RBAC, the record service, the
// record gateway and the region's compiled policy bundle.
package shcrregion

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/apply"
	"github.com/shcr-io/shcr-operator/internal/conditions"
)

// Reconciler reconciles a ShCRRegion.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads the API server directly; used only to check that an
	// object the cache does not hold is really absent.
	APIReader client.Reader
	// Recorder records Events on condition transitions.
	Recorder events.EventRecorder
	// Coalesce is how long a change to the region's organisations,
	// agreements or policies waits so that a burst is compiled once;
	// DefaultCoalesce when zero. A region whose reconciles take longer
	// waits longer (windows), up to MaxCoalesce.
	Coalesce time.Duration
	// GatewayImage is the gateway image of regions that name none;
	// specs.DefaultGatewayImage when empty.
	GatewayImage string
	// OperatorNamespace is the namespace the operator runs in, if in a
	// cluster: each region's gateway admits it, to be read for break-glass
	// counts (specs.GatewayOperatorNetworkPolicy).
	OperatorNamespace string
	// ConnectorImage runs the purge Jobs of organisations that left a
	// region; specs.DefaultConnectorImage when empty.
	ConnectorImage string
	// PurgeBound is how long after the region sees an organisation has
	// left its records must be gone; DefaultPurgeBound when zero.
	PurgeBound time.Duration
	// Now is the clock of purge deadlines; time.Now when nil.
	Now func() time.Time

	applier *apply.Applier
	// deployments tells whether the gateway's Deployment, which the cache
	// holds as metadata, is available.
	deployments *conditions.Deployments
	windows     *windows
}

// +kubebuilder:rbac:groups=shcr.io,resources=shcrregions,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=shcr.io,resources=shcrregions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=shcr.io,resources=shcrregions/finalizers,verbs=update
// The region admin Role delegates editing of the three namespaced kinds; RBAC
// lets the operator create that Role only if it holds the same permissions
// (the alternative, the escalate verb, would let it grant anything).
// +kubebuilder:rbac:groups=shcr.io,resources=memberorganisations;datasharingagreements;accesspolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts;services;configmaps;resourcequotas;limitranges,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apps,resources=statefulsets;deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete

// SetupWithManager registers the reconciler: it owns every child it creates
// and counts the region's members and agreements.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.applier, r.deployments = newApplier(r), newDeployments(r)
	// The gateway's Deployment, like a connector's, is known without a
	// read at the version the region's apply created.
	r.applier.Written, r.applier.Read = r.deployments.Written, r.deployments.Read
	creator, err := apply.NewCreator(mgr.GetConfig(), mgr.GetHTTPClient(), mgr.GetRESTMapper())
	if err != nil {
		return err
	}
	r.applier.Creator = creator
	if err := r.deployments.ForgetDeleted(context.Background(), mgr.GetCache()); err != nil {
		return err
	}
	if r.Coalesce == 0 {
		r.Coalesce = DefaultCoalesce
	}
	r.windows = &windows{min: r.Coalesce}
	return ctrl.NewControllerManagedBy(mgr).
		Named("shcrregion").
		For(&shcrv1alpha1.ShCRRegion{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{},
			deletionPredicate(),
		))).
		Owns(&corev1.Namespace{}).
		// The cache holds these as metadata only (kube.MetadataOnlyKinds).
		Owns(&corev1.ServiceAccount{}, builder.OnlyMetadata).
		Owns(&corev1.Service{}, builder.OnlyMetadata).
		// The bundle ConfigMap changes with every recompile: its events join
		// the coalescing window, so the region's own writes do not bypass it.
		Watches(&corev1.ConfigMap{}, coalesced(
			handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &shcrv1alpha1.ShCRRegion{}, handler.OnlyControllerOwner()),
			r.windows)).
		Owns(&corev1.ResourceQuota{}).
		Owns(&corev1.LimitRange{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&appsv1.Deployment{}, builder.OnlyMetadata).
		Owns(&networkingv1.NetworkPolicy{}, builder.OnlyMetadata).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&rbacv1.Role{}, builder.OnlyMetadata).
		Owns(&rbacv1.RoleBinding{}, builder.OnlyMetadata).
		// A region appearing or going away changes its peers' PeersFound;
		// its assurance changing changes their cross-region grants.
		Watches(&shcrv1alpha1.ShCRRegion{}, handler.EnqueueRequestsFromMapFunc(r.regionsPeeringWith),
			builder.WithPredicates(predicate.Or(peerPresenceChanged(), peerAssuranceChanged()))).
		Watches(&shcrv1alpha1.MemberOrganisation{}, regionChanges(r.windows)).
		Watches(&shcrv1alpha1.DataSharingAgreement{}, regionChanges(r.windows)).
		Watches(&shcrv1alpha1.AccessPolicy{}, regionChanges(r.windows)).
		Complete(r)
}

func newApplier(r *Reconciler) *apply.Applier {
	return &apply.Applier{Client: r.Client, APIReader: r.APIReader}
}

func newDeployments(r *Reconciler) *conditions.Deployments {
	return &conditions.Deployments{Cache: r.Client, API: r.APIReader}
}
