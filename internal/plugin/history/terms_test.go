/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package history

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

func terms(mods ...func(*shcrv1alpha1.AgreementTerms)) *shcrv1alpha1.AgreementTerms {
	t := &shcrv1alpha1.AgreementTerms{
		Parties: []shcrv1alpha1.Party{
			{ODSCode: "B86001", Role: shcrv1alpha1.PartyController},
			{ODSCode: "RR8", Role: shcrv1alpha1.PartyJointController},
		},
		Purpose:        shcrv1alpha1.PurposeDirectCare,
		LawfulBasis:    shcrv1alpha1.LawfulBasis{Article6: "6(1)(e)", Article9: "9(2)(h)"},
		DataCategories: []shcrv1alpha1.DataCategory{"Medications", "Allergies"},
		SensitiveData:  shcrv1alpha1.SensitiveExclude,
		RetentionDays:  365,
		EffectiveFrom:  metav1.NewTime(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)),
		EndsOn:         metav1.NewTime(time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)),
		DPIAReference:  "DPIA-1",
		Journey:        shcrv1alpha1.JourneyWithinRegion,
	}
	for _, mod := range mods {
		mod(t)
	}
	return t
}

func TestDiffTerms(t *testing.T) {
	for _, tc := range []struct {
		name string
		cur  *shcrv1alpha1.AgreementTerms
		want []string
	}{
		{"unchanged", terms(), nil},
		{"party added, removed and role changed", terms(func(t *shcrv1alpha1.AgreementTerms) {
			t.Parties = []shcrv1alpha1.Party{{ODSCode: "RR8", Role: shcrv1alpha1.PartyController}, {ODSCode: "X26", Role: shcrv1alpha1.PartyProcessor}}
		}), []string{"parties: removed B86001 (Controller)", "parties[RR8].role: JointController → Controller", "parties: added X26 (Processor)"}},
		{"categories added and removed, in any order", terms(func(t *shcrv1alpha1.AgreementTerms) {
			t.DataCategories = []shcrv1alpha1.DataCategory{"TestResults", "Allergies"}
		}), []string{"dataCategories: removed Medications", "dataCategories: added TestResults"}},
		{"dates, basis, sensitive data and journey", terms(func(t *shcrv1alpha1.AgreementTerms) {
			t.EndsOn = metav1.NewTime(time.Date(2028, 4, 1, 0, 0, 0, 0, time.UTC))
			t.ReviewDate = &metav1.Time{Time: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
			t.LawfulBasis.Article9 = "9(2)(g)"
			t.SensitiveData = shcrv1alpha1.SensitiveBreakGlassOnly
			t.Journey, t.PeerRegion = shcrv1alpha1.JourneyCrossRegion, "wessex"
		}), []string{
			"lawfulBasis.article9: 9(2)(h) → 9(2)(g)", "sensitiveData: Exclude → BreakGlassOnly",
			"endsOn: 2027-04-01T00:00:00Z → 2028-04-01T00:00:00Z", "reviewDate: added 2027-01-01T00:00:00Z",
			"journey: WithinRegion → CrossRegion", "peerRegion: added wessex",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range DiffTerms(terms(), tc.cur) {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
