/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package connector

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRecordIDIsStableValidAndScopedToTheOrganisation(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct{ ods, id, want string }{
		{"RHW", "123", "RHW-123"},
		{"B86001", "abc.DEF-9", "B86001-abc.DEF-9"},
		{"RHW", long[:60], "RHW-" + long[:60]},
	} {
		if got := recordID(tc.ods, tc.id); got != tc.want {
			t.Errorf("recordID(%s, %s) = %s, want %s", tc.ods, tc.id, got, tc.want)
		}
	}
	hashed := recordID("B86001", long)
	if !fhirIDPattern.MatchString(hashed) || !strings.HasPrefix(hashed, "B86001.") || hashed != recordID("B86001", long) {
		t.Errorf("recordID of a long id = %q, want a stable valid FHIR id starting B86001.", hashed)
	}
	if recordID("RHW", long) == recordID("RHX", long) || recordID("RHW", "1") == recordID("RH", "W-1") {
		t.Errorf("record ids of different organisations collide")
	}
}

func TestToRecordStampsProvenanceAndRewritesReferences(t *testing.T) {
	p := newProvenance("RHW", "https://fhir.example.nhs.uk/R4")
	var body map[string]any
	if err := json.Unmarshal([]byte(`{
	  "resourceType":"Observation","id":"o1",
	  "meta":{"versionId":"4","lastUpdated":"2026-03-01T10:00:00Z","source":"lab#1",
	    "tag":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","code":"XXX"},{"system":"urn:other","code":"keep"}],
	    "security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]},
	  "subject":{"reference":"Patient/p1","identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}},
	  "performer":[{"reference":"https://fhir.example.nhs.uk/R4/Practitioner/pr1/_history/2"},{"reference":"#c1"},
	    {"reference":"https://elsewhere.example/Organization/x"},{"reference":"urn:uuid:1"},{"reference":"NotAType/1"}],
	  "contained":[{"resourceType":"Specimen","id":"c1","subject":{"reference":"Patient/p1"}}]}`), &body); err != nil {
		t.Fatal(err)
	}
	entry, err := p.toRecord(sourceResource{ResourceType: "Observation", ID: "o1", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(entry)
	for _, want := range []string{
		`"request":{"method":"PUT","url":"Observation/RHW-o1"}`,
		`"id":"RHW-o1"`,
		`"source":"https://fhir.example.nhs.uk/R4"`,
		`"tag":[{"code":"keep","system":"urn:other"},{"code":"RHW","system":"https://fhir.nhs.uk/Id/ods-organization-code"},{"code":"Observation/o1","system":"https://shcr.io/fhir/CodeSystem/source-resource"}]`,
		`"security":[{"code":"R"`,
		`"subject":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"},"reference":"Patient/RHW-p1"}`,
		`{"reference":"Practitioner/RHW-pr1"}`,
		`{"reference":"#c1"}`,
		`{"reference":"https://elsewhere.example/Organization/x"}`,
		`{"reference":"urn:uuid:1"}`,
		`{"reference":"NotAType/1"}`,
		`"contained":[{"id":"c1","resourceType":"Specimen","subject":{"reference":"Patient/RHW-p1"}}]`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("record lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "versionId") || strings.Contains(string(got), "lastUpdated") {
		t.Errorf("record keeps the source's version data:\n%s", got)
	}
}

func TestToRecordRejectsAMetaItCannotStamp(t *testing.T) {
	p := newProvenance("RHW", "https://fhir.example.nhs.uk/R4")
	for body, want := range map[string]string{
		`{"meta":"x"}`:             "Observation/o1: meta is not a JSON object",
		`{"meta":{"tag":{}}}`:      "Observation/o1: meta.tag is not an array",
		`{"meta":{"tag":["RHW"]}}`: "Observation/o1: meta.tag[0] is not a Coding",
	} {
		var m map[string]any
		_ = json.Unmarshal([]byte(body), &m)
		if _, err := p.toRecord(sourceResource{ResourceType: "Observation", ID: "o1", Body: m}); err == nil || err.Error() != want {
			t.Errorf("toRecord(%s) = %v, want %q", body, err, want)
		}
	}
}

func TestCheckTransactionResponse(t *testing.T) {
	for body, want := range map[string]string{
		`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"201 Created"}},{"response":{"status":"200"}}]}`: "",
		`{"resourceType":"OperationOutcome"}`: "did not answer with a transaction-response Bundle",
		`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"200 OK"}}]}`:                               "answered 1 entries for a transaction of 2",
		`{"resourceType":"Bundle","type":"transaction-response","entry":[{"response":{"status":"200 OK"}},{"response":{"status":"412"}}]}`: `entry[1] of the transaction with status "412"`,
	} {
		err := checkTransactionResponse([]byte(body), 2)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("checkTransactionResponse(%s) = %v, want %q", body, err, want)
		}
	}
}
