/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package resilience

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/apply"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/testenv"
	"github.com/shcr-io/shcr-operator/test/writes"
)

// signers is the group of the Caldicott Guardians who approve agreements.
const signers = "signers"

// The organisations of an onboarding, a GP practice and an acute trust; a
// council that joins later; and an organisation that is never a member.
const gpCode, trustCode, councilCode, strangerCode = "W86001", "RW1", "W15", "Y99999"

// agreedCategories are what the agreement shares; the policy grants the
// clinicians two of them.
var (
	agreedCategories = []shcrv1alpha1.DataCategory{
		shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryAllergies, shcrv1alpha1.CategoryTestResults,
	}
	grantedCategories = agreedCategories[:2]
)

// startCluster starts envtest with no operator and lets the signers approve
// agreements in every namespace: the region admin Role the operator would
// give them may not exist yet when an operator has crashed.
func startCluster(t *testing.T) *testenv.Cluster {
	t.Helper()
	c, err := testenv.StartCluster(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "agreement-signers"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{shcrv1alpha1.GroupVersion.Group}, Resources: []string{"datasharingagreements"},
			Verbs: []string{"get", "update"}}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: signers}},
	}
	for _, obj := range append([]client.Object{role, binding}, fixtures.AssurancePanelRBAC()...) {
		if err := c.Client.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// startManager starts the operator, counting the writes it makes in w.
func startManager(t *testing.T, c *testenv.Cluster, w *writes.Counter) *testenv.Manager {
	t.Helper()
	m, err := c.StartManager(func(cl client.Client, _ func()) client.Client { return w.Wrap(cl) })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// onboarding is a region with two organisations, an agreement between them
// approved by both so that it is Active, and a policy granting their
// clinicians (R8000) part of the agreed scope.
type onboarding struct {
	c           *testenv.Cluster
	region, ns  string
	from, until time.Time
	agreementID string
	agreement   string
	policy      string
	members     []*shcrv1alpha1.MemberOrganisation
}

// newOnboarding describes an onboarding of region; from and until are the
// agreement's window, the same for every region so their bundles compare.
func newOnboarding(c *testenv.Cluster, region string, from, until time.Time) *onboarding {
	return &onboarding{
		c: c, region: region, ns: shcrv1alpha1.NamespaceFor(region), from: from, until: until,
		agreementID: "SHARE-001", agreement: "dsa", policy: "clinicians",
		members: []*shcrv1alpha1.MemberOrganisation{
			fixtures.Member(shcrv1alpha1.NamespaceFor(region), "gp", gpCode, "GPPractice"),
			fixtures.Member(shcrv1alpha1.NamespaceFor(region), "trust", trustCode, "NHSTrust"),
		},
	}
}

// createRegion creates the region, the only object that can exist before
// the operator has created the region's namespace, and has its assurance
// panel's chair assure every IG Framework requirement (recording themself:
// no webhook runs to do it) for an hour either side of the agreement, the
// same for every region so their bundles compare.
func (o *onboarding) createRegion(t *testing.T) {
	t.Helper()
	o.create(t, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: o.region}, Spec: shcrv1alpha1.ShCRRegionSpec{
		DisplayName: "Region " + o.region, Admins: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: signers}},
		Assurance: shcrv1alpha1.RegionAssurance{Panel: fixtures.AssurancePanel()},
	}})
	chair, err := o.c.As(fixtures.AssurancePanelChair, fixtures.AssurancePanelGroup)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.AssureRegion(context.Background(), chair, o.region, o.from.Add(-time.Hour), o.until.Add(time.Hour)); err != nil {
		t.Fatalf("assuring region %s: %v", o.region, err)
	}
}

// namespaceExists reports whether the operator has created the region's
// namespace, which the admission policy requires of everything else.
func (o *onboarding) namespaceExists(t *testing.T) bool {
	t.Helper()
	err := o.c.Client.Get(context.Background(), client.ObjectKey{Name: o.ns}, &corev1.Namespace{})
	if client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	return err == nil
}

// createTheRest creates, as quickly as a GitOps tool would, the members with
// their credentials, the agreement with both approvals, and the policy.
func (o *onboarding) createTheRest(t *testing.T) {
	t.Helper()
	o.createMembersAndAgreement(t)
	o.approveAndPolicy(t)
}

// createMembersAndAgreement creates the members, their credentials and the
// agreement.
func (o *onboarding) createMembersAndAgreement(t *testing.T) {
	t.Helper()
	for _, m := range o.members {
		o.create(t, fixtures.Credentials(o.ns, m.Spec.Connector.CredentialsSecretRef.Name))
		o.create(t, m)
	}
	o.create(t, fixtures.Agreement(o.ns, o.agreement, o.agreementID, 1, agreedCategories, o.from, o.until, gpCode, trustCode))
}

// approveAndPolicy approves the agreement for both parties (each signatory
// once the operator has granted it) and creates the policy.
func (o *onboarding) approveAndPolicy(t *testing.T) {
	t.Helper()
	for _, code := range []string{gpCode, trustCode} {
		o.approve(t, o.agreement, code)
	}
	o.create(t, fixtures.AccessPolicy(o.ns, o.policy, o.agreementID, []string{"R8000"}, nil, grantedCategories...))
}

// granted says whether the operator has granted every member's signatories
// the permission to approve for it, which the API server checks before it
// admits an approval.
func (o *onboarding) granted(t *testing.T) bool {
	t.Helper()
	for _, m := range o.members {
		b := &rbacv1.RoleBinding{}
		if err := o.c.Client.Get(context.Background(), client.ObjectKey{Namespace: o.ns, Name: specs.SignatoriesName(m)}, b); err != nil || len(b.Subjects) == 0 {
			return false
		}
	}
	return true
}

// approve adds code's approval of an agreement as its Caldicott Guardian,
// who records themself (no webhook runs to do it).
func (o *onboarding) approve(t *testing.T, agreement, code string) {
	t.Helper()
	user := "caldicott@" + code
	signer, err := o.c.As(user, signers)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "approval by "+code, 30*time.Second, func() (bool, string) {
		a := &shcrv1alpha1.DataSharingAgreement{}
		if err := o.c.Client.Get(context.Background(), client.ObjectKey{Namespace: o.ns, Name: agreement}, a); err != nil {
			return false, err.Error()
		}
		a.Spec.Approvals = append(a.Spec.Approvals, shcrv1alpha1.Approval{Organisation: code, Signatory: "CG " + code,
			Role: "CaldicottGuardian", Date: metav1.NewTime(time.Now().Truncate(time.Second)), RecordedBy: user})
		err := signer.Update(context.Background(), a)
		return err == nil, fmt.Sprint(err)
	})
}

func (o *onboarding) create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := o.c.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitOnboarded waits until the onboarding is done.
func (o *onboarding) waitOnboarded(t *testing.T) {
	t.Helper()
	testenv.WaitFor(t, "the onboarding of "+o.region, time.Minute, func() (bool, string) { return o.onboarded(t) })
}

// onboarded reports whether the operator has admitted both organisations,
// activated the agreement, put the policy in force and compiled its grants.
func (o *onboarding) onboarded(t *testing.T) (bool, string) {
	t.Helper()
	s := o.state(t)
	for _, want := range []string{
		"MemberOrganisation gp Admitted=True", "MemberOrganisation trust Admitted=True",
		"DataSharingAgreement dsa phase Active", "AccessPolicy clinicians InForce=True",
	} {
		if !slices.ContainsFunc(s.Status, func(line string) bool { return strings.HasPrefix(line, want) }) {
			return false, "waiting for " + want
		}
	}
	return s.Grants != "null" && s.Grants != "", s.Grants
}

// state is what the operator made of an onboarding, with the region's name
// replaced by REGION so that two regions' states compare.
type state struct {
	// Children are the objects in the region's namespace, and the
	// namespace itself: kind, name and controller.
	Children []string
	// Contents are the children's contents by kind and name.
	Contents map[string]string
	// Status is each custom resource's phase and conditions (type, status
	// and reason; messages carry names and counts of the moment).
	Status []string
	// Grants is the compiled bundle's grants, read back from its ConfigMap.
	Grants string
}

// childKinds are the kinds the operator creates in a region's namespace,
// listed whatever their labels, so that an object it lost track of counts.
var childKinds = []client.ObjectList{
	&corev1.ServiceAccountList{}, &corev1.ServiceList{}, &corev1.ConfigMapList{}, &corev1.ResourceQuotaList{},
	&corev1.LimitRangeList{}, &corev1.PersistentVolumeClaimList{}, &appsv1.StatefulSetList{}, &appsv1.DeploymentList{},
	&networkingv1.NetworkPolicyList{}, &policyv1.PodDisruptionBudgetList{}, &rbacv1.RoleList{}, &rbacv1.RoleBindingList{},
}

func (o *onboarding) state(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	k8s := o.c.Client
	var s state

	owners := map[string]string{} // kind/name → uid
	region := &shcrv1alpha1.ShCRRegion{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: o.region}, region); err != nil {
		t.Fatal(err)
	}
	owners["ShCRRegion/"+region.Name] = string(region.UID)
	s.Status = append(s.Status, conditionLines("ShCRRegion "+region.Name, region.Status.Conditions)...)
	s.Status = append(s.Status, fmt.Sprintf("ShCRRegion %s counts members=%d active=%d grants=%d", region.Name,
		region.Status.MemberCount, region.Status.ActiveAgreementCount, region.Status.PolicyBundle.Grants))

	members := &shcrv1alpha1.MemberOrganisationList{}
	agreements := &shcrv1alpha1.DataSharingAgreementList{}
	policies := &shcrv1alpha1.AccessPolicyList{}
	for _, list := range []client.ObjectList{members, agreements, policies} {
		if err := k8s.List(ctx, list, client.InNamespace(o.ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range members.Items {
		owners["MemberOrganisation/"+m.Name] = string(m.UID)
		s.Status = append(s.Status, conditionLines("MemberOrganisation "+m.Name, m.Status.Conditions)...)
		s.Status = append(s.Status, fmt.Sprintf("MemberOrganisation %s provides %v consumes %v", m.Name,
			m.Status.ProvidesCategories, m.Status.ConsumesCategories))
	}
	for _, a := range agreements.Items {
		s.Status = append(s.Status, conditionLines("DataSharingAgreement "+a.Name, a.Status.Conditions)...)
		s.Status = append(s.Status, fmt.Sprintf("DataSharingAgreement %s phase %s parties %+v", a.Name, a.Status.Phase, a.Status.Parties))
	}
	for _, p := range policies.Items {
		s.Status = append(s.Status, conditionLines("AccessPolicy "+p.Name, p.Status.Conditions)...)
	}

	s.Contents = map[string]string{}
	child := func(kind string, obj client.Object) string {
		if cm, ok := obj.(*corev1.ConfigMap); ok && specs.IsProviderRecord(cm) {
			return providerRecordLine(t, cm, owners, o.region, s.Contents)
		}
		line := kind + " " + obj.GetName()
		s.Contents[strings.ReplaceAll(line, o.region, "REGION")] = strings.ReplaceAll(content(t, obj), o.region, "REGION")
		owner := metav1.GetControllerOf(obj)
		if owner == nil {
			return line + " with no controller"
		}
		line += " controlled by " + owner.Kind + " " + owner.Name
		if uid, ok := owners[owner.Kind+"/"+owner.Name]; !ok || uid != string(owner.UID) {
			line += " (which does not exist)"
		}
		return line
	}
	ns := &corev1.Namespace{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: o.ns}, ns); err == nil {
		s.Children = append(s.Children, child("Namespace", ns))
	} else if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	for _, list := range childKinds {
		if err := k8s.List(ctx, list, client.InNamespace(o.ns)); err != nil {
			t.Fatal(err)
		}
		kind := strings.TrimSuffix(fmt.Sprintf("%T", list), "List")
		kind = kind[strings.LastIndex(kind, ".")+1:]
		if err := meta.EachListItem(list, func(obj runtime.Object) error {
			s.Children = append(s.Children, child(kind, obj.(client.Object)))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	if b, ok := o.bundle(t); ok {
		grants, err := json.Marshal(b.Grants)
		if err != nil {
			t.Fatal(err)
		}
		s.Grants = strings.ReplaceAll(string(grants), o.region, "REGION")
	}
	slices.Sort(s.Children)
	slices.Sort(s.Status)
	for _, lines := range [][]string{s.Children, s.Status} {
		for i := range lines {
			lines[i] = strings.ReplaceAll(lines[i], o.region, "REGION")
		}
	}
	return s
}

// content is what the operator made of a child, its labels, annotations,
// spec, data or rules, without what the API server assigns to each object
// (UID, times, cluster IPs) or the applied-hash annotation (a hash of the
// region's name among the rest).
func content(t *testing.T, obj client.Object) string {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	delete(u, "status")
	if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Name == governance.LedgerName {
		// When an entry was recorded differs from run to run, and its terms
		// hash from region to region (the region is in the canonical terms).
		data := map[string]any{}
		for k, v := range cm.Data {
			data[k] = v
			if e, err := governance.DecodeLedgerEntry(v); err == nil {
				e.RecordedAt, e.TermsHash = time.Time{}, "sha256:REGION"
				data[k] = governance.EncodeLedgerEntry(e)
			}
		}
		u["data"] = data
	}
	annotations := maps.Clone(obj.GetAnnotations())
	delete(annotations, shcrv1alpha1.AnnotationAppliedHash)
	u["metadata"] = map[string]any{"labels": obj.GetLabels(), "annotations": annotations}
	if spec, ok := u["spec"].(map[string]any); ok {
		delete(spec, "clusterIP")
		delete(spec, "clusterIPs")
	}
	data, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// diff says how got differs from s, or is empty when they are the same.
func (s state) diff(got state) string {
	d := diff(s.Children, got.Children) + diff(s.Status, got.Status)
	for child, want := range s.Contents {
		if c, ok := got.Contents[child]; ok && c != want {
			var live, desired any
			_ = json.Unmarshal([]byte(c), &live)
			_ = json.Unmarshal([]byte(want), &desired)
			at := apply.Difference(live, desired)
			if at == "" {
				at = apply.Difference(desired, live)
			}
			d += fmt.Sprintf("\n  %s differs at %s", child, at)
		}
	}
	if got.Grants != s.Grants {
		d += "\n  grants: " + got.Grants + "\n  want:   " + s.Grants
	}
	return d
}

// bundle reads the region's compiled policy bundle back from the cluster.
func (o *onboarding) bundle(t *testing.T) (policy.Bundle, bool) {
	t.Helper()
	cm := &corev1.ConfigMap{}
	err := o.c.Client.Get(context.Background(), client.ObjectKey{Namespace: o.ns, Name: specs.PolicyBundleName}, cm)
	if apierrors.IsNotFound(err) {
		return policy.Bundle{}, false
	} else if err != nil {
		t.Fatal(err)
	}
	b, err := policy.Decode([]byte(cm.Data[specs.PolicyBundleKey]))
	if err != nil {
		t.Fatal(err)
	}
	return b, true
}

func conditionLines(prefix string, conds []metav1.Condition) []string {
	var out []string
	for _, c := range conds {
		out = append(out, fmt.Sprintf("%s %s=%s %s", prefix, c.Type, c.Status, c.Reason))
	}
	return out
}

// allowed lists every request, of every caller and role for every category
// and source, that the bundle allows at now.
func allowed(b policy.Bundle, now time.Time) []string {
	var out []string
	codes := []string{gpCode, trustCode, councilCode, strangerCode}
	for _, caller := range codes {
		for _, role := range []string{"R8000", "R8003"} {
			for _, category := range shcrv1alpha1.AllCategories {
				for _, source := range codes {
					req := policy.Request{CallerODS: caller, Role: role, PurposeOfUse: "TREAT", LegitimateRelationship: true,
						Action: "read", Category: string(category), SourceODS: source}
					if policy.Decide(b, req, now).Allow {
						out = append(out, fmt.Sprintf("%s %s reads %s from %s", caller, role, category, source))
					}
				}
			}
		}
	}
	return out
}

// diff lists what is only in want and only in got.
func diff(want, got []string) string {
	var b strings.Builder
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "\n  missing: %s", w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "\n  extra:   %s", g)
		}
	}
	return b.String()
}

// providerRecordLine describes a provider record by the member it records
// (its name holds the member's uid, which differs in every onboarding),
// and adds its content, with the uid named the same way, to contents. A
// provider record belongs to no object on purpose: it outlives its member.
func providerRecordLine(t *testing.T, cm *corev1.ConfigMap, owners map[string]string, region string, contents map[string]string) string {
	t.Helper()
	rec, err := specs.ParseProviderRecord(cm)
	if err != nil {
		t.Fatal(err)
	}
	line := "ConfigMap provider record of MemberOrganisation " + rec.Member
	contents[line] = strings.ReplaceAll(strings.ReplaceAll(content(t, cm), string(rec.MemberUID), "MEMBER-UID"), region, "REGION")
	if owners["MemberOrganisation/"+rec.Member] != string(rec.MemberUID) {
		return line + " (which does not exist)"
	}
	return line + " recording a live member"
}
