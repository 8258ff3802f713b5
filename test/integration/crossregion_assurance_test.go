/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// Journey 2 shares only while both regions are assured: withdrawing one
// requirement's assurance in the PEER region stops the cross-region grants
// in the other region's bundle, though that region is itself still assured,
// and the panel assuring it again restores them.
func TestCrossRegionSharingNeedsThePeerAssured(t *testing.T) {
	const east, west, id = "z9east", "z9west", "Z9EW-001"
	createRegion(t, east)
	createRegion(t, west)
	eastNS, westNS := shcrv1alpha1.NamespaceFor(east), shcrv1alpha1.NamespaceFor(west)
	for _, m := range []*shcrv1alpha1.MemberOrganisation{member(eastNS, "trust", "Z9E01", "NHSTrust"), member(westNS, "trust", "Z9W01", "NHSTrust")} {
		create(t, credentials(m.Namespace, m.Spec.Connector.CredentialsSecretRef.Name))
		create(t, m)
		waitCondition(t, &shcrv1alpha1.MemberOrganisation{}, m.Namespace, "trust", shcrv1alpha1.ConditionAdmitted, metav1.ConditionTrue)
	}
	from, until := time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)
	for _, pair := range [][2]string{{east, west}, {west, east}} {
		ns := shcrv1alpha1.NamespaceFor(pair[0])
		a := agreement(ns, "journey2", id, 1, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}, from, until, "Z9E01", "Z9W01")
		a.Spec.Terms.Journey, a.Spec.Terms.PeerRegion = shcrv1alpha1.JourneyCrossRegion, pair[1]
		create(t, a)
		for _, code := range []string{"Z9E01", "Z9W01"} {
			signer, err := op.As("caldicott@"+code, signatories)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "approval by "+code, func() (bool, string) {
				a := &shcrv1alpha1.DataSharingAgreement{}
				if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "journey2"}, a); err != nil {
					return false, err.Error()
				}
				a.Spec.Approvals = append(a.Spec.Approvals, shcrv1alpha1.Approval{Organisation: code, Signatory: "CG " + code,
					Role: "CaldicottGuardian", Date: metav1.NewTime(time.Now().Truncate(time.Second))})
				err := signer.Update(ctx, a)
				return err == nil, errString(err)
			})
		}
		update(t, &shcrv1alpha1.ShCRRegion{}, "", pair[0], func(r *shcrv1alpha1.ShCRRegion) { r.Spec.Peers = []string{pair[1]} })
	}
	create(t, accessPolicy(eastNS, "clinicians", id, []string{"R8000"}, nil, shcrv1alpha1.CategoryMedications))
	waitPhase(t, eastNS, "journey2", shcrv1alpha1.PhaseActive)
	waitPhase(t, westNS, "journey2", shcrv1alpha1.PhaseActive)
	// East's clinicians read the west trust's medications.
	medications := access{"Z9E01", "R8000", "Medications", "Z9W01"}
	eventuallyDecides(t, east, medications, true, time.Time{})
	crossGrants := func() (int, string) {
		n := 0
		b := bundle(t, east)
		for _, g := range b.Grants {
			if g.Agreement == id {
				n++
			}
		}
		return n, "grants under " + id
	}
	waitFor(t, "cross-region grants in the east's bundle", func() (bool, string) { n, what := crossGrants(); return n > 0, what })

	// The west's panel withdraws one requirement: the east, still assured
	// itself, shares nothing across the boundary.
	chair := panelChair(t)
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		r := &shcrv1alpha1.ShCRRegion{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: west}, r); err != nil {
			return err
		}
		for i := range r.Spec.Assurance.Requirements {
			if r.Spec.Assurance.Requirements[i].Requirement == shcrv1alpha1.RequirementCyberSecurity {
				r.Spec.Assurance.Requirements[i].Status = shcrv1alpha1.AssuranceNotAssured
			}
		}
		return chair.Update(ctx, r)
	}); err != nil {
		t.Fatalf("withdrawing the west's assurance: %v", err)
	}
	waitAssured(t, west, shcrv1alpha1.ReasonNotAssured)
	waitFor(t, "no cross-region grants in the east's bundle", func() (bool, string) { n, what := crossGrants(); return n == 0, what })
	eventuallyDecides(t, east, medications, false, time.Time{})
	waitAssured(t, east, shcrv1alpha1.ReasonAssured)

	// The west's panel assures it again: sharing resumes.
	assure(t, west, time.Now().Add(-time.Second), time.Now().AddDate(1, 0, 0))
	waitFor(t, "cross-region grants back in the east's bundle", func() (bool, string) { n, what := crossGrants(); return n > 0, what })
	eventuallyDecides(t, east, medications, true, time.Time{})

	// The west's assurance lapses: the east's cross-region grants stop on
	// the second by their window, and leave the east's bundle once it
	// recompiles, with no change to either region's spec.
	review := time.Now().Add(4 * time.Second).Truncate(time.Second)
	assure(t, west, time.Now().Add(-time.Second), review)
	waitFor(t, "the east's cross-region grants cut to the west's review date", func() (bool, string) {
		for _, g := range bundle(t, east).Grants {
			if g.Agreement == id && g.ValidUntil.Equal(review.UTC()) {
				return true, ""
			}
		}
		return false, "no grant under " + id + " ending at " + review.UTC().String()
	})
	if d := decides(t, east, medications, review.Add(-time.Millisecond)); !d.Allow {
		t.Errorf("the last millisecond before the west's review date: %v", d.Reasons())
	}
	if d := decides(t, east, medications, review); d.Allow {
		t.Errorf("at the west's review date the east still shares across the boundary")
	}
	waitAssured(t, west, shcrv1alpha1.ReasonAssuranceLapsed)
	waitFor(t, "no cross-region grants in the east's bundle after the west lapsed", func() (bool, string) { n, what := crossGrants(); return n == 0, what })
	waitAssured(t, east, shcrv1alpha1.ReasonAssured)
}
