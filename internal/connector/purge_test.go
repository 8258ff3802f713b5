/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/shcr-io/shcr-operator/test/fhirstore"
)

// storeOf puts records of two organisations in a store: for each of RHW
// and XYZ, five Observations, an inpatient and an outpatient Encounter and
// a Patient.
func storeOf(t *testing.T) *fhirstore.Store {
	store := fhirstore.New(t)
	for _, ods := range []string{"RHW", "XYZ"} {
		for i := range 5 {
			store.Put(tagged("Observation", fmt.Sprintf("%s-o%d", ods, i), ods, fmt.Sprintf("Observation/o%d", i)))
		}
		imp := tagged("Encounter", ods+"-imp", ods, "Encounter/imp")
		imp["class"] = map[string]any{"code": "IMP"}
		amb := tagged("Encounter", ods+"-amb", ods, "Encounter/amb")
		amb["class"] = map[string]any{"code": "AMB"}
		store.Put(imp)
		store.Put(amb)
		store.Put(tagged("Patient", ods+"-p1", ods, "Patient/p1"))
	}
	return store
}

func TestPurgeRemovesOnlyTheOrganisationsRecordsOfTheCategories(t *testing.T) {
	store := storeOf(t)
	result, err := Purge(context.Background(), PurgeOptions{
		RecordService: store.Base(), ODSCode: "RHW", Categories: []string{"TestResults", "InpatientStays"}, PageSize: 2,
	})
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if result.Removed["TestResults"] != 5 || result.Removed["InpatientStays"] != 1 || result.Total() != 6 {
		t.Errorf("removed %v, want 5 TestResults and 1 InpatientStays", result.Removed)
	}
	want := []string{"Encounter/RHW-amb", "Encounter/XYZ-amb", "Encounter/XYZ-imp",
		"Observation/XYZ-o0", "Observation/XYZ-o1", "Observation/XYZ-o2", "Observation/XYZ-o3", "Observation/XYZ-o4",
		"Patient/RHW-p1", "Patient/XYZ-p1"}
	if got := store.Keys(); !slices.Equal(got, want) {
		t.Errorf("the record service holds\n%v\nwant\n%v", got, want)
	}
	for _, gone := range []string{"Observation/RHW-o0", "Observation/RHW-o4", "Encounter/RHW-imp"} {
		if n := store.VersionCount(gone); n != 0 {
			t.Errorf("%s: %d versions kept, want it expunged", gone, n)
		}
	}

	again, err := Purge(context.Background(), PurgeOptions{
		RecordService: store.Base(), ODSCode: "RHW", Categories: []string{"TestResults", "InpatientStays"}, PageSize: 2,
	})
	if err != nil || again.Total() != 0 {
		t.Errorf("a second purge = %v, %v; want nothing left to remove", again.Removed, err)
	}
}

func TestPurgeFailsRatherThanLoopWhenRemovalsDoNotTake(t *testing.T) {
	store := storeOf(t)
	// A record service that answers deletes but keeps the records.
	store.SetFail(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && r.URL.Path == "/fhir" {
			w.Header().Set("Content-Type", "application/fhir+json")
			_, _ = io.WriteString(w, `{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"204 No Content"}},{"response":{"status":"204 No Content"}}]}`)
			return true
		}
		return false
	})
	_, err := Purge(context.Background(), PurgeOptions{RecordService: store.Base(), ODSCode: "RHW", Categories: []string{"TestResults"}, PageSize: 2})
	if err == nil || !strings.Contains(err.Error(), "still holds") {
		t.Fatalf("Purge = %v, want a failure saying the record service still holds a removed record", err)
	}
}

func TestPurgeRefusesABadODSCodeOrURL(t *testing.T) {
	for _, opts := range []PurgeOptions{
		{RecordService: "http://rs/fhir", ODSCode: "rhw"},
		{RecordService: "http://rs/fhir", ODSCode: "R|HW"},
		{RecordService: "http://rs/fhir", ODSCode: ""},
		{RecordService: "rs/fhir", ODSCode: "RHW"},
		{RecordService: "ftp://rs/fhir", ODSCode: "RHW"},
	} {
		if _, err := Purge(context.Background(), opts); err == nil {
			t.Errorf("Purge(%+v) succeeded, want refused", opts)
		}
	}
}
