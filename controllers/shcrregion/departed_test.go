/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

func member(ods, uid string) shcrv1alpha1.MemberOrganisation {
	return shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid)},
		Spec: shcrv1alpha1.MemberOrganisationSpec{ODSCode: ods}}
}

// Whether the object that provided a region's records is still there: only
// the same object counts, a re-created one (another uid) or another code
// does not; an entry without a uid goes by code.
func TestProviderPresentOnlyForTheSameObject(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entry   shcrv1alpha1.RegionProvider
		members []shcrv1alpha1.MemberOrganisation
		want    bool
	}{
		{"same object", shcrv1alpha1.RegionProvider{ODSCode: "A1", MemberUID: "u1"}, []shcrv1alpha1.MemberOrganisation{member("A1", "u1")}, true},
		{"no members", shcrv1alpha1.RegionProvider{ODSCode: "A1", MemberUID: "u1"}, nil, false},
		{"re-created", shcrv1alpha1.RegionProvider{ODSCode: "A1", MemberUID: "u1"}, []shcrv1alpha1.MemberOrganisation{member("A1", "u2")}, false},
		{"uid under another code", shcrv1alpha1.RegionProvider{ODSCode: "A1", MemberUID: "u1"}, []shcrv1alpha1.MemberOrganisation{member("B1", "u1")}, false},
		{"code differs in case", shcrv1alpha1.RegionProvider{ODSCode: "A1", MemberUID: "u1"}, []shcrv1alpha1.MemberOrganisation{member("a1", "u1")}, false},
		{"duplicate beside it", shcrv1alpha1.RegionProvider{ODSCode: "A1", MemberUID: "u1"}, []shcrv1alpha1.MemberOrganisation{member("A1", "u2"), member("A1", "u1")}, true},
		{"no uid, code present", shcrv1alpha1.RegionProvider{ODSCode: "A1"}, []shcrv1alpha1.MemberOrganisation{member("A1", "u9")}, true},
		{"no uid, code gone", shcrv1alpha1.RegionProvider{ODSCode: "A1"}, []shcrv1alpha1.MemberOrganisation{member("B1", "u9")}, false},
	} {
		if got := providerPresent(tc.entry, tc.members); got != tc.want {
			t.Errorf("%s: present = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// What a provider reported accumulates; another object with the same code
// never adds to (or takes over) the entry of the one that provided.
func TestRecordProviderAccumulatesPerObject(t *testing.T) {
	region := &shcrv1alpha1.ShCRRegion{}
	gp, dup, other := member("A1", "u1"), member("A1", "u2"), member("B1", "u3")
	recordProvider(region, &gp, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications})
	recordProvider(region, &other, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryAllergies})
	recordProvider(region, &gp, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryDemographics})
	recordProvider(region, &dup, []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryTestResults})
	if len(region.Status.Providers) != 2 || region.Status.Providers[0].ODSCode != "A1" || region.Status.Providers[1].ODSCode != "B1" {
		t.Fatalf("providers %+v, want A1 and B1 in order", region.Status.Providers)
	}
	a := region.Status.Providers[0]
	want := []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryDemographics, shcrv1alpha1.CategoryMedications}
	if a.MemberUID != "u1" || !slices.Equal(union(nil, a.Categories), union(nil, want)) || len(a.Categories) != 2 {
		t.Errorf("A1 = %+v, want u1 with %v (the duplicate's TestResults not added)", a, want)
	}
}

// A departure adds to a purge already pending for the code, with a new
// deadline only when it adds a category.
func TestStartDepartedMergesIntoAPendingPurge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &Reconciler{PurgeBound: time.Minute}
	region := &shcrv1alpha1.ShCRRegion{}
	meds := []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}
	r.startDeparted(region, shcrv1alpha1.RegionProvider{ODSCode: "A1", Categories: meds}, t0)
	r.startDeparted(region, shcrv1alpha1.RegionProvider{ODSCode: "A1", Categories: meds}, t0.Add(10*time.Second))
	if p := region.Status.Purges[0]; len(region.Status.Purges) != 1 || !p.Deadline.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("purges %+v: the same categories again must not move the deadline", region.Status.Purges)
	}
	r.startDeparted(region, shcrv1alpha1.RegionProvider{ODSCode: "A1", Categories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryAllergies}}, t0.Add(20*time.Second))
	p := region.Status.Purges[0]
	if len(p.Categories) != 2 || !p.Deadline.Time.Equal(t0.Add(20*time.Second+time.Minute)) || !p.RequestedAt.Time.Equal(t0) {
		t.Errorf("purge %+v: want both categories, a new deadline, the first request time", p)
	}
}
