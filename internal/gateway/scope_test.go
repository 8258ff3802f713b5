/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// patientQuery is the query that scopes a search of resourceType to the
// patient with NHS number nhs.
func patientQuery(resourceType, nhs string) string {
	name := "patient.identifier"
	if resourceType == "Patient" {
		name = "identifier"
	}
	return url.Values{name: {SystemNHSNumber + "|" + nhs}}.Encode()
}

// aliceQuery scopes a search of any type but Patient to alice.
func aliceQuery() string { return patientQuery("Observation", alice) }

// TestSearchNeedsExactlyOnePatient refuses, with an OperationOutcome that
// names the parameter and the rule, every search of patient data that does
// not name exactly one patient by a valid NHS number in an accepted form,
// and every parameter that could widen or probe the search around that
// scope. The record service is never called and nothing is decided.
func TestSearchNeedsExactlyOnePatient(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)
	nhs := SystemNHSNumber + "|"
	scope := "&" + aliceQuery()
	cases := []struct {
		name, path, query string
		// post sends the query as a POST _search form.
		post bool
		// want is in the diagnostics.
		want string
	}{
		{"no parameters", "/Observation", "", false, "exactly one patient"},
		{"no patient", "/Observation", "code=1234", false, "exactly one patient"},
		{"no patient in a form", "/Observation", "code=1234", false, "exactly one patient"},
		{"two patients", "/Observation", "patient.identifier=" + nhs + alice + "&patient.identifier=" + nhs + carol, false, "got 2"},
		{"the same patient twice", "/Observation", "patient.identifier=" + nhs + alice + "&patient.identifier=" + nhs + alice, false, "got 2"},
		{"two forms", "/Observation", "patient.identifier=" + nhs + alice + "&subject:Patient.identifier=" + nhs + alice, false, "got 2"},
		{"a list of patients", "/Observation", "patient.identifier=" + nhs + alice + "," + nhs + carol, false, "valid NHS number"},
		{"a list of numbers", "/Observation", "patient.identifier=" + nhs + alice + "," + carol, false, "valid NHS number"},
		{"literal id", "/Observation", "patient=Patient/alice", false, "patient"},
		{"literal subject", "/Observation", "subject=Patient/alice", false, "subject"},
		{"typed literal id", "/Observation", "subject:Patient=alice", false, "subject:Patient"},
		{"literal id beside the scope", "/Observation", "patient=Patient/bob" + scope, false, "patient"},
		{"failing the check digit", "/Observation", "patient.identifier=" + nhs + "9434765910", false, "modulus-11"},
		{"nine digits", "/Observation", "patient.identifier=" + nhs + alice[:9], false, "modulus-11"},
		{"spaces", "/Observation", "patient.identifier=" + nhs + alice[:3] + "+" + alice[3:], false, "modulus-11"},
		{"dashes", "/Observation", "patient.identifier=" + nhs + alice[:3] + "-" + alice[3:], false, "modulus-11"},
		{"no system", "/Observation", "patient.identifier=" + alice, false, "NHS number system"},
		{"another system", "/Observation", "patient.identifier=https://example.org/mrn|" + alice, false, "NHS number system"},
		{"any system", "/Observation", "patient.identifier=|" + alice, false, "NHS number system"},
		{"system case", "/Observation", "patient.identifier=HTTPS://fhir.nhs.uk/Id/nhs-number|" + alice, false, "NHS number system"},
		{"upper case name", "/Observation", "PATIENT.IDENTIFIER=" + nhs + alice, false, "PATIENT.IDENTIFIER"},
		{"capital name", "/Observation", "Patient.identifier=" + nhs + alice, false, "Patient.identifier"},
		{"capital chain", "/Observation", "patient.Identifier=" + nhs + alice, false, "patient.Identifier"},
		{"capital subject", "/Observation", "Subject:Patient.identifier=" + nhs + alice, false, "Subject:Patient.identifier"},
		{"lower type", "/Observation", "subject:patient.identifier=" + nhs + alice, false, "subject:patient.identifier"},
		{"missing", "/Observation", "patient:missing=false", false, "patient:missing"},
		{"missing beside the scope", "/Observation", "subject:missing=false" + scope, false, "subject:missing"},
		{"chain missing", "/Observation", "patient.identifier:missing=false", false, "patient.identifier:missing"},
		{"not", "/Observation", "patient.identifier:not=" + nhs + alice, false, "patient.identifier:not"},
		{"above", "/Observation", "patient:above=Patient/alice" + scope, false, "patient:above"},
		{"untyped subject chain", "/Observation", "subject.identifier=" + nhs + alice, false, "subject.identifier"},
		{"patient by name", "/Observation", "patient.name=Alice", false, "patient.name"},
		{"patient by birth date beside the scope", "/Observation", "patient.birthdate=1970-01-01" + scope, false, "patient.birthdate"},
		{"other chain", "/Observation", "performer.name=Smith" + scope, false, "chained"},
		{"encounter chain", "/Observation", "encounter.subject:Patient.identifier=" + nhs + carol + scope, false, "chained"},
		{"id", "/Observation", "_id=obs-alice", false, "_id"},
		{"id beside the scope", "/Observation", "_id=obs-hiv" + scope, false, "_id"},
		{"include", "/Observation", "_include=Observation:subject" + scope, false, "_include"},
		{"include iterate", "/Observation", "_include:iterate=Observation:subject" + scope, false, "_include"},
		{"revinclude", "/Patient", "_revinclude=Observation:subject&identifier=" + nhs + alice, false, "_revinclude"},
		{"has", "/Observation", "_has:Observation:patient:code=1" + scope, false, "_has"},
		{"has upper case", "/Observation", "_HAS:Observation:patient:code=1" + scope, false, "_HAS"},
		{"summary upper case", "/Observation", "_SUMMARY=count" + scope, false, "_SUMMARY"},
		{"summary", "/Observation", "_summary=count" + scope, false, "_summary"},
		{"elements capital", "/Observation", "_Elements=id" + scope, false, "_Elements"},
		{"contained", "/Observation", "_Contained=true" + scope, false, "_Contained"},
		{"total", "/Observation", "_total=accurate" + scope, false, "_total"},
		{"type", "/Observation", "_type=Patient" + scope, false, "_type"},
		{"count upper case", "/Observation", "_COUNT=5000" + scope, false, "_COUNT"},
		{"format upper case", "/Observation", "_FORMAT=xml" + scope, false, "_FORMAT"},
		{"count zero", "/Observation", "_count=0" + scope, false, "_count"},
		{"count negative", "/Observation", "_count=-1" + scope, false, "_count"},
		{"count not a number", "/Observation", "_count=all" + scope, false, "_count"},
		{"count twice", "/Observation", "_count=5&_count=6" + scope, false, "_count"},
		{"patient without identifier", "/Patient", "name=Smith", false, "exactly one patient"},
		{"patient by id", "/Patient", "_id=alice", false, "_id"},
		{"patient by link", "/Patient", "link=Patient/bob&identifier=" + nhs + alice, false, "link"},
		{"patient identifier twice", "/Patient", "identifier=" + nhs + alice + "&identifier=" + nhs + carol, false, "got 2"},
		{"patient identifier capital", "/Patient", "Identifier=" + nhs + alice, false, "Identifier"},
		{"patient by the other types' form", "/Patient", "patient.identifier=" + nhs + alice, false, "chained"},
		{"patient identifier modifier", "/Patient", "identifier:not=" + nhs + alice, false, "identifier:not"},
		{"clinical contact with a patient", "/Practitioner", "patient.identifier=" + nhs + alice, false, "no patient data"},
		{"encounter", "/Encounter", "class=AMB", false, "exactly one patient"},
		{"POST without a patient", "/MedicationRequest", "status=active", true, "exactly one patient"},
		{"POST with a second patient", "/MedicationRequest", "patient.identifier=" + nhs + carol, true, "got 2"},
		{"page with two patients", "/", "_getpages=p2&patient.identifier=" + nhs + alice + "&patient.identifier=" + nhs + carol, false, "at most one patient"},
		{"page with an invalid patient", "/", "_getpages=p2&patient.identifier=" + nhs + "1234567890", false, "modulus-11"},
		{"page with a capital patient", "/", "_getpages=p2&Patient.identifier=" + nhs + alice, false, "Patient.identifier"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resp response
			if tc.post {
				// A second patient is in the query; the form has the other.
				path := tc.path + "/_search"
				if tc.want != "exactly one patient" {
					path += "?" + aliceQuery()
				}
				resp = h.do(t, http.MethodPost, path, token, strings.NewReader(tc.query),
					http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
			} else {
				resp = h.get(t, tc.path+"?"+tc.query, token)
			}
			if resp.status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400: %s", resp.status, resp.body)
			}
			if issue := resp.outcome(t); !strings.Contains(issue.Diagnostics, tc.want) {
				t.Errorf("diagnostics %q do not name %q", issue.Diagnostics, tc.want)
			}
			if strings.Contains(string(resp.body), carol) {
				t.Errorf("the answer repeats an NHS number: %s", resp.body)
			}
		})
	}
	if requests, _ := h.records.seen(); len(requests) != 0 {
		t.Errorf("the record service was called %d times for refused searches", len(requests))
	}
	if events := h.audit.take(t); len(events) != 0 {
		t.Errorf("%d decisions audited for refused searches", len(events))
	}
}

// TestSearchAcceptedForms sends each accepted form of the patient scope on
// to the record service as given, and passes on only that patient's
// records even when the record service ignores the scope.
func TestSearchAcceptedForms(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)
	value := SystemNHSNumber + "|" + alice
	for _, form := range patientScopeParameters {
		for _, encoded := range []string{url.Values{form: {value}}.Encode(), form + "=" + value} {
			resp := h.get(t, "/MedicationRequest?"+encoded, token)
			if resp.status != http.StatusOK {
				t.Fatalf("%s: status = %d: %s", encoded, resp.status, resp.body)
			}
			if _, keys := resp.bundle(t); !slices.Equal(keys, []string{"MedicationRequest/med-alice-b86", "MedicationRequest/med-alice-rth"}) {
				t.Errorf("%s: entries %v", encoded, keys)
			}
			requests, _ := h.records.seen()
			if got := requests[len(requests)-1].URL.Query()[form]; !slices.Equal(got, []string{value}) {
				t.Errorf("%s: record service got %s = %v", encoded, form, got)
			}
		}
	}
	resp := h.get(t, "/Patient?"+patientQuery("Patient", alice), token)
	if _, keys := resp.bundle(t); !slices.Equal(keys, []string{"Patient/alice"}) {
		t.Errorf("Patient search: %d %v", resp.status, keys)
	}
	resp = h.get(t, "/Practitioner?name=Smith", token)
	if _, keys := resp.bundle(t); !slices.Equal(keys, []string{"Practitioner/prac-1"}) {
		t.Errorf("Practitioner search: %d %v", resp.status, keys)
	}
}

// TestSearchWithholdsOtherPatients withholds, and audits as denied, every
// entry about a patient the search did not name, even one the policy
// would allow, when the record service ignores the scope.
func TestSearchWithholdsOtherPatients(t *testing.T) {
	h := newHarness(t)
	resp := h.get(t, "/MedicationRequest?"+patientQuery("MedicationRequest", carol), clinician().sign(t))
	if _, keys := resp.bundle(t); !slices.Equal(keys, []string{"MedicationRequest/med-carol-b86"}) {
		t.Errorf("entries %v, want only carol's allowed record", keys)
	}
	denied := 0
	for _, e := range h.audit.take(t) {
		if e.Outcome != auditOutcomeSuccess {
			denied++
		}
	}
	if want := len(h.records.ofType("MedicationRequest", "")) - 1; denied != want {
		t.Errorf("%d denials audited, want %d", denied, want)
	}
}

// TestPageSizeLimit always asks the record service for a page of at most
// the limit: the caller's _count when smaller, the limit otherwise.
func TestPageSizeLimit(t *testing.T) {
	for _, tc := range []struct {
		limit      int
		count      string
		want       string
		historyToo bool
	}{
		{0, "", "50", true}, {0, "_count=2000&", "50", true}, {0, "_count=10&", "10", true}, {0, "_count=50&", "50", false},
		{3, "", "3", true}, {3, "_count=4&", "3", false}, {1000, "_count=999999&", "1000", true},
	} {
		h := newHarness(t, func(s *setup) { s.config = func(c *Config) { c.MaxPageSize = tc.limit } })
		token := clinician().sign(t)
		paths := []string{"/Observation?" + tc.count + aliceQuery(), "/?_getpages=p2&" + tc.count + aliceQuery()}
		if tc.historyToo {
			paths = append(paths, "/Observation/obs-alice/_history?"+tc.count)
		}
		for _, path := range paths {
			if resp := h.get(t, path, token); resp.status != http.StatusOK {
				t.Fatalf("%s: status %d %s", path, resp.status, resp.body)
			}
			requests, _ := h.records.seen()
			if got := requests[len(requests)-1].URL.Query()["_count"]; !slices.Equal(got, []string{tc.want}) {
				t.Errorf("limit %d, %s: record service got _count %v, want %s", tc.limit, path, got, tc.want)
			}
		}
	}
}

// TestUpstreamAuthFailureIsBadGateway answers 502 when the record service
// refuses the gateway itself, and says nothing of the record service.
func TestUpstreamAuthFailureIsBadGateway(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		h.records.answer(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"resourceType":"OperationOutcome","issue":[{"diagnostics":"` + h.records.URL + ` token expired"}]}`))
		})
		for _, path := range []string{"/Observation/obs-alice", "/Observation?" + aliceQuery(), "/Observation/obs-alice/_history"} {
			resp := h.get(t, path, token)
			if resp.status != http.StatusBadGateway || resp.outcome(t).Code != issueException || strings.Contains(string(resp.body), h.records.URL) {
				t.Errorf("record service %d on %s: %d %s, want 502", status, path, resp.status, resp.body)
			}
		}
	}
}

// TestUnauthenticatedEndpointsRevealNothing keeps file paths and the record
// service's address out of /readyz, /healthz and /metadata, and answers
// unknown paths and methods with an OperationOutcome.
func TestUnauthenticatedEndpointsRevealNothing(t *testing.T) {
	h := newHarness(t)
	must(t, os.Remove(h.objections))
	h.gateway.reload(context.Background())
	h.eventually("the register is missing", func() bool { return h.gateway.currentView().objectionsMissing })
	writeFile(t, filepath.Join(h.bundleDir, "..data", policy.FileJSON), []byte("{"))
	h.gateway.reload(context.Background())
	for _, path := range []string{"/readyz", "/healthz", "/metadata", "/"} {
		resp := h.get(t, path, "")
		for _, secret := range []string{h.records.URL, h.objections, h.bundleDir, h.jwksFile, "/tmp", "/etc", "/var"} {
			if strings.Contains(string(resp.body), secret) {
				t.Errorf("%s reveals %q: %s", path, secret, resp.body)
			}
		}
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/readyz", 405}, {"PUT", "/healthz", 405}, {"POST", "/metrics", 405}, {"GET", "/v1/decisions", 405},
		{"GET", "/v1/nothing", 404}, {"GET", "//metadata", 400}, {"GET", "/metadata/", 400}, {"GET", "/./metadata", 400},
	} {
		resp := h.do(t, tc.method, tc.path, "", nil, nil)
		if resp.status != tc.status {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.status, tc.status)
			continue
		}
		resp.outcome(t)
	}
}
