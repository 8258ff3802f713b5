/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// The rules that span objects are written once (internal/governance) and
// applied by two callers: the admission webhook, which refuses, and the
// reconciler, which marks what reached the cluster with the webhook down.
// The tests below run one table per rule through both and require the same
// verdict from each: first every case's object is sent to the webhook
// (a dry-run create, waited on until the webhook's cache has seen the case's
// other objects), then, with the webhooks removed, every object is created
// and the reconciler's verdict read from its status.

// holdFinalizer keeps an object the tests delete in deletion.
const holdFinalizer = "test.shcr.io/hold"

// webhookVerdict waits until the API server, through the operator's
// webhooks, admits (want true) or refuses a dry-run create of obj, and
// fails the test if it never does; refused must then appear in the refusal.
func webhookVerdict(t *testing.T, obj client.Object, want bool, refused string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the webhook's verdict on %T %s admitted=%v", obj, obj.GetName(), want), func() (bool, string) {
		err := k8s.Create(ctx, obj.DeepCopyObject().(client.Object), client.DryRunAll)
		if want {
			return err == nil, errString(err)
		}
		return err != nil && strings.Contains(err.Error(), refused), errString(err)
	})
}

// reconciledCondition waits until the controller has set conditionType for
// the object's current generation and returns it.
func reconciledCondition(t *testing.T, obj client.Object, conditionType string) *metav1.Condition {
	t.Helper()
	var found *metav1.Condition
	waitFor(t, fmt.Sprintf("%T %s/%s %s reconciled", obj, obj.GetNamespace(), obj.GetName(), conditionType), func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err.Error()
		}
		found = meta.FindStatusCondition(testenv.ConditionsOf(obj), conditionType)
		return found != nil && found.ObservedGeneration == obj.GetGeneration(), fmt.Sprint(found)
	})
	return found
}

// An ODS code is held by the oldest MemberOrganisation not being deleted;
// every other is refused, by the webhook at admission and by the member
// reconciler (DuplicateODSCode) when it got in with the webhook down. The
// holder itself is never blocked by a copy.
func TestUniqueODSCodeOneRuleTwoCallers(t *testing.T) {
	here, there := "rules-ods", "rules-ods-b"
	createRegion(t, here)
	createRegion(t, there)
	ns, otherNS := shcrv1alpha1.NamespaceFor(here), shcrv1alpha1.NamespaceFor(there)
	type holder struct {
		ns       string
		deleting bool
	}
	cases := []struct {
		name    string
		holders []holder
		admit   bool
		refusal string
	}{
		{"no other holder", nil, true, ""},
		{"an older holder in the region", []holder{{ns, false}}, false, "already a member of this region, as MemberOrganisation"},
		{"an older holder in another region", []holder{{otherNS, false}}, false, "already a member in another region"},
		{"an older holder being deleted", []holder{{ns, true}}, true, ""},
		{"an older holder in another region being deleted", []holder{{otherNS, true}}, true, ""},
		{"one holder being deleted and one not", []holder{{ns, true}, {otherNS, false}}, false, "already a member in another region"},
	}
	code := func(i int) string { return fmt.Sprintf("P7%02d1", i) }
	holderName := func(i, j int) string { return fmt.Sprintf("holder-%d-%d", i, j) }
	for i, tc := range cases {
		for j, h := range tc.holders {
			m := member(h.ns, holderName(i, j), code(i), shcrv1alpha1.OrganisationType("GPPractice"))
			if h.deleting {
				m.Finalizers = []string{holdFinalizer}
			}
			create(t, m)
			if h.deleting {
				t.Cleanup(func() { release(t, &shcrv1alpha1.MemberOrganisation{}, m.Namespace, m.Name) })
				if err := k8s.Delete(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	candidate := func(i int) *shcrv1alpha1.MemberOrganisation {
		return member(ns, fmt.Sprintf("candidate-%d", i), code(i), shcrv1alpha1.OrganisationType("Pharmacy"))
	}
	for i, tc := range cases {
		webhookVerdict(t, candidate(i), tc.admit, "spec.odsCode: Duplicate value: \""+code(i)+" ("+tc.refusal)
	}
	duplicate := func(obj client.Object) bool {
		c := reconciledCondition(t, obj, shcrv1alpha1.ConditionAdmitted)
		return c.Status == metav1.ConditionFalse && c.Reason == shcrv1alpha1.ReasonDuplicateODSCode
	}
	t.Run("webhooks down", func(t *testing.T) {
		withoutWebhooks(t, ns)
		for i := range cases {
			create(t, candidate(i))
		}
		for i, tc := range cases {
			if got := duplicate(candidate(i)); got == tc.admit {
				t.Errorf("%s: the reconciler refused=%v, the webhook admitted=%v", tc.name, got, tc.admit)
			}
		}
	})
	// The webhooks are back. The live holder of a code a copy got in under
	// is still the holder for both: its updates are admitted, the copy's
	// refused, and the reconciler keeps refusing only the copy.
	for i, tc := range cases {
		for j, h := range tc.holders {
			if h.deleting {
				continue
			}
			live := &shcrv1alpha1.MemberOrganisation{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: holderName(i, j)}, live); err != nil {
				t.Fatal(err)
			}
			waitFor(t, tc.name+": the holder's update admitted", func() (bool, string) {
				err := k8s.Update(ctx, live.DeepCopy(), client.DryRunAll)
				return err == nil, errString(err)
			})
			if duplicate(live) {
				t.Errorf("%s: the reconciler refused the holder", tc.name)
			}
			copied := &shcrv1alpha1.MemberOrganisation{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(candidate(i)), copied); err != nil {
				t.Fatal(err)
			}
			if err := k8s.Update(ctx, copied, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "spec.odsCode") {
				t.Errorf("%s: the copy's update: %v, want refused", tc.name, err)
			}
		}
	}
}

// release removes the test's finalizer from ns/name, so that its deletion completes.
func release[T client.Object](t *testing.T, obj T, ns, name string) {
	t.Helper()
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		return
	}
	update(t, obj, ns, name, func(o T) {
		var keep []string
		for _, f := range o.GetFinalizers() {
			if f != holdFinalizer {
				keep = append(keep, f)
			}
		}
		o.SetFinalizers(keep)
	})
}

// A policy is judged against its agreement's governing version (the Active
// one, else the highest): the webhook refuses what it names outside that
// version, and the policy reconciler, for a policy that got in with the
// webhook down, reports exactly those cases as ScopeNarrowed and enforces
// the intersection.
func TestPolicyWithinGoverningVersionOneRuleTwoCallers(t *testing.T) {
	s := newScenario(t, "rules-policy", "P")
	// A member that is no party to the agreement.
	create(t, member(s.ns, "outsider", "P7901", shcrv1alpha1.OrganisationType("Pharmacy")))
	// A higher draft beside Active v1: wider (Preferences) and narrower
	// (no TestResults). It does not govern while v1 is Active.
	draftCategories := []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryPreferences}
	create(t, agreement(s.ns, "dsa-v2-draft", s.agreementID, 2, draftCategories, time.Now(), time.Now().AddDate(1, 0, 0), s.gp, s.trust))
	// An agreement with drafts only: its highest version governs.
	drafts := "RULES-DRAFTS-001"
	create(t, agreement(s.ns, "drafts-v1", drafts, 1, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications},
		time.Now(), time.Now().AddDate(1, 0, 0), s.gp, s.trust))
	create(t, agreement(s.ns, "drafts-v2", drafts, 2, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryAllergies},
		time.Now(), time.Now().AddDate(1, 0, 0), s.gp, s.trust))
	waitPhase(t, s.ns, "dsa-v2-draft", shcrv1alpha1.PhaseDraft)
	waitPhase(t, s.ns, "drafts-v2", shcrv1alpha1.PhaseDraft)

	cases := []struct {
		name, agreementID string
		orgs              []string
		category          shcrv1alpha1.DataCategory
		admit             bool
		refused           string // the field the refusal and the narrowing name
	}{
		{"within the Active version", s.agreementID, []string{s.trust}, shcrv1alpha1.CategoryMedications, true, ""},
		{"in the Active version, not in the higher draft", s.agreementID, nil, shcrv1alpha1.CategoryTestResults, true, ""},
		{"only in the higher draft", s.agreementID, nil, shcrv1alpha1.CategoryPreferences, false, "spec.grants[0].categories[0]"},
		{"a member that is no party", s.agreementID, []string{s.gp, "P7901"}, shcrv1alpha1.CategoryMedications, false, "spec.subjects.organisations[1]"},
		{"a code that is no member", s.agreementID, []string{"P7999"}, shcrv1alpha1.CategoryMedications, false, "spec.subjects.organisations[0]"},
		{"drafts only: within the highest", drafts, nil, shcrv1alpha1.CategoryAllergies, true, ""},
		{"drafts only: only in the lower", drafts, nil, shcrv1alpha1.CategoryMedications, false, "spec.grants[0].categories[0]"},
	}
	policyOf := func(i int) *shcrv1alpha1.AccessPolicy {
		tc := cases[i]
		return accessPolicy(s.ns, fmt.Sprintf("rule-%d", i), tc.agreementID, []string{"R8000"}, tc.orgs, tc.category)
	}
	for i, tc := range cases {
		webhookVerdict(t, policyOf(i), tc.admit, tc.refused)
	}
	t.Run("webhooks down", func(t *testing.T) {
		withoutWebhooks(t, s.ns)
		for i := range cases {
			create(t, policyOf(i))
		}
		for i, tc := range cases {
			p := policyOf(i)
			c := reconciledCondition(t, p, shcrv1alpha1.ConditionScopeNarrowed)
			if narrowed := c.Status == metav1.ConditionTrue; narrowed == tc.admit || !strings.Contains(c.Message, tc.refused) {
				t.Errorf("%s: the reconciler narrowed=%v (%s), the webhook admitted=%v naming %q", tc.name, narrowed, c.Message, tc.admit, tc.refused)
			}
			inForce := reconciledCondition(t, p, shcrv1alpha1.ConditionInForce)
			if tc.agreementID == drafts && (inForce.Status != metav1.ConditionFalse || inForce.Reason != shcrv1alpha1.ReasonAgreementNotActive) {
				t.Errorf("%s: a draft grants nothing, got InForce %s %s", tc.name, inForce.Status, inForce.Reason)
			}
			if tc.agreementID == s.agreementID && p.Status.AgreementVersion != 1 {
				t.Errorf("%s: enforced under v%d, want the Active v1", tc.name, p.Status.AgreementVersion)
			}
		}
	})
}
