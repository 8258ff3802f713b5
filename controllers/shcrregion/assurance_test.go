/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"fmt"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

// A record the region counted before a member's DSPT lapsed keeps counting
// when a reconcile reads the region from a cache a write behind, which
// does not yet show the record judged: the refusal for good that the stale
// copy would give is confirmed against the API server first. A record the
// API server's copy shows unjudged is still refused.
func TestAStaleCachedRegionDoesNotRefuseARecordCountedBefore(t *testing.T) {
	const chair = "chair@panel.example"
	name := "stalejudge"
	region := newRegion(name, func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Assurance = shcrv1alpha1.RegionAssurance{
			Panel:        []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: chair}},
			Requirements: fixtures.Assurances(time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), chair),
		}
	})
	createRegion(t, region)
	cyber := func(r *shcrv1alpha1.ShCRRegion) (shcrv1alpha1.RequirementAssuranceState, bool) {
		if r.Status.Assurance == nil {
			return shcrv1alpha1.RequirementAssuranceState{}, false
		}
		for _, s := range r.Status.Assurance.Requirements {
			if s.Requirement == shcrv1alpha1.RequirementCyberSecurity {
				return s, s.RecordDigest != ""
			}
		}
		return shcrv1alpha1.RequirementAssuranceState{}, false
	}
	waitFor(t, "the region's records judged, with every checkpoint met", func() (bool, string) {
		s, judged := cyber(getRegion(t, name))
		return judged && s.Counted, fmt.Sprintf("%+v", s)
	})

	// Then a member's DSPT lapses: MembersDSPTCurrent is unmet.
	ns := shcrv1alpha1.NamespaceFor(name)
	lapsed := fixtures.Member(ns, "trust", "RST", "NHSTrust")
	lapsed.Spec.Governance.DSPT.Status = shcrv1alpha1.DSPTApproachingStandards
	if err := k8sClient.Create(suiteCtx, lapsed); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the manager's cache to hold the lapsed member", func() (bool, string) {
		list := &shcrv1alpha1.MemberOrganisationList{}
		err := mgrClient.List(suiteCtx, list, client.InNamespace(ns))
		return err == nil && len(list.Items) == 1, fmt.Sprint(err, len(list.Items))
	})
	live := getRegion(t, name)
	if s, _ := cyber(live); !s.Counted {
		t.Fatalf("the region's own reconcile undid a record counted before the lapse: %+v", s)
	}

	// A copy of the region as a cache a write behind holds it.
	stale := live.DeepCopy()
	stale.Status.Assurance = nil
	stale.ResourceVersion = "1"
	r := &Reconciler{Client: mgrClient, APIReader: mgrReader}
	out, err := r.evaluateAssurance(withListing(suiteCtx), stale, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !out.Gate.Assured || len(out.FreshRefusals) != 0 {
		t.Errorf("a stale copy refused a record counted before: assured %v (%s), fresh refusals %v", out.Gate.Assured, out.Message, out.FreshRefusals)
	}
	// Without the API server's copy to confirm against, the stale copy
	// alone refuses it: what the confirmation prevents.
	alone := &Reconciler{Client: mgrClient}
	if out, err := alone.evaluateAssurance(withListing(suiteCtx), stale, time.Now()); err != nil || out.Gate.Assured {
		t.Errorf("the stale copy alone counted the record (err %v); the test no longer shows the race", err)
	}
	// A new record, unjudged in the API server's copy too: refused. The
	// region's own reconcile may have written its status since it was
	// read (it counts the lapsed member), so the edit is retried on a
	// conflict, as a user's would be.
	current := &shcrv1alpha1.ShCRRegion{}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(live), current); err != nil {
			return err
		}
		current.Spec.Assurance.Requirements = fixtures.Assurances(time.Now().Add(-time.Minute), time.Now().AddDate(1, 0, 0), chair)
		return k8sClient.Update(suiteCtx, current)
	}); err != nil {
		t.Fatal(err)
	}
	out, err = r.evaluateAssurance(withListing(suiteCtx), current, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := cyber(&shcrv1alpha1.ShCRRegion{Status: shcrv1alpha1.ShCRRegionStatus{Assurance: &out.Status}}); out.Gate.Assured || !s.Refused {
		t.Errorf("a new record against an unmet checkpoint: assured %v, %+v; want refused", out.Gate.Assured, s)
	}
}
