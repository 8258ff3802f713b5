/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package resilience

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// With the webhooks unavailable, objects that break the cross-object rules
// are admitted — but the reconcilers apply the same rules: a duplicate ODS
// code is not admitted and gets no connector, a party that is not a member
// shares nothing, and a policy's grant beyond its agreement is dropped.
func TestWithoutWebhooksInvalidObjectsGetNoChildrenAndNoGrants(t *testing.T) {
	op, err := testenv.StartOperator(filepath.Join("..", ".."), testenv.WithoutWebhooks())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = op.Stop() }()
	ctx := context.Background()
	k8s := op.Client
	wait := func(what string, cond func() (bool, string)) {
		t.Helper()
		testenv.WaitFor(t, what, 30*time.Second, cond)
	}
	create := func(obj client.Object) {
		t.Helper()
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
		}
	}

	const signers = "signers"
	create(&shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: "nohooks"}, Spec: shcrv1alpha1.ShCRRegionSpec{
		DisplayName: "No webhooks", Admins: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: signers}},
		Assurance: shcrv1alpha1.RegionAssurance{Panel: fixtures.AssurancePanel()},
	}})
	assureAll(t, op, "nohooks")
	ns := shcrv1alpha1.NamespaceFor("nohooks")
	wait("the region namespace", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	for _, m := range []*shcrv1alpha1.MemberOrganisation{
		fixtures.Member(ns, "gp", "W86001", "GPPractice"), fixtures.Member(ns, "trust", "RW1", "NHSTrust"),
	} {
		create(fixtures.Credentials(ns, m.Spec.Connector.CredentialsSecretRef.Name))
		create(m)
	}
	isAdmitted := func(name string) func() (bool, string) {
		return func() (bool, string) {
			m := &shcrv1alpha1.MemberOrganisation{}
			_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, m)
			c := meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionAdmitted)
			return c != nil && c.Status == metav1.ConditionTrue, fmt.Sprint(c)
		}
	}
	wait("the GP admitted", isAdmitted("gp"))
	wait("the trust admitted", isAdmitted("trust"))

	// A second organisation claiming the GP's ODS code.
	// The copycat must have a later creationTimestamp, which the API server
	// keeps to the second: wait for the clock to pass the GP's second.
	gp := &shcrv1alpha1.MemberOrganisation{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gp"}, gp); err != nil {
		t.Fatal(err)
	}
	wait("a second later than the GP's creation", func() (bool, string) {
		return time.Now().Add(-time.Second).After(gp.CreationTimestamp.Time), "still " + gp.CreationTimestamp.String()
	})
	copycat := fixtures.Member(ns, "copycat", "W86001", "GPPractice")
	copycat.Spec.Connector.CredentialsSecretRef.Name = "gp-credentials"
	create(copycat)
	wait("the copycat refused", func() (bool, string) {
		m := &shcrv1alpha1.MemberOrganisation{}
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "copycat"}, m)
		c := meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionAdmitted)
		return c != nil && c.Reason == shcrv1alpha1.ReasonDuplicateODSCode, fmt.Sprint(c)
	})
	// An agreement naming a party that is not a member.
	a := fixtures.Agreement(ns, "dsa", "NOHOOKS-001", 1,
		[]shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryAllergies},
		time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), "W86001", "RW1", "ZZ999")
	// ZZ999 processes for the others: no one may sign for a code that is no
	// member, so as a controller it would keep the agreement a Draft.
	a.Spec.Terms.Parties[2].Role = shcrv1alpha1.PartyProcessor
	a.Spec.Terms.Parties[2].DueDiligence = &shcrv1alpha1.ProcessorDueDiligence{
		DSPTStatus: shcrv1alpha1.DSPTStandardsMet, ContractReference: "NOHOOKS-DPA-1", AssessedOn: time.Now().AddDate(0, -1, 0).Format(time.DateOnly)}
	create(a)
	for _, code := range []string{"W86001", "RW1"} {
		user := "caldicott@" + code
		signer, err := op.As(user, signers)
		if err != nil {
			t.Fatal(err)
		}
		wait("approval by "+code, func() (bool, string) {
			current := &shcrv1alpha1.DataSharingAgreement{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(a), current); err != nil {
				return false, err.Error()
			}
			// No webhook to stamp it: the signer records themself, as the
			// admission policy requires.
			current.Spec.Approvals = append(current.Spec.Approvals, shcrv1alpha1.Approval{Organisation: code, Signatory: "CG",
				Role: "CaldicottGuardian", Date: metav1.NewTime(time.Now().Truncate(time.Second)), RecordedBy: user})
			err := signer.Update(ctx, current)
			return err == nil, fmt.Sprint(err)
		})
	}
	// The GP's connector runs once the agreement lets it provide; it stays
	// the real GP's.
	connector := &appsv1.Deployment{}
	wait("the GP's connector", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "connector-w86001"}, connector)
		return err == nil, fmt.Sprint(err)
	})
	if owner := metav1.GetControllerOf(connector); owner == nil || owner.Name != "gp" {
		t.Errorf("the connector must stay the real GP's, owned by %v", owner)
	}
	// A policy asking beyond the agreement.
	ap := fixtures.AccessPolicy(ns, "wide", "NOHOOKS-001", []string{"R8000"}, []string{"RW1", "ZZ999"},
		shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryPreferences)
	create(ap)
	wait("ScopeNarrowed on the wide policy", func() (bool, string) {
		p := &shcrv1alpha1.AccessPolicy{}
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(ap), p)
		c := meta.FindStatusCondition(p.Status.Conditions, shcrv1alpha1.ConditionScopeNarrowed)
		return c != nil && c.Status == metav1.ConditionTrue, fmt.Sprint(c)
	})

	decide := func(caller, category, source string) policy.Decision {
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.PolicyBundleName}, cm); err != nil {
			t.Fatal(err)
		}
		b, err := policy.Decode([]byte(cm.Data[specs.PolicyBundleKey]))
		if err != nil {
			t.Fatal(err)
		}
		return policy.Decide(b, policy.Request{CallerODS: caller, Role: "R8000", PurposeOfUse: "TREAT",
			LegitimateRelationship: true, Action: "read", Category: category, SourceODS: source}, time.Now())
	}
	wait("the trust granted Medications from the GP", func() (bool, string) {
		d := decide("RW1", "Medications", "W86001")
		return d.Allow, fmt.Sprint(d.Reasons())
	})
	for _, denied := range [][3]string{
		{"ZZ999", "Medications", "W86001"}, // not a member: granted nothing
		{"RW1", "Medications", "ZZ999"},    // not a member: shares nothing
		{"RW1", "Preferences", "W86001"},   // beyond the agreement
	} {
		if d := decide(denied[0], denied[1], denied[2]); d.Allow {
			t.Errorf("%v was allowed without webhooks", denied)
		}
	}
	dsa := &shcrv1alpha1.DataSharingAgreement{}
	_ = k8s.Get(ctx, client.ObjectKeyFromObject(a), dsa)
	if i := slices.IndexFunc(dsa.Status.Parties, func(p shcrv1alpha1.PartyStatus) bool { return p.ODSCode == "ZZ999" }); i < 0 ||
		dsa.Status.Parties[i].Effective {
		t.Errorf("the agreement's status must name ZZ999 as not effective: %+v", dsa.Status.Parties)
	}
}
