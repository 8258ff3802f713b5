/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/controllers/internal/phases"
	"github.com/shcr-io/shcr-operator/internal/apply"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/metrics"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// namespaceRetry is how soon a region waiting on its namespace (terminating
// from an earlier deletion) looks again.
const namespaceRetry = 5 * time.Second

// Reconcile converges one ShCRRegion on its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	region := &shcrv1alpha1.ShCRRegion{}
	if err := r.Client.Get(ctx, req.NamespacedName, region); err != nil {
		if client.IgnoreNotFound(err) == nil {
			if r.windows != nil {
				r.windows.forget(req.Name)
			}
			metrics.ForgetRegion(req.Name)
			metrics.SetStalled("ShCRRegion", "", req.Name, false)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !region.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, region)
	}
	if !controllerutil.ContainsFinalizer(region, shcrv1alpha1.RegionFinalizer) {
		before := region.DeepCopy()
		controllerutil.AddFinalizer(region, shcrv1alpha1.RegionFinalizer)
		if err := r.Client.Patch(ctx, region, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
	}

	if r.windows != nil {
		// The next burst of changes waits in proportion to this reconcile's
		// cost, its status write included.
		defer func(start time.Time) { r.windows.observe(req.Name, time.Since(start)) }(time.Now())
	}
	base := region.DeepCopy()
	defer func() {
		reterr = errors.Join(reterr, r.patchStatus(ctx, base, region, reterr))
	}()

	if region.Spec.Paused {
		markPaused(region)
		return ctrl.Result{}, nil
	}
	if errs := shcrv1alpha1.ValidateRegion(region); len(errs) > 0 {
		markInvalid(region, errs.ToAggregate().Error())
		return ctrl.Result{}, reconcile.TerminalError(errs.ToAggregate())
	}

	// Nothing else may be written until the namespace is known to be the
	// region's own.
	if res, err := r.reconcileNamespace(ctx, region); err != nil || !res.IsZero() {
		return res, err
	}
	return phases.Run(withListing(ctx), region,
		r.reconcileTenancy,
		r.reconcileRecordService,
		r.reconcileGPConnect,
		r.reconcileGateway,
		r.reconcilePolicyBundle,
		r.reconcileCounts,
		r.reconcilePeers,
		r.reconcileDeparted,
	)
}

// reconcilePeers says whether every region in spec.peers exists. A region
// being deleted counts as missing. With no peers there is no condition.
func (r *Reconciler) reconcilePeers(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (ctrl.Result, error) {
	if len(region.Spec.Peers) == 0 {
		meta.RemoveStatusCondition(&region.Status.Conditions, shcrv1alpha1.ConditionPeersFound)
		return ctrl.Result{}, nil
	}
	var missing []string
	for _, name := range region.Spec.Peers {
		peer := &shcrv1alpha1.ShCRRegion{}
		err := r.Client.Get(ctx, client.ObjectKey{Name: name}, peer)
		if client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("reading peer region %s of region %s: %w", name, region.Name, err)
		}
		if err != nil || !peer.DeletionTimestamp.IsZero() {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		setCondition(region, shcrv1alpha1.ConditionPeersFound, metav1.ConditionFalse, shcrv1alpha1.ReasonPeersMissing,
			fmt.Sprintf("spec.peers: no ShCRRegion named %s exists; nothing is shared with a peer that does not exist", strings.Join(missing, ", ")))
		return ctrl.Result{}, nil
	}
	setCondition(region, shcrv1alpha1.ConditionPeersFound, metav1.ConditionTrue, shcrv1alpha1.ReasonPeersFound,
		fmt.Sprintf("every peer region exists: %s", strings.Join(region.Spec.Peers, ", ")))
	return ctrl.Result{}, nil
}

// applyAll applies objects in order and stops at the first error.
func (r *Reconciler) applyAll(ctx context.Context, objs ...client.Object) error {
	for _, obj := range objs {
		if _, err := r.applier.Apply(ctx, obj); err != nil {
			return fmt.Errorf("applying %T %s/%s: %w", obj, obj.GetNamespace(), obj.GetName(), err)
		}
	}
	return nil
}

func (r *Reconciler) reconcileNamespace(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (ctrl.Result, error) {
	name := shcrv1alpha1.NamespaceFor(region.Name)
	region.Status.Namespace = name

	live := &corev1.Namespace{}
	err := r.Client.Get(ctx, client.ObjectKey{Name: name}, live)
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("reading namespace %s of region %s: %w", name, region.Name, err)
	}
	if err == nil && !live.DeletionTimestamp.IsZero() {
		setCondition(region, shcrv1alpha1.ConditionNamespaceReady, metav1.ConditionFalse, shcrv1alpha1.ReasonNamespaceTerminating,
			fmt.Sprintf("namespace %s is being deleted; the region will be provisioned when it is gone", name))
		return ctrl.Result{RequeueAfter: namespaceRetry}, nil
	}
	// A namespace that exists but is not yet this region's (retained from an
	// earlier region of the same name) is adopted, with its data. The
	// cache may still show the earlier owner, or the retained mark, or both.
	owner := metav1.GetControllerOf(live)
	adopted := err == nil && (owner == nil || owner.UID != region.UID)

	if _, err := r.applier.Apply(ctx, specs.Namespace(region)); err != nil {
		if apply.IsNotOwned(err) {
			setCondition(region, shcrv1alpha1.ConditionNamespaceReady, metav1.ConditionFalse, shcrv1alpha1.ReasonNamespaceConflict, err.Error())
			return ctrl.Result{}, reconcile.TerminalError(err)
		}
		setCondition(region, shcrv1alpha1.ConditionNamespaceReady, metav1.ConditionFalse, shcrv1alpha1.ReasonApplyFailed, err.Error())
		return ctrl.Result{}, err
	}
	if adopted {
		// Adoption is a moment, not a state: an Event records it, and the
		// condition says so until the namespace is simply active.
		message := fmt.Sprintf("namespace %s, retained from an earlier region %s, was adopted with its data", name, region.Name)
		r.event(region, corev1.EventTypeNormal, shcrv1alpha1.ReasonNamespaceAdopted, "%s", message)
		setCondition(region, shcrv1alpha1.ConditionNamespaceReady, metav1.ConditionTrue, shcrv1alpha1.ReasonNamespaceAdopted, message)
		return ctrl.Result{}, nil
	}
	if c := findCondition(region, shcrv1alpha1.ConditionNamespaceReady); c == nil || c.Status != metav1.ConditionTrue {
		setCondition(region, shcrv1alpha1.ConditionNamespaceReady, metav1.ConditionTrue, shcrv1alpha1.ReasonNamespaceActive,
			fmt.Sprintf("namespace %s is active", name))
	}
	return ctrl.Result{}, nil
}

// reconcileTenancy applies what isolates and bounds the tenant: quota,
// limits, service accounts, admin RBAC, network policies and disruption budgets.
func (r *Reconciler) reconcileTenancy(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (ctrl.Result, error) {
	objs := []client.Object{specs.ResourceQuota(region), specs.LimitRange(region), specs.AdminRole(region), specs.AdminRoleBinding(region)}
	for _, sa := range specs.ServiceAccounts(region) {
		objs = append(objs, sa)
	}
	for _, np := range specs.NetworkPolicies(region) {
		objs = append(objs, np)
	}
	if r.OperatorNamespace != "" {
		objs = append(objs, specs.GatewayOperatorNetworkPolicy(region, r.OperatorNamespace))
	}
	for _, pdb := range specs.PodDisruptionBudgets(region) {
		objs = append(objs, pdb)
	}
	if err := r.applyAll(ctx, objs...); err != nil {
		return ctrl.Result{}, r.childFailed(region, shcrv1alpha1.ConditionNamespaceReady, err)
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) reconcileRecordService(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (ctrl.Result, error) {
	objs := []client.Object{}
	for _, svc := range specs.RecordServiceServices(region) {
		objs = append(objs, svc)
	}
	sts := specs.RecordServiceStatefulSet(region)
	if err := r.applyAll(ctx, append(objs, sts)...); err != nil {
		return ctrl.Result{}, r.childFailed(region, shcrv1alpha1.ConditionRecordServiceAvailable, err)
	}
	if err := r.clearRetainedClaims(ctx, region); err != nil {
		return ctrl.Result{}, err
	}
	live := &appsv1.StatefulSet{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(sts), live); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("reading record service StatefulSet %s/%s: %w", sts.Namespace, sts.Name, err)
	}
	status, reason, msg := statefulSetAvailability(live, "record service")
	setCondition(region, shcrv1alpha1.ConditionRecordServiceAvailable, status, reason, msg)
	region.Status.Endpoints.RecordService = specs.RecordServiceURL(region)
	return ctrl.Result{}, nil
}

// reconcileGateway applies the gateway's Service and workload: a StatefulSet
// with an audit volume per replica for the File sink, a Deployment for
// Stdout. The workload of the other kind, left by a change of sink, is
// removed once the new one is applied; the audit volumes stay.
func (r *Reconciler) reconcileGateway(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (ctrl.Result, error) {
	key := client.ObjectKey{Namespace: shcrv1alpha1.NamespaceFor(region.Name), Name: specs.GatewayName}
	withImage := specs.WithGatewayImage(region, r.GatewayImage)
	var desired, stale client.Object = specs.GatewayDeployment(withImage), &appsv1.StatefulSet{}
	staleKind := "StatefulSet"
	if specs.GatewayIsStatefulSet(region) {
		desired, stale, staleKind = specs.GatewayStatefulSet(withImage), &appsv1.Deployment{}, "Deployment"
	}
	if err := r.applyAll(ctx, specs.GatewayService(region), desired); err != nil {
		return ctrl.Result{}, r.childFailed(region, shcrv1alpha1.ConditionGatewayAvailable, err)
	}
	// Read from the cache first, so a steady region costs no API call.
	stale = kube.ForCache(stale)
	if err := r.Client.Get(ctx, key, stale); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("reading %T %s of region %s: %w", stale, key, region.Name, err)
	} else if err == nil && metav1.IsControlledBy(stale, region) {
		err := r.Client.Delete(ctx, stale, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, r.childFailed(region, shcrv1alpha1.ConditionGatewayAvailable,
				fmt.Errorf("removing the gateway's %s of the previous audit sink: %w", staleKind, err))
		}
	}
	var status metav1.ConditionStatus
	var reason, msg string
	switch desired.(type) {
	case *appsv1.StatefulSet:
		live := &appsv1.StatefulSet{}
		if err := r.Client.Get(ctx, key, live); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("reading StatefulSet %s of region %s: %w", key, region.Name, err)
		}
		status, reason, msg = statefulSetAvailability(live, "gateway")
	default:
		var err error
		if status, reason, msg, err = r.deployments.Availability(ctx, key); err != nil {
			return ctrl.Result{}, fmt.Errorf("gateway of region %s: %w", region.Name, err)
		}
	}
	setCondition(region, shcrv1alpha1.ConditionGatewayAvailable, status, reason, msg)
	// The gateway's /readyz refuses without an identity provider, whatever
	// a cluster that runs no probes (kwok) reports of the workload.
	if missing := specs.GatewayIdentityMissing(region); len(missing) > 0 {
		setCondition(region, shcrv1alpha1.ConditionGatewayIdentity, metav1.ConditionFalse, shcrv1alpha1.ReasonIdentityMissing,
			"the gateway cannot become Ready on a cluster: "+strings.Join(missing, ", ")+
				" not set, so it refuses every request and its readiness probe fails")
	} else {
		setCondition(region, shcrv1alpha1.ConditionGatewayIdentity, metav1.ConditionTrue, shcrv1alpha1.ReasonIdentityConfigured,
			"the gateway verifies tokens of spec.gateway.identity.issuer")
	}
	region.Status.Endpoints.Gateway = specs.GatewayURL(region)
	return ctrl.Result{}, nil
}

// reconcilePolicyBundle compiles the region's policy and stores it; the
// ConfigMap is written only when the bundle's bytes change.
func (r *Reconciler) reconcilePolicyBundle(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (ctrl.Result, error) {
	input, err := r.policyInput(ctx, region)
	if err != nil {
		return ctrl.Result{}, err
	}
	now := time.Now()
	gate, err := r.evaluateAssurance(ctx, region, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	input.Assurance = gate.Gate
	// Journey 2 shares only while both regions are assured: the peer's
	// gate cuts its cross-region agreements' grants.
	peerGates, peerNext, err := r.peerAssurance(ctx, input, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	input.PeerAssurance = peerGates
	started := time.Now()
	bundle := policy.Compile(input)
	encoded, err := bundle.Encode()
	var stored policy.Stored
	if err == nil {
		stored, err = policy.Store(encoded)
	}
	if err != nil {
		metrics.CompileErrors.WithLabelValues(region.Name).Inc()
		setCondition(region, shcrv1alpha1.ConditionPolicyCompiled, metav1.ConditionFalse, shcrv1alpha1.ReasonCompileFailed, err.Error())
		return ctrl.Result{}, err
	}
	metrics.CompileDuration.WithLabelValues(region.Name).Observe(time.Since(started).Seconds())
	metrics.BundleBytes.WithLabelValues(region.Name).Set(float64(len(stored.Data)))
	if err := r.applyAll(ctx, specs.PolicyBundleConfigMap(region, stored)); err != nil {
		return ctrl.Result{}, r.childFailed(region, shcrv1alpha1.ConditionPolicyCompiled, err)
	}
	revision := policy.Revision(encoded)
	region.Status.PolicyBundle = shcrv1alpha1.PolicyBundleStatus{
		ConfigMapName: specs.PolicyBundleName,
		Revision:      revision,
		SizeBytes:     int64(len(stored.Data)),
		Grants:        int32(len(bundle.Grants)),
	}
	setCondition(region, shcrv1alpha1.ConditionPolicyCompiled, metav1.ConditionTrue, shcrv1alpha1.ReasonCompiled,
		fmt.Sprintf("bundle %s.. with %d grants stored in ConfigMap %s as %s", revision[:12], len(bundle.Grants), specs.PolicyBundleName, stored.Name))
	requeue := r.recordAssurance(region, gate, now)
	if !peerNext.IsZero() {
		if d := peerNext.Sub(now) + assuranceSlack; requeue == 0 || d < requeue {
			requeue = d
		}
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// policyInput gathers the region's members, agreements and policies, and the
// peer regions' members named by its cross-region agreements.
func (r *Reconciler) policyInput(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (policy.Input, error) {
	// The cache's own objects, not copies: this is the operator's hottest
	// read at scale, and the governance conversions copy what they keep.
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	in := policy.Input{Region: region.Name}
	members, err := r.membersIn(ctx, ns)
	if err != nil {
		return in, fmt.Errorf("listing members of region %s: %w", region.Name, err)
	}
	in.Members = governance.PolicyMembers(members, region.Name)
	agreements, err := r.agreementsIn(ctx, ns)
	if err != nil {
		return in, fmt.Errorf("listing agreements of region %s: %w", region.Name, err)
	}
	// A second object holding an agreement version grants nothing (its
	// controller reports it Invalid); the ledger's highest approved version
	// of each agreement supersedes every lower one for good.
	kept, _ := governance.Distinct(agreements)
	ledger := &corev1.ConfigMap{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: shcrv1alpha1.NamespaceFor(region.Name), Name: governance.LedgerName}, ledger); client.IgnoreNotFound(err) != nil {
		return in, fmt.Errorf("reading the agreement ledger of region %s: %w", region.Name, err)
	}
	in.Successors = governance.Successors(ledger.Data)
	peers := map[string]bool{}
	for _, a := range kept {
		in.Agreements = append(in.Agreements, governance.PolicyAgreement(a))
		if a.Spec.Terms.Journey == shcrv1alpha1.JourneyCrossRegion {
			peers[a.Spec.Terms.PeerRegion] = true
		}
	}
	for peer := range peers {
		peerMembers, err := r.membersIn(ctx, shcrv1alpha1.NamespaceFor(peer))
		if err != nil {
			return in, fmt.Errorf("listing members of peer region %s of region %s: %w", peer, region.Name, err)
		}
		in.Members = append(in.Members, governance.PolicyMembers(peerMembers, peer)...)
	}
	policies := &shcrv1alpha1.AccessPolicyList{}
	if err := r.Client.List(ctx, policies, readOnly(ns)); err != nil {
		return in, fmt.Errorf("listing access policies of region %s: %w", region.Name, err)
	}
	for i := range policies.Items {
		in.Policies = append(in.Policies, governance.PolicyPolicy(&policies.Items[i]))
	}
	return in, nil
}

// readOnly lists a namespace from the cache without copying the objects:
// the caller must not change them.
func readOnly(namespace string) client.ListOption {
	return &client.ListOptions{Namespace: namespace, UnsafeDisableDeepCopy: ptr.To(true)}
}

// reconcileCounts reports how many members and active agreements the region has.
func (r *Reconciler) reconcileCounts(ctx context.Context, region *shcrv1alpha1.ShCRRegion) (ctrl.Result, error) {
	ns := shcrv1alpha1.NamespaceFor(region.Name)
	members, err := r.membersIn(ctx, ns)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("listing members of region %s: %w", region.Name, err)
	}
	agreements, err := r.agreementsIn(ctx, ns)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("listing agreements of region %s: %w", region.Name, err)
	}
	region.Status.MemberCount = int32(len(members))
	region.Status.ActiveAgreementCount = int32(recordAgreementMetrics(region.Name, agreements))
	recordMemberMetrics(region.Name, members)
	return ctrl.Result{}, nil
}

// recordAgreementMetrics exports agreements by phase and the end and review
// times of the Active ones, and returns how many are Active.
func recordAgreementMetrics(region string, agreements []shcrv1alpha1.DataSharingAgreement) int {
	for _, vec := range []*prometheus.GaugeVec{metrics.Agreements, metrics.AgreementEnds, metrics.AgreementReview} {
		vec.DeletePartialMatch(prometheus.Labels{"region": region})
	}
	byPhase := map[shcrv1alpha1.AgreementPhase]int{}
	for i := range agreements {
		a := &agreements[i]
		byPhase[a.Status.Phase]++
		if a.Status.Phase != shcrv1alpha1.PhaseActive {
			continue
		}
		version := strconv.Itoa(int(a.Spec.Version))
		metrics.AgreementEnds.WithLabelValues(region, a.Spec.AgreementID, version).Set(float64(a.Spec.Terms.EndsOn.Unix()))
		if a.Spec.Terms.ReviewDate != nil {
			metrics.AgreementReview.WithLabelValues(region, a.Spec.AgreementID, version).Set(float64(a.Spec.Terms.ReviewDate.Unix()))
		}
	}
	for phase, n := range byPhase {
		if phase != "" {
			metrics.Agreements.WithLabelValues(region, string(phase)).Set(float64(n))
		}
	}
	return byPhase[shcrv1alpha1.PhaseActive]
}

// recordMemberMetrics exports how many organisations are Admitted or not.
func recordMemberMetrics(region string, members []shcrv1alpha1.MemberOrganisation) {
	admitted := 0
	for i := range members {
		if meta.IsStatusConditionTrue(members[i].Status.Conditions, shcrv1alpha1.ConditionAdmitted) {
			admitted++
		}
	}
	metrics.Members.WithLabelValues(region, "true").Set(float64(admitted))
	metrics.Members.WithLabelValues(region, "false").Set(float64(len(members) - admitted))
}

// clearRetainedClaims removes the retained marks from the record service's
// volume claims once a re-created region has adopted them.
func (r *Reconciler) clearRetainedClaims(ctx context.Context, region *shcrv1alpha1.ShCRRegion) error {
	claims := kube.MetadataList(&corev1.PersistentVolumeClaimList{}) // cached as metadata only
	if err := r.Client.List(ctx, claims, client.InNamespace(shcrv1alpha1.NamespaceFor(region.Name)),
		client.MatchingLabels{shcrv1alpha1.LabelRetained: "true"}); err != nil {
		return fmt.Errorf("listing retained claims of region %s: %w", region.Name, err)
	}
	for i := range claims.Items {
		claim := &claims.Items[i]
		before := claim.DeepCopy()
		delete(claim.Labels, shcrv1alpha1.LabelRetained)
		delete(claim.Annotations, shcrv1alpha1.AnnotationRetainedAt)
		if err := r.Client.Patch(ctx, claim, client.MergeFrom(before)); err != nil {
			return fmt.Errorf("clearing retained mark of claim %s: %w", claim.Name, err)
		}
	}
	return nil
}

// childFailed records a failed apply on the condition it affects. An object
// the operator does not own stalls the region; anything else is retried.
func (r *Reconciler) childFailed(region *shcrv1alpha1.ShCRRegion, conditionType string, err error) error {
	if apply.IsNotOwned(err) {
		setCondition(region, conditionType, metav1.ConditionFalse, shcrv1alpha1.ReasonChildConflict, err.Error())
		return reconcile.TerminalError(err)
	}
	setCondition(region, conditionType, metav1.ConditionFalse, shcrv1alpha1.ReasonApplyFailed, err.Error())
	return err
}
