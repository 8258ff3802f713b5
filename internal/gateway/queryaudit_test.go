/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestQueriesAudited writes one BALP PatientQuery event for every search,
// search by POST, search page and history, whatever it returns, nothing
// and only withheld records included: who asked, the parameters as
// forwarded and the patients they name.
func TestQueriesAudited(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)
	identifier := url.QueryEscape(SystemNHSNumber + "|" + alice)
	bobIdentifier := url.QueryEscape(SystemNHSNumber + "|" + bob)
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	cases := []struct {
		name, method, path, body string
		// query is the recorded query; patients the NHS numbers it names.
		query    string
		patients []string
		// entries is how many entries the answer holds.
		entries int
	}{
		{name: "nothing found", method: "GET", path: "/CarePlan?patient.identifier=" + identifier,
			query: "CarePlan?_count=50&patient.identifier=" + identifier, patients: []string{alice}},
		{name: "only an objecting patient's records", method: "GET", path: "/MedicationRequest?subject:Patient.identifier=" + bobIdentifier,
			query: "MedicationRequest?_count=50&subject%3APatient.identifier=" + bobIdentifier, patients: []string{bob}},
		{name: "records found", method: "GET", path: "/MedicationRequest?_count=20&_format=xml&patient.identifier=" + identifier,
			query: "MedicationRequest?_count=20&patient.identifier=" + identifier, patients: []string{alice}, entries: 2},
		{name: "by POST", method: "POST", path: "/CarePlan/_search", body: "patient.identifier=" + identifier,
			query: "CarePlan/_search?_count=50&patient.identifier=" + identifier, patients: []string{alice}},
		{name: "search page", method: "GET", path: "/?_getpages=page-2&_getpagesoffset=20&patient.identifier=" + identifier,
			query: "?_count=50&_getpages=page-2&_getpagesoffset=20&patient.identifier=" + identifier, patients: []string{alice}, entries: 9},
		{name: "history", method: "GET", path: "/MedicationRequest/med-bob/_history",
			query: "MedicationRequest/med-bob/_history?_count=50"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var header http.Header
			if tc.method == http.MethodPost {
				header = form
			}
			resp := h.do(t, tc.method, tc.path, token, strings.NewReader(tc.body), header)
			if resp.status != http.StatusOK {
				t.Fatalf("status = %d: %s", resp.status, resp.body)
			}
			if _, keys := resp.bundle(t); len(keys) != tc.entries {
				t.Errorf("%d entries, want %d", len(keys), tc.entries)
			}
			decisions, queries := h.audit.take(t), h.audit.queries(t)
			if len(queries) != 1 {
				t.Fatalf("%d query events, want 1", len(queries))
			}
			q := queries[0]
			wantKind := KindSearch
			if strings.Contains(tc.path, "_history") {
				wantKind = KindHistory
			}
			if q.Type != eventRestful || q.Action != "E" || q.Outcome != auditOutcomeSuccess ||
				!slices.Equal(q.Subtype, []coding{{System: systemRestfulInteraction, Code: string(wantKind)}}) {
				t.Errorf("query event type %v subtype %v action %s outcome %s", q.Type, codes(q.Subtype), q.Action, q.Outcome)
			}
			if len(q.Agent) != 2 || q.Agent[0].Who.Identifier.Value != "910000000001" || q.Agent[1].Who.Identifier.Value != "RR8" {
				t.Errorf("query event agents %+v", q.Agent)
			}
			var patients []string
			var query string
			for _, e := range q.Entity {
				switch e.Role.Code {
				case "1":
					patients = append(patients, e.What.Identifier.Value)
				case "24":
					raw, err := base64.StdEncoding.DecodeString(e.Query)
					must(t, err)
					query = string(raw)
				default:
					t.Errorf("unexpected entity %+v", e)
				}
			}
			if query != tc.query {
				t.Errorf("recorded query %q, want %q", query, tc.query)
			}
			slices.Sort(tc.patients)
			if !slices.Equal(patients, tc.patients) {
				t.Errorf("patients %v, want %v", patients, tc.patients)
			}
			if tc.entries > 0 && len(decisions) < tc.entries {
				t.Errorf("%d decision events for %d entries", len(decisions), tc.entries)
			}
			if strings.Contains(h.logs.String(), alice) || strings.Contains(h.logs.String(), carol) {
				t.Error("an NHS number was logged")
			}
		})
	}
}

// TestQueryAuditFailureRefusesTheQuery answers nothing when the query's
// event cannot be written.
func TestQueryAuditFailureRefusesTheQuery(t *testing.T) {
	audit := &failingWriter{}
	h := newHarness(t, func(s *setup) { s.audit = audit })
	resp := h.get(t, "/MedicationRequest?"+aliceQuery(), clinician().sign(t))
	if resp.status != http.StatusServiceUnavailable || strings.Contains(string(resp.body), "Bundle") {
		t.Errorf("status = %d: %s, want 503 without the Bundle", resp.status, resp.body)
	}
}
