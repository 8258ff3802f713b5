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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/specs"
)

func TestOnboardingThreeOrganisationsAnAgreementAndTwoPolicies(t *testing.T) {
	s := newScenario(t, "onboard", "A")

	a := getAgreement(t, s.ns, "dsa-v1")
	if a.Status.TermsHash != governance.TermsHash(&a.Spec.Terms, s.region) || !strings.HasPrefix(a.Status.TermsHash, "sha256:") {
		t.Errorf("termsHash %q is not the hash of the canonical terms", a.Status.TermsHash)
	}
	for _, approval := range a.Spec.Approvals {
		if want := "caldicott@" + strings.ToLower(approval.Organisation); approval.RecordedBy != want {
			t.Errorf("approval by %s recordedBy %q, want the requester %q (never the client's value)", approval.Organisation, approval.RecordedBy, want)
		}
	}
	if a.Status.ActiveSince == nil || !a.Status.ActiveSince.Time.Equal(a.Spec.Terms.EffectiveFrom.Time) {
		t.Errorf("activeSince %v, want effectiveFrom %v", a.Status.ActiveSince, a.Spec.Terms.EffectiveFrom)
	}
	if a.Status.NextTransitionTime == nil || !a.Status.NextTransitionTime.Time.Equal(a.Spec.Terms.EndsOn.Time) {
		t.Errorf("nextTransitionTime %v, want endsOn %v", a.Status.NextTransitionTime, a.Spec.Terms.EndsOn)
	}

	for _, tc := range []struct {
		access
		want bool
	}{
		{access{s.trust, "R8000", "Medications", s.gp}, true},
		{access{s.gp, "R8000", "TestResults", s.trust}, true},
		{access{s.council, "R8003", "CarePlans", s.trust}, true},
		{access{s.council, "R8003", "TestResults", s.trust}, false}, // not in the care workers' policy
		{access{s.trust, "R8003", "Medications", s.gp}, false},      // the care workers' policy names only the council
		{access{s.trust, "R8000", "Preferences", s.gp}, false},      // not in the agreement
		{access{s.trust, "R8008", "Demographics", s.gp}, false},     // admin role
		{access{"ZZZ99", "R8000", "Medications", s.gp}, false},      // not a member
		{access{s.trust, "R8000", "Medications", "ZZZ99"}, false},   // data from outside the agreement
	} {
		// The region compiles the bundle once the policies' changes reach it.
		eventuallyDecides(t, s.region, tc.access, tc.want, time.Time{})
		if d := decides(t, s.region, tc.access, time.Now()); d.Allow && (d.Agreement != s.agreementID || d.AgreementVersion != 1) {
			t.Errorf("%+v: allowed under %s v%d, want %s v1", tc.access, d.Agreement, d.AgreementVersion, s.agreementID)
		}
	}

	gp := &shcrv1alpha1.MemberOrganisation{}
	waitFor(t, "the GP's status to list its agreement and categories", func() (bool, string) {
		_ = k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "gp"}, gp)
		return len(gp.Status.Agreements) == 1 && len(gp.Status.ProvidesCategories) == len(allButPreferences),
			fmt.Sprintf("%v %v", gp.Status.Agreements, gp.Status.ProvidesCategories)
	})
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: specs.ConnectorName(gp)}, cm); err != nil {
		t.Fatalf("the GP's connector configuration: %v", err)
	}
	if !strings.Contains(cm.Data[specs.ConnectorConfigKey], `"TestResults"`) || strings.Contains(cm.Data[specs.ConnectorConfigKey], "Preferences") {
		t.Errorf("the connector must be configured with exactly the agreed categories: %s", cm.Data[specs.ConnectorConfigKey])
	}
	if strings.Contains(cm.Data[specs.ConnectorConfigKey], "not-a-real-secret") {
		t.Errorf("credentials leaked into the connector configuration")
	}
	region := &shcrv1alpha1.ShCRRegion{}
	waitFor(t, "region counts", func() (bool, string) {
		_ = k8s.Get(ctx, client.ObjectKey{Name: s.region}, region)
		return region.Status.MemberCount == 3 && region.Status.ActiveAgreementCount == 1 && region.Status.PolicyBundle.Grants > 0,
			fmt.Sprintf("%+v", region.Status)
	})
}

func TestSupersedingVersionWithFewerCategoriesNarrowsAccess(t *testing.T) {
	s := newScenario(t, "narrow", "B")
	from := time.Now().Add(4 * time.Second).Truncate(time.Second)
	narrower := slices.DeleteFunc(slices.Clone(allButPreferences), func(c shcrv1alpha1.DataCategory) bool {
		return c == shcrv1alpha1.CategoryTestResults
	})
	create(t, agreement(s.ns, "dsa-v2", s.agreementID, 2, narrower, from, time.Now().AddDate(1, 0, 0), s.gp, s.trust, s.council))
	approve(t, s, "dsa-v2")
	waitPhase(t, s.ns, "dsa-v2", shcrv1alpha1.PhasePending)

	results := access{s.trust, "R8000", "TestResults", s.gp}
	eventuallyDecides(t, s.region, results, true, from.Add(-time.Second))
	eventuallyDecides(t, s.region, results, false, from)
	eventuallyDecides(t, s.region, access{s.trust, "R8000", "Medications", s.gp}, true, from)

	waitPhase(t, s.ns, "dsa-v2", shcrv1alpha1.PhaseActive)
	waitPhase(t, s.ns, "dsa-v1", shcrv1alpha1.PhaseSuperseded)
	if d := decides(t, s.region, access{s.trust, "R8000", "Medications", s.gp}, time.Now()); !d.Allow || d.AgreementVersion != 2 {
		t.Errorf("after supersession access must come from v2, got %+v", d)
	}
	// ScopeNarrowed is already True while v2 is Pending (it names what the
	// policy asks outside the governing version); the policy's report
	// under v2 follows once its controller has seen v2 Active, which may be
	// after the agreements' phases the test waited for.
	ap := &shcrv1alpha1.AccessPolicy{}
	waitFor(t, "the clinicians' policy reported under v2", func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: s.clinicians}, ap); err != nil {
			return false, err.Error()
		}
		return ap.Status.AgreementVersion == 2 && meta.IsStatusConditionTrue(ap.Status.Conditions, shcrv1alpha1.ConditionScopeNarrowed),
			fmt.Sprintf("agreementVersion %d, conditions %v", ap.Status.AgreementVersion, ap.Status.Conditions)
	})
	narrowed := meta.FindStatusCondition(ap.Status.Conditions, shcrv1alpha1.ConditionScopeNarrowed)
	if !strings.Contains(narrowed.Message, "TestResults") || ap.Status.AgreementVersion != 2 ||
		!slices.Equal(ap.Status.DroppedCategories, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryTestResults}) {
		t.Errorf("ScopeNarrowed should name TestResults under v2, got %q dropped=%v version=%d", narrowed.Message, ap.Status.DroppedCategories, ap.Status.AgreementVersion)
	}
}

func TestSuspensionDeniesAtOnce(t *testing.T) {
	s := newScenario(t, "suspend", "C")
	medications := access{s.trust, "R8000", "Medications", s.gp}
	eventuallyDecides(t, s.region, medications, true, time.Time{})

	update(t, &shcrv1alpha1.DataSharingAgreement{}, s.ns, "dsa-v1", func(a *shcrv1alpha1.DataSharingAgreement) {
		a.Spec.Suspended = true
		a.Spec.SuspensionReason = "suspected inappropriate access under investigation"
	})
	waitPhase(t, s.ns, "dsa-v1", shcrv1alpha1.PhaseSuspended)
	eventuallyDecides(t, s.region, medications, false, time.Time{})
	waitCondition(t, &shcrv1alpha1.AccessPolicy{}, s.ns, s.clinicians, shcrv1alpha1.ConditionInForce, metav1.ConditionFalse)
}

func TestAgreementWindowIsEnforcedToTheSecond(t *testing.T) {
	s := newScenario(t, "window", "D")
	// A second agreement that starts in 3 s and ends 3 s later.
	from := time.Now().Add(3 * time.Second).Truncate(time.Second)
	until := from.Add(3 * time.Second)
	a := agreement(s.ns, "short", "SHORT-001", 1, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryPreferences}, from, until, s.gp, s.trust, s.council)
	create(t, a)
	approve(t, s, "short")
	create(t, accessPolicy(s.ns, "preferences", "SHORT-001", []string{"R8000"}, nil, shcrv1alpha1.CategoryPreferences))
	waitPhase(t, s.ns, "short", shcrv1alpha1.PhasePending)

	prefs := access{s.trust, "R8000", "Preferences", s.gp}
	// The bundle carries the window, so the gateway's own clock decides.
	eventuallyDecides(t, s.region, prefs, false, from.Add(-time.Millisecond))
	eventuallyDecides(t, s.region, prefs, true, from)
	if d := decides(t, s.region, prefs, until.Add(-time.Millisecond)); !d.Allow {
		t.Errorf("the last millisecond of the window must be allowed: %v", d.Reasons())
	}
	if d := decides(t, s.region, prefs, until); d.Allow {
		t.Errorf("access at endsOn must be denied")
	}
	// And status follows on the second, by requeue, not at a resync.
	waitPhase(t, s.ns, "short", shcrv1alpha1.PhaseActive)
	if late := time.Since(from); late > 2*time.Second {
		t.Errorf("the agreement became Active %s after effectiveFrom", late)
	}
	waitPhase(t, s.ns, "short", shcrv1alpha1.PhaseExpired)
	if late := time.Since(until); late > 2*time.Second {
		t.Errorf("the agreement became Expired %s after endsOn", late)
	}
}

func TestDSPTDowngradeRemovesConnectorAndAccessWhileOthersShare(t *testing.T) {
	s := newScenario(t, "dspt", "E")
	deploy := &appsv1.Deployment{}
	waitFor(t, "the trust's connector", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "connector-" + strings.ToLower(s.trust)}, deploy)
		return err == nil, fmt.Sprint(err)
	})

	update(t, &shcrv1alpha1.MemberOrganisation{}, s.ns, "trust", func(trust *shcrv1alpha1.MemberOrganisation) {
		trust.Spec.Governance.DSPT.Status = shcrv1alpha1.DSPTApproachingStandards
	})
	waitCondition(t, &shcrv1alpha1.MemberOrganisation{}, s.ns, "trust", shcrv1alpha1.ConditionAdmitted, metav1.ConditionFalse)
	waitFor(t, "the trust's connector removed", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(deploy), deploy)
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	eventuallyDecides(t, s.region, access{s.trust, "R8000", "Medications", s.gp}, false, time.Time{})
	eventuallyDecides(t, s.region, access{s.gp, "R8000", "Medications", s.trust}, false, time.Time{})
	eventuallyDecides(t, s.region, access{s.gp, "R8000", "Medications", s.council}, true, time.Time{})
	eventuallyDecides(t, s.region, access{s.council, "R8003", "Medications", s.gp}, true, time.Time{})

	waitFor(t, "the agreement naming the trust as not effective", func() (bool, string) {
		a := getAgreement(t, s.ns, "dsa-v1")
		for _, p := range a.Status.Parties {
			if p.ODSCode == s.trust {
				return !p.Effective && p.Reason != "", fmt.Sprintf("%+v", p)
			}
		}
		return false, "trust not in status.parties"
	})
	waitPhase(t, s.ns, "dsa-v1", shcrv1alpha1.PhaseActive)
}

func TestDeletingAMemberRemovesItFromEveryAgreement(t *testing.T) {
	s := newScenario(t, "leave", "F")
	if err := k8s.Delete(ctx, &shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "council"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the council named as no longer effective", func() (bool, string) {
		a := getAgreement(t, s.ns, "dsa-v1")
		for _, p := range a.Status.Parties {
			if p.ODSCode == s.council {
				return !p.Effective && strings.Contains(p.Reason, "member"), fmt.Sprintf("%+v", p)
			}
		}
		return false, "council not in status.parties"
	})
	eventuallyDecides(t, s.region, access{s.council, "R8003", "Medications", s.gp}, false, time.Time{})
	eventuallyDecides(t, s.region, access{s.trust, "R8000", "CarePlans", s.council}, false, time.Time{})
	eventuallyDecides(t, s.region, access{s.trust, "R8000", "CarePlans", s.gp}, true, time.Time{})
	for _, g := range bundle(t, s.region).Grants {
		if slices.Contains(g.Consumers, s.council) || slices.Contains(g.Providers, s.council) {
			t.Errorf("grant %s/%s still names the departed council", g.Agreement, g.Policy)
		}
	}
}

// After everything settles, a reconcile of any of the four kinds, caused by
// a change that alters nothing the operator derives, writes nothing.
func TestNoOpReconcilesOfEveryKindMakeZeroWrites(t *testing.T) {
	s := newScenario(t, "quiet", "G")
	settle(t)
	op.Writes.Reset()
	before := controllerMetric("controller_runtime_reconcile_total", "controller")
	for _, obj := range []client.Object{
		&shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: s.region}},
		&shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "gp"}},
		&shcrv1alpha1.DataSharingAgreement{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "dsa-v1"}},
		&shcrv1alpha1.AccessPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: s.clinicians}},
	} {
		update(t, obj, obj.GetNamespace(), obj.GetName(), func(obj client.Object) {
			annotations := obj.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations["example.org/touched"] = "yes"
			obj.SetAnnotations(annotations)
		})
	}
	// Every controller has reconciled since the touch, and no reconcile is
	// queued or running: every triggered reconcile has run.
	waitFor(t, "the reconciles the touch triggered", func() (bool, string) {
		after := controllerMetric("controller_runtime_reconcile_total", "controller")
		for _, c := range []string{"shcrregion", "memberorganisation", "datasharingagreement", "accesspolicy"} {
			if after[c] <= before[c] {
				return false, c + " has not reconciled since the touch"
			}
		}
		for c, n := range controllerMetric("workqueue_depth", "name") {
			if n != 0 {
				return false, fmt.Sprintf("%s has %.0f reconciles queued", c, n)
			}
		}
		for c, n := range controllerMetric("controller_runtime_active_workers", "controller") {
			if n != 0 {
				return false, fmt.Sprintf("%s has %.0f reconciles running", c, n)
			}
		}
		return true, ""
	})
	// The counter sees the whole operator's writes: the earlier tests'
	// regions go on with their own timed work (connector reports, purge
	// rechecks) meanwhile. Only a write to this scenario's objects is the
	// touch's.
	recent := op.Writes.Recent()
	if n := op.Writes.Count(); n > int64(len(recent)) {
		t.Fatalf("%d API writes during the no-op reconciles, too many to tell apart: %v", n, recent)
	}
	var ours, others []string
	for _, w := range recent {
		if strings.Contains(w, " "+s.ns+"/") || strings.HasSuffix(w, " /"+s.region) || strings.HasPrefix(w, "*unstructured.Unstructured") {
			ours = append(ours, w)
		} else {
			others = append(others, w)
		}
	}
	if len(others) > 0 {
		t.Logf("writes to other tests' objects meanwhile: %v", others)
	}
	if len(ours) != 0 {
		t.Errorf("no-op reconciles of the four kinds made %d API writes, want 0: %v", len(ours), ours)
	}
}

// settle waits until the operator has made no write for a second.
func settle(t *testing.T) {
	t.Helper()
	waitFor(t, "the operator to settle", func() (bool, string) {
		before := op.Writes.Count()
		// The quiet second is the condition itself (no write within it), not
		// a wait for something: no signal says "nothing more will be written".
		time.Sleep(time.Second)
		return op.Writes.Count() == before, fmt.Sprintf("%d writes in the last second", op.Writes.Count()-before)
	})
}
