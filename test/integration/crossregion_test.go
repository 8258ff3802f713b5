/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// A Journey 2 agreement is Active only when the peer region holds the same
// agreementId and version with the same terms hash, and both regions list
// each other as peers; until then nothing is shared across the boundary.
func TestCrossRegionAgreementNeedsItsPeer(t *testing.T) {
	createRegion(t, "north")
	createRegion(t, "south")
	north, south := shcrv1alpha1.NamespaceFor("north"), shcrv1alpha1.NamespaceFor("south")
	for _, m := range []*shcrv1alpha1.MemberOrganisation{member(north, "trust", "RN1", "NHSTrust"), member(south, "trust", "RS1", "NHSTrust")} {
		create(t, credentials(m.Namespace, m.Spec.Connector.CredentialsSecretRef.Name))
		create(t, m)
		waitCondition(t, &shcrv1alpha1.MemberOrganisation{}, m.Namespace, "trust", shcrv1alpha1.ConditionAdmitted, metav1.ConditionTrue)
	}
	// Both regions hold the same terms: one window, fixed once.
	from, until := time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)
	copyIn := func(ns, peer string) *shcrv1alpha1.DataSharingAgreement {
		a := agreement(ns, "journey2", "N2S-001", 1, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications},
			from, until, "RN1", "RS1")
		a.Spec.Terms.Journey, a.Spec.Terms.PeerRegion = shcrv1alpha1.JourneyCrossRegion, peer
		return a
	}
	create(t, copyIn(north, "south"))
	signBoth := func(ns string) {
		for _, code := range []string{"RN1", "RS1"} {
			signer, err := op.As("caldicott@"+code, signatories)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "approval", func() (bool, string) {
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
	}
	signBoth(north)
	create(t, accessPolicy(north, "clinicians", "N2S-001", []string{"R8000"}, nil, shcrv1alpha1.CategoryMedications))

	// Signed in the north only, and neither region lists the other: pending.
	waitPhase(t, north, "journey2", shcrv1alpha1.PhasePending)
	waitCondition(t, &shcrv1alpha1.DataSharingAgreement{}, north, "journey2", shcrv1alpha1.ConditionPeerConfirmed, metav1.ConditionFalse)
	medications := access{"RN1", "R8000", "Medications", "RS1"}
	eventuallyDecides(t, "north", medications, false, time.Time{})

	// The south holds the same agreement, and both regions list each other.
	create(t, copyIn(south, "north"))
	signBoth(south)
	for _, pair := range [][2]string{{"north", "south"}, {"south", "north"}} {
		update(t, &shcrv1alpha1.ShCRRegion{}, "", pair[0], func(r *shcrv1alpha1.ShCRRegion) { r.Spec.Peers = []string{pair[1]} })
	}
	waitPhase(t, north, "journey2", shcrv1alpha1.PhaseActive)
	waitPhase(t, south, "journey2", shcrv1alpha1.PhaseActive)
	if n, s := getAgreement(t, north, "journey2"), getAgreement(t, south, "journey2"); n.Status.TermsHash != s.Status.TermsHash {
		t.Errorf("the two copies should have the same terms hash: %s vs %s", n.Status.TermsHash, s.Status.TermsHash)
	}
	eventuallyDecides(t, "north", medications, true, time.Time{})

	// The south stops listing the north: sharing stops.
	update(t, &shcrv1alpha1.ShCRRegion{}, "", "south", func(r *shcrv1alpha1.ShCRRegion) { r.Spec.Peers = nil })
	waitPhase(t, north, "journey2", shcrv1alpha1.PhasePending)
	eventuallyDecides(t, "north", medications, false, time.Time{})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
