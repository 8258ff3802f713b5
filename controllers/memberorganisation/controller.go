/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package memberorganisation reconciles MemberOrganisations: the governance
// gate that admits an organisation to sharing, and the connector that brings
// a Provider's records into the region within the categories it may provide.
package memberorganisation

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/apply"
	"github.com/shcr-io/shcr-operator/internal/conditions"
	"github.com/shcr-io/shcr-operator/internal/connector"
	"github.com/shcr-io/shcr-operator/internal/kube"
)

// Reconciler reconciles a MemberOrganisation.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads the API server directly. The connector's credentials
	// Secret is read through it, by name, so the operator never caches
	// the cluster's Secrets.
	APIReader client.Reader
	// Recorder records Events on condition transitions.
	Recorder events.EventRecorder
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OperatorNamespace is where the operator runs; connectors accept status
	// reads from it. Empty (the operator outside the cluster) opens nothing.
	OperatorNamespace string
	// ConnectorImage is the connector image of organisations that name
	// none; specs.DefaultConnectorImage when empty.
	ConnectorImage string
	// ConnectorStatusURL, when set, replaces the in-cluster URL of a
	// connector's status endpoint (tests, and operators outside the cluster).
	ConnectorStatusURL func(*shcrv1alpha1.MemberOrganisation) string
	// PurgeBound is how long after a narrowing the records outside the new
	// scope must be gone; DefaultPurgeBound when zero (purge.go).
	PurgeBound time.Duration
	// ReadConnectorStatus, when set, replaces the HTTP read of a connector's status.
	ReadConnectorStatus func(ctx context.Context, url string) (*connector.Status, error)

	applier *apply.Applier
	// deployments tells whether connector Deployments, which the cache
	// holds as metadata, are available.
	deployments *conditions.Deployments
	board       *statusBoard
	// credentials remembers each organisation's last good credentials
	// check (credentials.go).
	credentials credentialChecks
}

// +kubebuilder:rbac:groups=shcr.io,resources=memberorganisations,verbs=get;list;watch
// +kubebuilder:rbac:groups=shcr.io,resources=memberorganisations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=shcr.io,resources=datasharingagreements,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=serviceaccounts;configmaps;services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// The operator may grant only what it holds: approve on organisations,
// a permission the API server checks and no server serves (specs.ApproveVerb).
// +kubebuilder:rbac:groups=shcr.io,resources=organisations,verbs=approve

// SetupWithManager registers the reconciler. It owns the connector's
// objects and follows the agreements that name the organisation.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.deployments = &conditions.Deployments{Cache: r.Client, API: r.APIReader}
	creator, err := apply.NewCreator(mgr.GetConfig(), mgr.GetHTTPClient(), mgr.GetRESTMapper())
	if err != nil {
		return err
	}
	r.applier = &apply.Applier{Client: r.Client, APIReader: r.APIReader, Written: r.deployments.Written,
		Read: r.deployments.Read, Creator: creator}
	if err := r.deployments.ForgetDeleted(context.Background(), mgr.GetCache()); err != nil {
		return err
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	read := r.ReadConnectorStatus
	if read == nil {
		read = readConnectorStatus
	}
	r.board = newStatusBoard(read)
	if err := mgr.Add(r.board); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("memberorganisation").
		For(&shcrv1alpha1.MemberOrganisation{}).
		// The cache holds these as metadata only (kube.MetadataOnlyKinds).
		Owns(&appsv1.Deployment{}, builder.OnlyMetadata).
		Owns(&corev1.ServiceAccount{}, builder.OnlyMetadata).
		Owns(&corev1.ConfigMap{}).
		Owns(&networkingv1.NetworkPolicy{}, builder.OnlyMetadata).
		Owns(&corev1.Service{}, builder.OnlyMetadata).
		Owns(&corev1.PersistentVolumeClaim{}, builder.OnlyMetadata).
		Owns(&rbacv1.Role{}, builder.OnlyMetadata).
		Owns(&rbacv1.RoleBinding{}, builder.OnlyMetadata).
		Watches(&shcrv1alpha1.DataSharingAgreement{}, handler.EnqueueRequestsFromMapFunc(r.membersOfAgreement)).
		Watches(&shcrv1alpha1.MemberOrganisation{}, handler.EnqueueRequestsFromMapFunc(r.sameODSCode)).
		// A retained namespace adopted by a re-created region, or a region
		// gone: its members are judged again.
		Watches(&shcrv1alpha1.ShCRRegion{}, handler.EnqueueRequestsFromMapFunc(kube.ObjectsInRegion(r.Client,
			func() client.ObjectList { return &shcrv1alpha1.MemberOrganisationList{} })), builder.WithPredicates(predicate.Or[client.Object](kube.RegionNamespaceChanged, gpConnectChanged))).
		// A region's identity provider changed: its FHIR Push connectors verify with it.
		Watches(&shcrv1alpha1.ShCRRegion{}, handler.EnqueueRequestsFromMapFunc(r.pushMembersOfRegion), builder.WithPredicates(regionIdentityChanged)).
		// A connector's report changed.
		WatchesRawSource(source.Channel(r.board.changed, &handler.EnqueueRequestForObject{})).
		Complete(r)
}
