/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/controllers/internal/phases"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/index"
	"github.com/shcr-io/shcr-operator/internal/kube"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

// Requeue intervals for what no watch reports: the credentials Secret, which
// the operator reads by name instead of caching every Secret.
const (
	credentialsMissingRetry = 30 * time.Second
	credentialsRecheck      = 10 * time.Minute
)

// Credential key sets a connector Secret may hold.
var credentialKeySets = [][]string{{"client-id", "client-secret"}, {"tls.crt", "tls.key"}}

// Reconcile admits or refuses one organisation and runs its connector.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	member := &shcrv1alpha1.MemberOrganisation{}
	live, err := phases.Get(ctx, r.Client, "MemberOrganisation", req, member)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !live { // gone or being deleted: the connector is owned and garbage-collected
		r.board.forget(req.NamespacedName)
		r.credentials.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	base := member.DeepCopy()
	defer func() {
		reterr = errors.Join(reterr, r.patchStatus(ctx, base, member, reterr))
	}()

	region, err := phases.RegionOf(ctx, r.Client, "MemberOrganisation", member, func() {
		r.refuse(ctx, member, shcrv1alpha1.ReasonNotInRegion,
			fmt.Sprintf("namespace %s is not a region namespace: create MemberOrganisations in shcr-<region>", member.Namespace))
	})
	if err != nil {
		return ctrl.Result{}, err
	}
	same := &shcrv1alpha1.MemberOrganisationList{}
	if err := r.Client.List(ctx, same, client.MatchingFields{index.MemberODSCode: member.Spec.ODSCode}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the holders of ODS code %s of MemberOrganisation %s: %w", member.Spec.ODSCode, key(member), err)
	}
	if errs := governance.UniqueODSCode(member, same.Items); len(errs) > 0 {
		r.refuse(ctx, member, shcrv1alpha1.ReasonDuplicateODSCode, errs.ToAggregate().Error())
		return ctrl.Result{}, reconcile.TerminalError(errs.ToAggregate())
	}
	// A spec the CRD's rules would refuse today (stored before they existed,
	// or with them bypassed) admits nothing and writes no connector: its
	// endpoint may carry credentials.
	if errs := shcrv1alpha1.ValidateMember(member); len(errs) > 0 {
		r.refuse(ctx, member, shcrv1alpha1.ReasonInvalidSpec, errs.ToAggregate().Error())
		return ctrl.Result{}, reconcile.TerminalError(errs.ToAggregate())
	}

	// Each phase builds on what the ones before it found.
	return phases.RunInOrder(ctx, &scope{member: member, region: region, key: req.NamespacedName, now: r.Now(),
		providedBefore: slices.Clone(member.Status.ProvidesCategories)},
		r.reconcileAdmission,
		r.reconcileAgreements,
		r.deployConnector,
		r.reportConnectorStatus,
		r.grantSignatories,
	)
}

// scope is one reconcile of an organisation: the organisation, its region,
// the clock, and what each phase found for the phases after it.
type scope struct {
	member *shcrv1alpha1.MemberOrganisation
	region string
	key    types.NamespacedName
	now    time.Time
	// admitted: its governance admits it and its connector's credentials
	// are present.
	admitted bool
	// providedBefore: the categories status said it provided before this
	// reconcile, against which a narrowing is found.
	providedBefore []shcrv1alpha1.DataCategory
}

// grantSignatories lets the organisation's signatories, and no one else,
// approve agreements for it: a Role granting approve on its ODS code
// (specs.SignatoriesRole), bound to spec.signatories. The API server checks
// that permission before it admits an approval (the admission policy
// shcr-approval-signatory), in constant time whatever the region's size;
// the agreement controller counts an approval only while its recorder is
// still a signatory, so a grant outlived by an edit while the operator was
// down admits an approval that never counts.
func (r *Reconciler) grantSignatories(ctx context.Context, s *scope) (ctrl.Result, error) {
	// The Role first: without the bind verb (which the operator does not
	// hold), the API server admits a RoleBinding only when it can read the
	// Role's rules and the operator holds them.
	if _, err := r.applyAll(ctx, s.member, []client.Object{specs.SignatoriesRole(s.region, s.member)}); err != nil {
		return ctrl.Result{}, fmt.Errorf("granting the signatories of member %s/%s: %w", s.member.Namespace, s.member.Name, err)
	}
	if _, err := r.applyAll(ctx, s.member, []client.Object{specs.SignatoriesRoleBinding(s.region, s.member)}); err != nil {
		return ctrl.Result{}, fmt.Errorf("granting the signatories of member %s/%s: %w", s.member.Namespace, s.member.Name, err)
	}
	return ctrl.Result{}, nil
}

// reconcileAdmission admits the organisation or not, from its governance and
// its connector's credentials, and re-checks on the second its DSPT
// assessment expires.
func (r *Reconciler) reconcileAdmission(ctx context.Context, s *scope) (ctrl.Result, error) {
	member := s.member
	admission := governance.Admit(member, s.now)
	credentialsOK, requeue, err := r.checkCredentials(ctx, member)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("checking the credentials Secret of member %s/%s: %w", member.Namespace, member.Name, err)
	}
	s.admitted = markAdmission(member, admission, credentialsOK)
	if s.admitted {
		// Re-check on the second the DSPT assessment expires.
		if untilExpiry := admission.ExpiresAt.Sub(s.now); untilExpiry < requeue {
			requeue = untilExpiry
		}
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// reconcileAgreements reports the agreements naming the organisation and
// the categories it may provide and consume now, and records a narrowing of
// what it provides for the purge before anything else can fail (a narrowing
// written to status with no purge recorded would be lost: purge.go).
func (r *Reconciler) reconcileAgreements(ctx context.Context, s *scope) (ctrl.Result, error) {
	if err := r.reportAgreements(ctx, s.member, s.admitted); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the agreements of member %s/%s: %w", s.member.Namespace, s.member.Name, err)
	}
	if err := r.recordProvider(ctx, s); err != nil {
		return ctrl.Result{}, fmt.Errorf("recording member %s/%s as a provider: %w", s.member.Namespace, s.member.Name, err)
	}
	purgeRecheck, err := r.reconcilePurge(ctx, s.member, s.region, s.providedBefore, s.admitted)
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: purgeRecheck}, nil
}

// recordProvider makes the organisation's provider record
// (specs.ProviderRecord) name every category it may provide now, before
// its status says so and before its connector is configured with them:
// the region purges what the record names once the object is gone. A
// record only ever gains categories; it is read from the API server and
// written with its resourceVersion whenever it must change, so a stale
// cache can never take one away. When the cached copy already names them
// all, nothing is read or written.
func (r *Reconciler) recordProvider(ctx context.Context, s *scope) error {
	member := s.member
	provides := member.Status.ProvidesCategories
	if len(provides) == 0 {
		return nil
	}
	key := client.ObjectKey{Namespace: member.Namespace, Name: specs.ProviderRecordName(member.UID)}
	cached := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, key, cached)
	switch {
	case apierrors.IsNotFound(err):
		// The first record: created outright (one round trip); if the cache
		// lagged one already there, the create fails and it is read below.
		err = r.Client.Create(ctx, specs.ProviderRecordConfigMap(s.region, member.Namespace, specs.ProviderRecord{
			ODSCode: member.Spec.ODSCode, Member: member.Name, MemberUID: member.UID, Categories: specs.UnionCategories(nil, provides),
		}))
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
	case err != nil:
		return err
	default:
		if rec, err := specs.ParseProviderRecord(cached); err == nil && len(specs.UnionCategories(rec.Categories, provides)) == len(rec.Categories) {
			return nil
		}
	}
	live := &corev1.ConfigMap{}
	if err := r.APIReader.Get(ctx, key, live); err != nil {
		return err
	}
	rec, _ := specs.ParseProviderRecord(live) // what cannot be read is rewritten from this object
	all := specs.UnionCategories(rec.Categories, provides)
	if rec.ODSCode == member.Spec.ODSCode && len(all) == len(rec.Categories) && rec.Member == member.Name {
		return nil
	}
	desired := specs.ProviderRecordConfigMap(s.region, member.Namespace, specs.ProviderRecord{
		ODSCode: member.Spec.ODSCode, Member: member.Name, MemberUID: member.UID, Categories: all,
	})
	live.Labels, live.Data, live.BinaryData = desired.Labels, desired.Data, nil
	return r.Client.Update(ctx, live)
}

// deployConnector runs or removes the organisation's connector
// (reconcileConnector).
func (r *Reconciler) deployConnector(ctx context.Context, s *scope) (ctrl.Result, error) {
	return ctrl.Result{}, r.reconcileConnector(ctx, s.member, s.region, s.admitted)
}

// reportConnectorStatus shows the running connector's latest report, and
// reads it again every connectorStatusRefresh; without a running connector
// there is nothing to show.
func (r *Reconciler) reportConnectorStatus(_ context.Context, s *scope) (ctrl.Result, error) {
	member := s.member
	var result ctrl.Result
	if runsConnector(member) && meta.IsStatusConditionTrue(member.Status.Conditions, shcrv1alpha1.ConditionConnectorAvailable) {
		r.reportConnector(member)
		result.RequeueAfter = connectorStatusRefresh
	} else {
		member.Status.Connector = nil
		r.board.forget(s.key)
	}
	showKindAndMode(member, s.admitted)
	return result, nil
}

// runsConnector says whether the organisation runs a connector Deployment:
// a Provider with a connector other than GP Connect (which the gateway
// reads) that may provide a category now. It is read after
// reconcileAgreements has set the categories.
func runsConnector(member *shcrv1alpha1.MemberOrganisation) bool {
	return member.Spec.Connector != nil && hasRole(member, shcrv1alpha1.RoleProvider) && !specs.IsGPConnect(member) &&
		len(member.Status.ProvidesCategories) > 0
}

// refuse marks an organisation that cannot be admitted whatever its
// governance says, and removes its connector.
func (r *Reconciler) refuse(ctx context.Context, member *shcrv1alpha1.MemberOrganisation, reason, message string) {
	markRefused(member, reason, message)
	r.holdPurge(member, reason)
	if err := r.removeConnector(ctx, member); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Removing the connector of a refused organisation")
	}
	// A refused object (a duplicate ODS code, outside a region, an invalid
	// spec) lets no one approve for the code.
	if err := r.removeOwned(ctx, member, specs.SignatoriesName(member), &rbacv1.RoleBinding{}, &rbacv1.Role{}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Removing the signatories' grant of a refused organisation")
	}
}

func key(o client.Object) string { return o.GetNamespace() + "/" + o.GetName() }

// checkCredentials reads the connector's Secret by name and checks it holds
// one complete set of credential keys. It never logs or stores the values.
func (r *Reconciler) checkCredentials(ctx context.Context, member *shcrv1alpha1.MemberOrganisation) (bool, time.Duration, error) {
	c := member.Spec.Connector
	if c == nil {
		setCondition(member, shcrv1alpha1.ConditionCredentialsFound, metav1.ConditionTrue, shcrv1alpha1.ReasonNoConnector,
			"the organisation has no connector and needs no credentials")
		return true, credentialsRecheck, nil
	}
	if c.Kind == shcrv1alpha1.ConnectorGPConnect {
		setCondition(member, shcrv1alpha1.ConditionCredentialsFound, metav1.ConditionTrue, shcrv1alpha1.ReasonReadByGateway,
			"kind GPConnect has no credentials of its own: the gateway calls the practice with the region's (spec.gateway.gpConnect)")
		return true, credentialsRecheck, nil
	}
	if message, ok := r.credentials.recent(member, r.Now()); ok {
		setCondition(member, shcrv1alpha1.ConditionCredentialsFound, metav1.ConditionTrue, shcrv1alpha1.ReasonCredentialsFound, message)
		return true, credentialsRecheck, nil
	}
	secret := &corev1.Secret{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: member.Namespace, Name: c.CredentialsSecretRef.Name}, secret)
	if client.IgnoreNotFound(err) != nil {
		return false, 0, err
	}
	if err != nil {
		r.credentials.forget(client.ObjectKeyFromObject(member))
		setCondition(member, shcrv1alpha1.ConditionCredentialsFound, metav1.ConditionFalse, shcrv1alpha1.ReasonCredentialsMissing,
			fmt.Sprintf("spec.connector.credentialsSecretRef: Secret %s not found", c.CredentialsSecretRef.Name))
		return false, credentialsMissingRetry, nil
	}
	sets, need := credentialKeySets, "client-id and client-secret, or tls.crt and tls.key"
	if c.Kind == shcrv1alpha1.ConnectorHL7v2 {
		// The MLLP listener serves TLS with the organisation's certificate.
		sets, need = [][]string{{"tls.crt", "tls.key"}}, "tls.crt and tls.key (and ca.crt to require the sender's client certificate) for the MLLP listener"
	}
	if c.Kind == shcrv1alpha1.ConnectorFHIR && c.Mode == shcrv1alpha1.ConnectorPush {
		sets, need = pushCredentialKeySets, pushCredentialsNeed
	}
	for _, keys := range sets {
		if hasKeys(secret, keys) {
			message := fmt.Sprintf("Secret %s holds %s", secret.Name, strings.Join(keys, " and "))
			setCondition(member, shcrv1alpha1.ConditionCredentialsFound, metav1.ConditionTrue, shcrv1alpha1.ReasonCredentialsFound, message)
			r.credentials.found(member, message, r.Now())
			return true, credentialsRecheck, nil
		}
	}
	setCondition(member, shcrv1alpha1.ConditionCredentialsFound, metav1.ConditionFalse, shcrv1alpha1.ReasonCredentialsMissing,
		fmt.Sprintf("spec.connector.credentialsSecretRef: Secret %s must hold %s", secret.Name, need))
	return false, credentialsMissingRetry, nil
}

func hasKeys(secret *corev1.Secret, keys []string) bool {
	for _, k := range keys {
		if len(secret.Data[k]) == 0 && secret.StringData[k] == "" {
			return false
		}
	}
	return true
}

// reportAgreements lists the agreements naming the organisation, and the
// categories it may provide and consume now: those of Active agreements under
// which it is an effective party.
func (r *Reconciler) reportAgreements(ctx context.Context, member *shcrv1alpha1.MemberOrganisation, admitted bool) error {
	agreements := &shcrv1alpha1.DataSharingAgreementList{}
	if err := r.Client.List(ctx, agreements, client.InNamespace(member.Namespace),
		client.MatchingFields{index.AgreementParty: member.Spec.ODSCode}); err != nil {
		return err
	}
	var names []string
	categories := map[shcrv1alpha1.DataCategory]bool{}
	for i := range agreements.Items {
		a := &agreements.Items[i]
		names = append(names, fmt.Sprintf("%s/v%d", a.Spec.AgreementID, a.Spec.Version))
		if !admitted || a.Status.Phase != shcrv1alpha1.PhaseActive || !effectiveParty(a, member.Spec.ODSCode) {
			continue
		}
		for _, c := range a.Spec.Terms.DataCategories {
			categories[c] = true
		}
	}
	slices.Sort(names)
	member.Status.Agreements = names
	var cats []shcrv1alpha1.DataCategory
	for _, c := range shcrv1alpha1.AllCategories {
		if categories[c] {
			cats = append(cats, c)
		}
	}
	member.Status.ProvidesCategories, member.Status.ConsumesCategories = nil, nil
	if hasRole(member, shcrv1alpha1.RoleProvider) {
		member.Status.ProvidesCategories = cats
	}
	if hasRole(member, shcrv1alpha1.RoleConsumer) {
		member.Status.ConsumesCategories = cats
	}
	return nil
}

func effectiveParty(a *shcrv1alpha1.DataSharingAgreement, code string) bool {
	for _, p := range a.Status.Parties {
		if p.ODSCode == code {
			return p.Effective
		}
	}
	return false
}

func hasRole(member *shcrv1alpha1.MemberOrganisation, role shcrv1alpha1.OrganisationRole) bool {
	return slices.Contains(member.Spec.Roles, role)
}

// reconcileConnector runs the connector of an admitted Provider, configured
// with the categories it may provide now, and removes it otherwise.
func (r *Reconciler) reconcileConnector(ctx context.Context, member *shcrv1alpha1.MemberOrganisation, region string, admitted bool) error {
	switch {
	case member.Spec.Connector == nil || !hasRole(member, shcrv1alpha1.RoleProvider):
		setCondition(member, shcrv1alpha1.ConditionConnectorAvailable, metav1.ConditionTrue, shcrv1alpha1.ReasonNoConnector,
			"the organisation provides no records, so it runs no connector")
		return r.removeConnector(ctx, member)
	case !admitted:
		setCondition(member, shcrv1alpha1.ConditionConnectorAvailable, metav1.ConditionFalse, shcrv1alpha1.ReasonNotAdmitted,
			"the organisation is not Admitted: its connector is removed and it contributes nothing")
		return r.removeConnector(ctx, member)
	case member.Spec.Connector.Kind == shcrv1alpha1.ConnectorGPConnect:
		return r.reconcileGPConnect(ctx, member, region)
	case len(member.Status.ProvidesCategories) == 0:
		// Nothing to forward: no connector objects are written until an
		// agreement grants a category (so its ConfigMap is written once,
		// with the categories), and an organisation whose last category
		// goes has its connector removed, which also lets the purge of
		// what it provided start (purge.go). The state claim is kept.
		setCondition(member, shcrv1alpha1.ConditionConnectorAvailable, metav1.ConditionTrue, shcrv1alpha1.ReasonNothingToProvide,
			"no Active agreement lets the organisation provide a category yet, so it runs no connector; one is deployed when an agreement does")
		return r.removeConnector(ctx, member)
	}
	var categories []string
	for _, c := range member.Status.ProvidesCategories {
		categories = append(categories, string(c))
	}
	deploy := specs.ConnectorDeployment(region, specs.WithConnectorImage(member, r.ConnectorImage))
	cm := specs.ConnectorConfigMap(region, member, categories)
	np := specs.ConnectorNetworkPolicy(region, member, r.OperatorNamespace)
	if err := r.withPushIdentity(ctx, region, member, cm, deploy, np); err != nil {
		return err
	}
	// What the Deployment's pods need comes first: the NetworkPolicy must
	// confine them from their first start, and their ServiceAccount, state
	// claim and configuration must exist. Those five are independent of
	// each other and applied at once (one round trip instead of five on a
	// first deploy); the Deployment follows when all five hold.
	for _, stage := range [][]client.Object{
		{specs.ConnectorServiceAccount(region, member), specs.ConnectorStateClaim(region, member), cm, np, specs.ConnectorService(region, member)},
		{deploy},
	} {
		if obj, err := r.applyAll(ctx, member, stage); err != nil {
			setCondition(member, shcrv1alpha1.ConditionConnectorAvailable, metav1.ConditionFalse, shcrv1alpha1.ReasonApplyFailed, err.Error())
			return fmt.Errorf("applying connector %T %s/%s of member %s: %w", obj, obj.GetNamespace(), obj.GetName(), member.Name, err)
		}
	}
	status, reason, msg, err := r.deployments.Availability(ctx, client.ObjectKeyFromObject(deploy))
	if err != nil {
		return fmt.Errorf("connector of member %s: %w", member.Name, err)
	}
	setCondition(member, shcrv1alpha1.ConditionConnectorAvailable, status, reason, msg)
	return nil
}

// applyAll applies objects concurrently. It returns the first object, in
// the order given, whose apply failed, with its error.
func (r *Reconciler) applyAll(ctx context.Context, member *shcrv1alpha1.MemberOrganisation, objs []client.Object) (client.Object, error) {
	errs := make([]error, len(objs))
	var wg sync.WaitGroup
	for i, obj := range objs {
		wg.Go(func() {
			errs[i] = r.replaceWithClusterIP(ctx, member, obj)
			if errs[i] == nil {
				_, errs[i] = r.applier.Apply(ctx, obj)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return objs[i], err
		}
	}
	return nil, nil
}

// replaceWithClusterIP deletes the member's connector Service if it still
// has a cluster IP (as operator versions before headless connector Services
// made it): a Service's cluster IP cannot change, so the apply would fail.
// The apply that follows creates the headless one.
func (r *Reconciler) replaceWithClusterIP(ctx context.Context, member *shcrv1alpha1.MemberOrganisation, desired client.Object) error {
	if _, ok := desired.(*corev1.Service); !ok {
		return nil
	}
	// The cache holds Services as metadata: the Service is read in full
	// only when it changed since the operator last applied or checked it.
	cached := kube.ForCache(&corev1.Service{})
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(desired), cached); err != nil || r.applier.UpToDate(desired, cached) {
		return client.IgnoreNotFound(err)
	}
	if owner := metav1.GetControllerOf(cached); owner == nil || owner.UID != member.UID {
		return nil
	}
	live := &corev1.Service{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return client.IgnoreNotFound(err)
	}
	if owner := metav1.GetControllerOf(live); owner == nil || owner.UID != member.UID || live.Spec.ClusterIP == "" || live.Spec.ClusterIP == corev1.ClusterIPNone {
		return nil
	}
	return client.IgnoreNotFound(r.Client.Delete(ctx, live, client.Preconditions{UID: &live.UID}))
}

// removeConnector deletes the connector's objects that exist.
func (r *Reconciler) removeConnector(ctx context.Context, member *shcrv1alpha1.MemberOrganisation) error {
	r.deployments.Forget(client.ObjectKey{Namespace: member.Namespace, Name: specs.ConnectorName(member)})
	return r.removeOwned(ctx, member, specs.ConnectorName(member),
		&appsv1.Deployment{}, &corev1.ConfigMap{}, &networkingv1.NetworkPolicy{}, &corev1.Service{}, &corev1.ServiceAccount{})
}

// removeOwned deletes the objects of the given kinds named objectName that
// the member controls.
func (r *Reconciler) removeOwned(ctx context.Context, member *shcrv1alpha1.MemberOrganisation, objectName string, kinds ...client.Object) error {
	name := client.ObjectKey{Namespace: member.Namespace, Name: objectName}
	for _, kind := range kinds {
		obj := kube.ForCache(kind)
		if err := r.Client.Get(ctx, name, obj); err != nil {
			if client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("reading connector %T %s of member %s/%s: %w", obj, name.Name, member.Namespace, member.Name, err)
			}
			continue
		}
		if owner := metav1.GetControllerOf(obj); owner == nil || owner.UID != member.UID {
			continue
		}
		if err := r.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing %T %s of member %s/%s: %w", obj, name, member.Namespace, member.Name, err)
		}
	}
	return nil
}
