/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"strings"
	"testing"
	"time"
)

func TestParsePageRejectsMalformedPagesSayingWhy(t *testing.T) {
	endpoint := mustURL(t, "https://fhir.example.nhs.uk/R4")
	obs := func(id, lastUpdated string) string {
		return `{"resource":{"resourceType":"Observation","id":"` + id + `","meta":{"lastUpdated":"` + lastUpdated + `"}}}`
	}
	searchset := func(entries ...string) string {
		return `{"resourceType":"Bundle","type":"searchset","entry":[` + strings.Join(entries, ",") + `]}`
	}
	for name, tc := range map[string]struct {
		page string
		want string
	}{
		"not JSON":         {`<html>Bad gateway</html>`, `the answer is not JSON (it starts "<html>Bad gateway</html>")`},
		"not an object":    {`[1,2]`, "not a FHIR Bundle"},
		"outcome":          {`{"resourceType":"OperationOutcome","issue":[{"diagnostics":"search failed"}]}`, `resourceType is "OperationOutcome", not "Bundle": search failed`},
		"wrong Bundle":     {`{"resourceType":"Bundle","type":"transaction"}`, `the Bundle type is "transaction", not "searchset"`},
		"no resource":      {searchset(obs("o1", at(1)), `{"fullUrl":"x"}`), "entry[1]: the entry has no resource"},
		"resource array":   {searchset(`{"resource":[1]}`), "entry[0]: the resource is not a JSON object"},
		"no resourceType":  {searchset(`{"resource":{"id":"x"}}`), "entry[0]: the resource has no resourceType"},
		"another type":     {searchset(`{"resource":{"resourceType":"Patient","id":"p"}}`), "entry[0]: a Patient was returned by a search for Observation"},
		"no id":            {searchset(`{"resource":{"resourceType":"Observation","meta":{"lastUpdated":"` + at(1) + `"}}}`), `entry[0]: the Observation has no valid id ("")`},
		"no lastUpdated":   {searchset(`{"resource":{"resourceType":"Observation","id":"o1"}}`), "entry[0]: Observation/o1 has no meta.lastUpdated instant"},
		"unsorted":         {searchset(obs("o1", at(5)), obs("o2", at(4))), "entry[1]: Observation/o2 was last updated at " + at(4) + ", before " + at(5)},
		"before the bound": {searchset(obs("o1", at(-5))), "entry[0]: Observation/o1 was last updated at " + at(-5) + ", before " + at(0)},
		"next elsewhere": {`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"https://evil.example/R4/Observation?page=2"}]}`,
			"leaves the endpoint https://fhir.example.nhs.uk"},
		"next relative": {`{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"Observation?page=2"}]}`,
			"is not an absolute URL"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parsePage([]byte(tc.page), pageBounds{Feed: feed{ResourceType: "Observation", Category: "TestResults"}, Floor: t0, Endpoint: endpoint})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parsePage = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParsePageReadsMatchesOthersAndNext(t *testing.T) {
	page := `{"resourceType":"Bundle","type":"searchset",
	  "link":[{"relation":"self","url":"https://fhir.example.nhs.uk/R4/Encounter"},{"relation":"next","url":"https://fhir.example.nhs.uk/R4/Encounter?page=2"}],
	  "entry":[
	    {"resource":{"resourceType":"Encounter","id":"e1","meta":{"versionId":"3","lastUpdated":"2026-03-01T10:00:01.5+01:00"},"class":{"code":"AMB"}},"search":{"mode":"match"}},
	    {"resource":{"resourceType":"Patient","id":"p1"},"search":{"mode":"include"}},
	    {"resource":{"resourceType":"OperationOutcome"},"search":{"mode":"outcome"}}]}`
	got, err := parsePage([]byte(page), pageBounds{Feed: feed{ResourceType: "Encounter", Class: "AMB", Category: "Appointments"}, Endpoint: mustURL(t, "https://fhir.example.nhs.uk/R4")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Matches) != 1 || len(got.Others) != 2 || got.Next != "https://fhir.example.nhs.uk/R4/Encounter?page=2" {
		t.Fatalf("parsePage = %+v", got)
	}
	m := got.Matches[0]
	want := time.Date(2026, 3, 1, 9, 0, 1, 5e8, time.UTC)
	if m.ID != "e1" || m.VersionID != "3" || m.Class != "AMB" || !m.LastUpdated.Equal(want) || m.LastUpdatedText != "2026-03-01T10:00:01.5+01:00" {
		t.Errorf("match = %+v", m)
	}
}
