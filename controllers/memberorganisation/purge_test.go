/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"slices"
	"testing"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

func TestPendingCategories(t *testing.T) {
	const (
		demo = shcrv1alpha1.CategoryDemographics
		meds = shcrv1alpha1.CategoryMedications
		labs = shcrv1alpha1.CategoryTestResults
		stay = shcrv1alpha1.CategoryInpatientStays
	)
	cats := func(c ...shcrv1alpha1.DataCategory) []shcrv1alpha1.DataCategory { return c }
	cases := []struct {
		name              string
		before, now, held []shcrv1alpha1.DataCategory
		want              []shcrv1alpha1.DataCategory
	}{
		{"nothing provided, nothing to remove", nil, nil, nil, nil},
		{"unchanged", cats(demo, labs), cats(demo, labs), nil, nil},
		{"widened", cats(demo), cats(demo, labs), nil, nil},
		{"narrowed", cats(demo, labs, stay), cats(demo), nil, cats(labs, stay)},
		{"everything withdrawn", cats(demo, labs), nil, nil, cats(demo, labs)},
		{"still pending from before", cats(demo), cats(demo), cats(labs), cats(labs)},
		{"pending plus a further narrowing", cats(demo, meds), cats(demo), cats(labs), cats(meds, labs)},
		{"pending, granted again", cats(demo), cats(demo, labs), cats(labs), nil},
	}
	for _, tc := range cases {
		var p *shcrv1alpha1.PurgeStatus
		if tc.held != nil {
			p = &shcrv1alpha1.PurgeStatus{Categories: tc.held}
		}
		got := pendingCategories(tc.before, tc.now, p)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: pending %v, want %v", tc.name, got, tc.want)
		}
	}
}
