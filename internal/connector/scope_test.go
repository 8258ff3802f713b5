/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"slices"
	"testing"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

func TestR4ResourceTypesAreSorted(t *testing.T) {
	if !slices.IsSorted(r4ResourceTypes) {
		t.Fatal("r4ResourceTypes must be sorted: isResourceType searches it")
	}
}

func TestEveryCategoryHasFeeds(t *testing.T) {
	for _, category := range policy.Categories {
		if len(feedsFor([]string{category})) == 0 {
			t.Errorf("category %s has no feed: its types are missing from r4ResourceTypes", category)
		}
	}
}

func TestFeedsSplitEncounterByClassAndPutPatientsFirst(t *testing.T) {
	var keys []string
	for _, f := range feedsFor([]string{"Appointments", "InpatientStays", "Demographics", "TestResults"}) {
		keys = append(keys, f.Key())
	}
	want := []string{"Patient", "RelatedPerson", "Appointment", "Encounter?class=AMB", "Encounter?class=IMP", "EpisodeOfCare",
		"DiagnosticReport", "Observation", "Specimen"}
	if !slices.Equal(keys, want) {
		t.Errorf("feeds = %v, want %v", keys, want)
	}
	if feedsFor(nil) != nil {
		t.Errorf("no categories must give no feeds")
	}
	// Problems is pulled as Condition, and only Condition: a List (a
	// problem list's container) has no category.
	if got := feedsFor([]string{policy.CategoryProblems}); len(got) != 1 || got[0].Key() != "Condition" {
		t.Errorf("Problems feeds = %v, want Condition", got)
	}
}

func TestFeedAcceptsOnlyItsTypeAndClass(t *testing.T) {
	amb := feed{ResourceType: "Encounter", Class: "AMB", Category: policy.CategoryAppointments}
	for _, tc := range []struct {
		resourceType, class string
		want                bool
	}{
		{"Encounter", "AMB", true},
		{"Encounter", "IMP", false},
		{"Encounter", "EMER", false},
		{"Appointment", "", false},
	} {
		if got := amb.accepts(tc.resourceType, tc.class); got != tc.want {
			t.Errorf("accepts(%s, %s) = %v, want %v", tc.resourceType, tc.class, got, tc.want)
		}
	}
}
