/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// A version of an agreement is one object, and a superseded version never
// comes back. With v1 Superseded by a narrower, Active v2:
//   - a second v2 (an exact copy under a new name, a wider unapproved draft,
//     a copy carrying a signatory's approval) is refused at admission by
//     the agreement webhook;
//   - created behind admission's back (the webhooks down), each copy, even
//     fully approved, is Invalid naming dsa-v2, and the region's bundle
//     still grants exactly v2's terms;
//   - suspending v2 stops sharing under the agreement (v1 stays Superseded);
//   - a GitOps rename of v2 (delete, create with the same terms) is admitted
//     and Active again with the ledger's entry unchanged;
//   - deleting the approved v2 leaves v1 Superseded by version 2 and grants
//     nothing under the agreement.
func TestOneObjectPerAgreementVersionAndNoFallBack(t *testing.T) {
	s := newScenario(t, "dupes", "W")
	narrower := slices.DeleteFunc(slices.Clone(allButPreferences), func(c shcrv1alpha1.DataCategory) bool {
		return c == shcrv1alpha1.CategoryTestResults
	})
	v2 := agreement(s.ns, "dsa-v2", s.agreementID, 2, narrower, time.Now().Add(-30*time.Minute).Truncate(time.Second),
		time.Now().AddDate(1, 0, 0).Truncate(time.Second), s.gp, s.trust, s.council)
	create(t, v2)
	approve(t, s, "dsa-v2")
	waitPhase(t, s.ns, "dsa-v2", shcrv1alpha1.PhaseActive)
	waitPhase(t, s.ns, "dsa-v1", shcrv1alpha1.PhaseSuperseded)
	results := access{s.trust, "R8000", "TestResults", s.gp}
	medications := access{s.trust, "R8000", "Medications", s.gp}
	eventuallyDecides(t, s.region, results, false, time.Time{})
	eventuallyDecides(t, s.region, medications, true, time.Time{})
	before := grantsUnder(t, s.region, s.agreementID)
	// v1's grants stay in the bundle for its past window only.
	if len(before) == 0 || slices.ContainsFunc(before, func(g policy.Grant) bool {
		return g.AgreementVersion != 2 && g.ValidUntil.After(time.Now().Add(-time.Minute))
	}) {
		t.Fatalf("grants under %s with v2 Active: %+v", s.agreementID, before)
	}

	copies := func(suffix string) []struct {
		name string
		obj  *shcrv1alpha1.DataSharingAgreement
		as   string // the user creating it; "" for the cluster admin
	} {
		exact := agreement(s.ns, "dsa-v2-renamed"+suffix, s.agreementID, 2, narrower, v2.Spec.Terms.EffectiveFrom.Time,
			v2.Spec.Terms.EndsOn.Time, s.gp, s.trust, s.council)
		draft := agreement(s.ns, "dsa-v2-draft"+suffix, s.agreementID, 2, allButPreferences, time.Now().Add(-time.Hour),
			time.Now().AddDate(2, 0, 0), s.gp, s.trust, s.council)
		signed := exact.DeepCopy()
		signed.Name = "dsa-v2-signed" + suffix
		signer := "caldicott@" + strings.ToLower(s.gp)
		signed.Spec.Approvals = []shcrv1alpha1.Approval{{Organisation: s.gp, Signatory: "Caldicott Guardian of " + s.gp,
			Role: "CaldicottGuardian", Date: metav1.NewTime(time.Now().Truncate(time.Second)), RecordedBy: signer}}
		return []struct {
			name string
			obj  *shcrv1alpha1.DataSharingAgreement
			as   string
		}{
			{"an exact copy under a new name", exact, ""},
			{"a wider unapproved draft", draft, ""},
			{"a copy carrying a signatory's approval", signed, signer},
		}
	}
	refuseAll := func(when string) {
		t.Helper()
		for _, c := range copies("") {
			cl := k8s
			if c.as != "" {
				var err error
				if cl, err = op.As(c.as, signatories); err != nil {
					t.Fatal(err)
				}
			}
			err := cl.Create(ctx, c.obj.DeepCopy())
			if err == nil || !strings.Contains(err.Error(), "spec.version") ||
				!strings.Contains(err.Error(), "DataSharingAgreement dsa-v2 already holds agreement "+s.agreementID+" version 2") {
				t.Errorf("%s, %s: %v, want refused naming dsa-v2", when, c.name, err)
			}
		}
	}
	refuseAll("webhooks up")
	// A new version of the same agreement is not a duplicate (and is
	// admitted): a control for the refusals above.
	v3 := agreement(s.ns, "dsa-v3-draft", s.agreementID, 3, narrower, time.Now().AddDate(0, 6, 0), time.Now().AddDate(1, 0, 0), s.gp, s.trust, s.council)
	create(t, v3)

	// Behind admission's back: the webhooks down (their configurations
	// deleted by a cluster admin). The copies are admitted; approved once
	// the webhooks are back, each is Invalid all the same.
	smuggled := copies("-smuggled")
	t.Run("webhooks down", func(t *testing.T) {
		withoutWebhooks(t, s.ns)
		waitFor(t, "a duplicate admitted with the webhooks down", func() (bool, string) {
			err := k8s.Create(ctx, smuggled[0].obj.DeepCopy())
			return err == nil, errString(err)
		})
		create(t, smuggled[1].obj)
		// The third stays a draft: one approval of three.
		gpSigner, err := op.As(smuggled[2].as, signatories)
		if err != nil {
			t.Fatal(err)
		}
		if err := gpSigner.Create(ctx, smuggled[2].obj.DeepCopy()); err != nil {
			t.Fatal(err)
		}
	})
	approve(t, s, smuggled[0].obj.Name)
	approve(t, s, smuggled[1].obj.Name)
	for _, c := range smuggled {
		waitFor(t, c.name+" Invalid as a duplicate of dsa-v2", func() (bool, string) {
			a := getAgreement(t, s.ns, c.obj.Name)
			tv := meta.FindStatusCondition(a.Status.Conditions, shcrv1alpha1.ConditionTermsValid)
			if tv == nil || tv.ObservedGeneration != a.Generation {
				return false, "not reconciled"
			}
			return a.Status.Phase == shcrv1alpha1.PhaseInvalid && tv.Reason == shcrv1alpha1.ReasonDuplicateVersion &&
				strings.Contains(tv.Message, "DataSharingAgreement dsa-v2 already holds"), fmt.Sprintf("%s %s: %s", a.Status.Phase, tv.Reason, tv.Message)
		})
	}
	for name, phase := range map[string]shcrv1alpha1.AgreementPhase{"dsa-v2": shcrv1alpha1.PhaseActive, "dsa-v1": shcrv1alpha1.PhaseSuperseded} {
		if a := getAgreement(t, s.ns, name); a.Status.Phase != phase || strings.Contains(
			meta.FindStatusCondition(a.Status.Conditions, shcrv1alpha1.ConditionActive).Message, "version 0") {
			t.Errorf("%s with duplicates present: %s, want %s (%v)", name, a.Status.Phase, phase, a.Status.Conditions)
		}
	}
	// A policy added now makes the region recompile with the duplicates in
	// its cache; then the bundle must hold v2's grants and nothing else.
	create(t, accessPolicy(s.ns, "probe", s.agreementID, []string{"R8001"}, nil, shcrv1alpha1.CategoryMedications))
	waitFor(t, "the probe policy compiled", func() (bool, string) {
		gs := grantsUnder(t, s.region, s.agreementID)
		return slices.ContainsFunc(gs, func(g policy.Grant) bool { return g.Policy == s.ns+"/probe" }), fmt.Sprintf("%d grants", len(gs))
	})
	after := slices.DeleteFunc(grantsUnder(t, s.region, s.agreementID), func(g policy.Grant) bool { return g.Policy == s.ns+"/probe" })
	if fmt.Sprintf("%+v", after) != fmt.Sprintf("%+v", before) {
		t.Errorf("the duplicates changed the grants:\nbefore %+v\nafter  %+v", before, after)
	}
	if d := decides(t, s.region, results, time.Now()); d.Allow {
		t.Errorf("TestResults (v1 only) allowed with duplicates present: %+v", d)
	}
	ledger := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: governance.LedgerName}, ledger); err != nil {
		t.Fatal(err)
	}
	v2Entry := ledger.Data[governance.LedgerKey(s.agreementID, 2)]
	if e, err := governance.DecodeLedgerEntry(v2Entry); err != nil || e.Object != "dsa-v2" || e.TermsHash != getAgreement(t, s.ns, "dsa-v2").Status.TermsHash {
		t.Errorf("ledger entry for v2: %q (%v)", v2Entry, err)
	}
	for _, c := range smuggled {
		if err := k8s.Delete(ctx, getAgreement(t, s.ns, c.obj.Name)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "duplicates refused again", func() (bool, string) {
		err := k8s.Create(ctx, smuggled[1].obj.DeepCopy())
		return err != nil && strings.Contains(err.Error(), "already holds"), errString(err)
	})

	// Suspending v2 stops sharing under the agreement: no fall-back to v1.
	update(t, &shcrv1alpha1.DataSharingAgreement{}, s.ns, "dsa-v2", func(a *shcrv1alpha1.DataSharingAgreement) {
		a.Spec.Suspended, a.Spec.SuspensionReason = true, "renaming"
	})
	waitPhase(t, s.ns, "dsa-v2", shcrv1alpha1.PhaseSuspended)
	waitFor(t, "no grants under the agreement while v2 is suspended", func() (bool, string) {
		n := len(grantsFromNow(t, s.region, s.agreementID))
		return n == 0, fmt.Sprintf("%d grants", n)
	})
	waitPhase(t, s.ns, "dsa-v1", shcrv1alpha1.PhaseSuperseded)

	// The GitOps rename: delete, then create the same terms under a new name.
	if err := k8s.Delete(ctx, getAgreement(t, s.ns, "dsa-v2")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dsa-v2 gone and its copy under a new name admitted", func() (bool, string) {
		err := k8s.Create(ctx, copies("")[0].obj)
		return err == nil, errString(err)
	})
	approve(t, s, "dsa-v2-renamed")
	waitPhase(t, s.ns, "dsa-v2-renamed", shcrv1alpha1.PhaseActive)
	waitPhase(t, s.ns, "dsa-v1", shcrv1alpha1.PhaseSuperseded)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(ledger), ledger); err != nil || ledger.Data[governance.LedgerKey(s.agreementID, 2)] != v2Entry {
		t.Errorf("the rename changed the ledger's entry for v2: %q, was %q (%v)", ledger.Data[governance.LedgerKey(s.agreementID, 2)], v2Entry, err)
	}
	eventuallyDecides(t, s.region, medications, true, time.Time{})
	if d := decides(t, s.region, results, time.Now()); d.Allow {
		t.Errorf("TestResults (v1 only) allowed after the rename: %+v", d)
	}

	// Deleting the approved successor: v1 stays Superseded, nothing granted.
	update(t, &shcrv1alpha1.DataSharingAgreement{}, s.ns, "dsa-v2-renamed", func(a *shcrv1alpha1.DataSharingAgreement) {
		a.Spec.Suspended, a.Spec.SuspensionReason = true, "withdrawn"
	})
	waitPhase(t, s.ns, "dsa-v2-renamed", shcrv1alpha1.PhaseSuspended)
	if err := k8s.Delete(ctx, getAgreement(t, s.ns, "dsa-v2-renamed")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v1 Superseded by version 2 with v2 gone, granting nothing", func() (bool, string) {
		a := getAgreement(t, s.ns, "dsa-v1")
		c := meta.FindStatusCondition(a.Status.Conditions, shcrv1alpha1.ConditionActive)
		n := len(grantsFromNow(t, s.region, s.agreementID))
		return a.Status.Phase == shcrv1alpha1.PhaseSuperseded && c != nil && strings.Contains(c.Message, "superseded by version 2") && n == 0,
			fmt.Sprintf("%s (%v), %d grants", a.Status.Phase, c, n)
	})
}

// grantsUnder is the region's bundle's grants under one agreement.
func grantsUnder(t *testing.T, region, agreementID string) []policy.Grant {
	t.Helper()
	return slices.DeleteFunc(bundle(t, region).Grants, func(g policy.Grant) bool { return g.Agreement != agreementID })
}

// grantsFromNow is the region's bundle's grants under one agreement whose
// window has not ended (a superseded version keeps grants for its past
// window only).
func grantsFromNow(t *testing.T, region, agreementID string) []policy.Grant {
	t.Helper()
	now := time.Now()
	return slices.DeleteFunc(grantsUnder(t, region, agreementID), func(g policy.Grant) bool { return !g.ValidUntil.After(now) })
}
