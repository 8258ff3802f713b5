/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package shcrregion

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
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
		entry   specs.ProviderRecord
		members []shcrv1alpha1.MemberOrganisation
		want    bool
	}{
		{"same object", specs.ProviderRecord{ODSCode: "A1", MemberUID: "u1"}, []shcrv1alpha1.MemberOrganisation{member("A1", "u1")}, true},
		{"no members", specs.ProviderRecord{ODSCode: "A1", MemberUID: "u1"}, nil, false},
		{"re-created", specs.ProviderRecord{ODSCode: "A1", MemberUID: "u1"}, []shcrv1alpha1.MemberOrganisation{member("A1", "u2")}, false},
		{"uid under another code", specs.ProviderRecord{ODSCode: "A1", MemberUID: "u1"}, []shcrv1alpha1.MemberOrganisation{member("B1", "u1")}, false},
		{"code differs in case", specs.ProviderRecord{ODSCode: "A1", MemberUID: "u1"}, []shcrv1alpha1.MemberOrganisation{member("a1", "u1")}, false},
		{"duplicate beside it", specs.ProviderRecord{ODSCode: "A1", MemberUID: "u1"}, []shcrv1alpha1.MemberOrganisation{member("A1", "u2"), member("A1", "u1")}, true},
		{"no uid, code present", specs.ProviderRecord{ODSCode: "A1"}, []shcrv1alpha1.MemberOrganisation{member("A1", "u9")}, true},
		{"no uid, code gone", specs.ProviderRecord{ODSCode: "A1"}, []shcrv1alpha1.MemberOrganisation{member("B1", "u9")}, false},
	} {
		if got := presentProviders(tc.members).has(tc.entry); got != tc.want {
			t.Errorf("%s: present = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The region finds a record's object through maps built once per
// reconcile; over random regions and records (uids reused across codes,
// codes shared by several objects, records without a uid) the answer is
// the definition's: some member with the record's code and, when the
// record has one, its uid.
func TestPresentProvidersAnswersAsAScanOfTheRegion(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 24))
	codes, uids := []string{"A1", "A2", "B1", "a1"}, []string{"", "u1", "u2", "u3", "u4"}
	for range 3000 {
		var members []shcrv1alpha1.MemberOrganisation
		seen := map[string]bool{}
		for range rng.IntN(6) {
			uid := uids[1+rng.IntN(len(uids)-1)]
			if seen[uid] { // a uid names one object
				continue
			}
			seen[uid] = true
			members = append(members, member(codes[rng.IntN(len(codes))], uid))
		}
		rec := specs.ProviderRecord{ODSCode: codes[rng.IntN(len(codes))], MemberUID: types.UID(uids[rng.IntN(len(uids))])}
		want := slices.ContainsFunc(members, func(m shcrv1alpha1.MemberOrganisation) bool {
			return m.Spec.ODSCode == rec.ODSCode && (rec.MemberUID == "" || m.UID == rec.MemberUID)
		})
		if got := presentProviders(members).has(rec); got != want {
			t.Fatalf("record %+v among %v: present = %v, want %v", rec, members, got, want)
		}
	}
}

// A departure already in the region's status (as read) covers a record
// only for its code and every category the record names.
func TestPurgeCoversOnlyItsCodeAndCategories(t *testing.T) {
	meds, allergies := shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryAllergies
	pending := []shcrv1alpha1.DepartedPurge{{ODSCode: "A1", Categories: []shcrv1alpha1.DataCategory{allergies, meds}}}
	for _, tc := range []struct {
		name string
		rec  specs.ProviderRecord
		want bool
	}{
		{"same code, fewer categories", specs.ProviderRecord{ODSCode: "A1", Categories: []shcrv1alpha1.DataCategory{meds}}, true},
		{"same code, same categories", specs.ProviderRecord{ODSCode: "A1", Categories: []shcrv1alpha1.DataCategory{allergies, meds}}, true},
		{"same code, a category more", specs.ProviderRecord{ODSCode: "A1", Categories: []shcrv1alpha1.DataCategory{meds, shcrv1alpha1.CategoryTestResults}}, false},
		{"another code", specs.ProviderRecord{ODSCode: "B1", Categories: []shcrv1alpha1.DataCategory{meds}}, false},
		{"code differs in case", specs.ProviderRecord{ODSCode: "a1", Categories: []shcrv1alpha1.DataCategory{meds}}, false},
	} {
		if got := purgeCovers(pending, tc.rec); got != tc.want {
			t.Errorf("%s: covered = %v, want %v", tc.name, got, tc.want)
		}
	}
	if purgeCovers(nil, specs.ProviderRecord{ODSCode: "A1"}) {
		t.Error("no pending purge covers nothing")
	}
}

// A departure adds to a purge already pending for the code, with a new
// deadline only when it adds a category.
func TestStartDepartedMergesIntoAPendingPurge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &Reconciler{PurgeBound: time.Minute}
	region := &shcrv1alpha1.ShCRRegion{}
	meds := []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryMedications}
	r.startDeparted(region, specs.ProviderRecord{ODSCode: "A1", Categories: meds}, t0)
	r.startDeparted(region, specs.ProviderRecord{ODSCode: "A1", Categories: meds}, t0.Add(10*time.Second))
	if p := region.Status.Purges[0]; len(region.Status.Purges) != 1 || !p.Deadline.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("purges %+v: the same categories again must not move the deadline", region.Status.Purges)
	}
	r.startDeparted(region, specs.ProviderRecord{ODSCode: "A1", Categories: []shcrv1alpha1.DataCategory{shcrv1alpha1.CategoryAllergies}}, t0.Add(20*time.Second))
	p := region.Status.Purges[0]
	if len(p.Categories) != 2 || !p.Deadline.Time.Equal(t0.Add(20*time.Second+time.Minute)) || !p.RequestedAt.Time.Equal(t0) {
		t.Errorf("purge %+v: want both categories, a new deadline, the first request time", p)
	}
}
