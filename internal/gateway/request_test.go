/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// TestParseRequest covers every interaction the gateway serves and the
// ways a request is refused.
func TestParseRequest(t *testing.T) {
	cases := []struct {
		name, method, path, query string
		want                      Interaction
		wantStatus                int
		wantErr                   string
	}{
		{name: "read", method: "GET", path: "/Patient/alice",
			want: Interaction{Kind: KindRead, Type: "Patient", ID: "alice", Query: url.Values{}}},
		{name: "read drops the format", method: "GET", path: "/Patient/alice", query: "_format=json&_pretty=true",
			want: Interaction{Kind: KindRead, Type: "Patient", ID: "alice", Query: url.Values{}}},
		{name: "vread", method: "GET", path: "/Observation/o-1.2/_history/3",
			want: Interaction{Kind: KindVRead, Type: "Observation", ID: "o-1.2", VersionID: "3", Query: url.Values{}}},
		{name: "history", method: "GET", path: "/Observation/o1/_history", query: "_count=10&_since=2026-01-01",
			want: Interaction{Kind: KindHistory, Type: "Observation", ID: "o1", Query: url.Values{"_count": {"10"}, "_since": {"2026-01-01"}}}},
		{name: "search", method: "GET", path: "/Observation", query: "subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919&_format=xml&code=1234",
			want: Interaction{Kind: KindSearch, Type: "Observation", Patient: "9434765919", Query: url.Values{
				"subject:Patient.identifier": {"https://fhir.nhs.uk/Id/nhs-number|9434765919"},
				"code":                       {"1234"},
			}}},
		{name: "encounter search", method: "GET", path: "/Encounter", query: "patient.identifier=https://fhir.nhs.uk/Id/nhs-number%7C9434765919",
			want: Interaction{Kind: KindSearch, Type: "Encounter", Patient: "9434765919", Query: url.Values{"patient.identifier": {"https://fhir.nhs.uk/Id/nhs-number|9434765919"}}}},
		{name: "POST search", method: "POST", path: "/Observation/_search", query: "code=1234&patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919",
			want: Interaction{Kind: KindSearch, Type: "Observation", Post: true, Patient: "9434765919", Query: url.Values{"code": {"1234"}, "patient:identifier": {"https://fhir.nhs.uk/Id/nhs-number|9434765919"}}}},
		{name: "patient search", method: "GET", path: "/Patient", query: "identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919",
			want: Interaction{Kind: KindSearch, Type: "Patient", Patient: "9434765919", Query: url.Values{"identifier": {"https://fhir.nhs.uk/Id/nhs-number|9434765919"}}}},
		{name: "practitioner search", method: "GET", path: "/Practitioner", query: "name=smith&_count=10",
			want: Interaction{Kind: KindSearch, Type: "Practitioner", Query: url.Values{"name": {"smith"}, "_count": {"10"}}}},
		{name: "search page", method: "GET", path: "/", query: "_getpages=abc&_getpagesoffset=20&_pretty=true",
			want: Interaction{Kind: KindSearchPage, Query: url.Values{"_getpages": {"abc"}, "_getpagesoffset": {"20"}}}},
		{name: "search page of a patient", method: "GET", path: "/", query: "_getpages=abc&patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919",
			want: Interaction{Kind: KindSearchPage, Patient: "9434765919", Query: url.Values{"_getpages": {"abc"}}}},
		{name: "metadata", method: "GET", path: "/metadata", want: Interaction{Kind: KindCapabilities}},
		{name: "base", method: "GET", path: "/", want: Interaction{Kind: KindCapabilities}},

		{name: "create", method: "POST", path: "/Observation", wantStatus: 403, wantErr: "read-only"},
		{name: "transaction", method: "POST", path: "/", wantStatus: 403, wantErr: "read-only"},
		{name: "update", method: "PUT", path: "/Patient/alice", wantStatus: 403, wantErr: "read-only"},
		{name: "patch", method: "PATCH", path: "/Patient/alice", wantStatus: 403, wantErr: "read-only"},
		{name: "delete", method: "DELETE", path: "/Patient/alice", wantStatus: 403, wantErr: "read-only"},
		{name: "operation by POST", method: "POST", path: "/Patient/$everything", wantStatus: 403, wantErr: "read-only"},
		{name: "options", method: "OPTIONS", path: "/Patient", wantStatus: 405, wantErr: "not supported"},
		{name: "audit events", method: "GET", path: "/AuditEvent", wantStatus: 403, wantErr: "governance"},
		{name: "provenance", method: "GET", path: "/Provenance/p1", wantStatus: 403, wantErr: "governance"},
		{name: "type without a category", method: "GET", path: "/Immunization", wantStatus: 400, wantErr: "no data category"},
		{name: "not a type", method: "GET", path: "/patient/alice", wantStatus: 400, wantErr: "not a FHIR resource type"},
		{name: "escaped slash in id", method: "GET", path: "/Patient/a%2Fb", wantStatus: 400, wantErr: "not a valid FHIR resource id"},
		{name: "dot dot", method: "GET", path: "/Patient/..", wantStatus: 400, wantErr: "not a valid FHIR resource id"},
		{name: "dot dot version", method: "GET", path: "/Patient/alice/_history/..", wantStatus: 400, wantErr: "not a valid FHIR version id"},
		{name: "dot dot inside", method: "GET", path: "/Patient/../metadata", wantStatus: 400, wantErr: "only read, vread"},
		{name: "empty id", method: "GET", path: "/Patient/", wantStatus: 400, wantErr: "not a valid FHIR resource id"},
		{name: "long id", method: "GET", path: "/Patient/" + strings.Repeat("a", 65), wantStatus: 400, wantErr: "not a valid"},
		{name: "bad version id", method: "GET", path: "/Patient/alice/_history/v_1", wantStatus: 400, wantErr: "version id"},
		{name: "operation", method: "GET", path: "/Patient/alice/$everything", wantStatus: 400, wantErr: "operations"},
		{name: "type operation", method: "GET", path: "/Patient/$match", wantStatus: 400, wantErr: "operations"},
		{name: "compartment", method: "GET", path: "/Patient/alice/Observation", wantStatus: 400, wantErr: "only read, vread"},
		{name: "too deep", method: "GET", path: "/Patient/alice/_history/1/2", wantStatus: 400, wantErr: "only read, vread"},
		{name: "system search", method: "GET", path: "/", query: "_type=Patient", wantStatus: 400, wantErr: "system-level search"},
		{name: "bad query", method: "GET", path: "/Patient", query: "a=%zz", wantStatus: 400, wantErr: "malformed"},
		{name: "reverse chaining", method: "GET", path: "/Patient", query: "_has:Observation:patient:code=1234", wantStatus: 400, wantErr: "_has"},
		{name: "summary count", method: "GET", path: "/Observation", query: "_summary=count", wantStatus: 400, wantErr: "_summary"},
		{name: "elements", method: "GET", path: "/Observation", query: "_elements=id", wantStatus: 400, wantErr: "_elements"},
		{name: "contained", method: "GET", path: "/Observation", query: "_contained=true", wantStatus: 400, wantErr: "_contained"},
		{name: "bad parameter name", method: "GET", path: "/Observation", query: "co%20de=1", wantStatus: 400, wantErr: "not a valid search parameter"},
		{name: "read with summary", method: "GET", path: "/Patient/alice", query: "_summary=true", wantStatus: 400, wantErr: "not supported for read"},
		{name: "history with other parameter", method: "GET", path: "/Patient/alice/_history", query: "name=x", wantStatus: 400, wantErr: "not supported for history"},
		{name: "page with other parameter", method: "GET", path: "/", query: "_getpages=abc&_type=Patient", wantStatus: 400, wantErr: "not supported for a search page"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRequest(tc.method, tc.path, tc.query)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %+v, want %+v", got, tc.want)
				}
				return
			}
			var rerr *requestError
			if !errors.As(err, &rerr) {
				t.Fatalf("error = %v, want a request error", err)
			}
			if rerr.status != tc.wantStatus || !strings.Contains(rerr.msg, tc.wantErr) {
				t.Errorf("got %d %q, want %d containing %q", rerr.status, rerr.msg, tc.wantStatus, tc.wantErr)
			}
		})
	}
}

// TestRefusedRequests answers refused requests with an OperationOutcome,
// without calling the record service or deciding anything; a caller
// without a token learns nothing but 401.
func TestRefusedRequests(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"POST", "/MedicationRequest", 403, issueForbidden},
		{"PUT", "/Patient/alice", 403, issueForbidden},
		{"PATCH", "/Patient/alice", 403, issueForbidden},
		{"DELETE", "/Patient/alice", 403, issueForbidden},
		{"POST", "/", 403, issueForbidden},
		{"GET", "/AuditEvent?patient=x", 403, issueForbidden},
		{"GET", "/Provenance/p1", 403, issueForbidden},
		{"GET", "/Immunization", 400, issueNotSupported},
		{"GET", "/NotAType", 400, issueNotSupported},
		{"GET", "/observation", 400, issueInvalid},
		{"GET", "/Patient/a%2Fb", 400, issueInvalid},
		{"GET", "/Patient/alice/$everything", 400, issueNotSupported},
		{"GET", "/Patient/alice/Observation", 400, issueNotSupported},
		{"GET", "/Patient?_has:Observation:patient:code=HIV", 400, issueNotSupported},
		{"GET", "/?_type=Patient", 400, issueNotSupported},
		{"HEAD", "/Patient/alice", 405, issueNotSupported},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp := h.do(t, tc.method, tc.path, token, strings.NewReader(`{"resourceType":"Observation"}`), nil)
			if resp.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", resp.status, tc.status, resp.body)
			}
			if tc.method != http.MethodHead {
				if issue := resp.outcome(t); issue.Code != tc.code {
					t.Errorf("issue code = %q, want %q", issue.Code, tc.code)
				}
			}
			// A path that is not canonical is refused before anything else.
			wantAnonymous := http.StatusUnauthorized
			if strings.Contains(tc.path, "%") {
				wantAnonymous = http.StatusBadRequest
			}
			if anonymous := h.do(t, tc.method, tc.path, "", nil, nil); anonymous.status != wantAnonymous {
				t.Errorf("without a token: status = %d, want %d", anonymous.status, wantAnonymous)
			}
		})
	}
	if requests, _ := h.records.seen(); len(requests) != 0 {
		t.Errorf("the record service was called %d times", len(requests))
	}
	if events := h.audit.take(t); len(events) != 0 {
		t.Errorf("%d decisions were audited for refused requests", len(events))
	}
	if refusals := h.audit.refusals(t); len(refusals) != 2*len(cases) {
		t.Errorf("%d refusal events for %d refused requests", len(refusals), 2*len(cases))
	}
}
