/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// readCase is one read through the gateway and the decision it must make.
type readCase struct {
	name   string
	claims claims
	path   string
	// allow is the expected decision; reason is part of the audited reasons.
	allow          bool
	reason         string
	wantBreakGlass bool
}

// TestReadRules reads single resources against every rule of DOMAIN.md,
// each both ways, and checks the answer and the audit event.
func TestReadRules(t *testing.T) {
	h := newHarness(t)
	noRelationship := clinician().with(claims{"legitimate_relationship": false})
	const ed = "unconscious patient in ED"
	cases := []readCase{
		// 1. Membership.
		{name: "admitted member reads", claims: clinician(), path: "/MedicationRequest/med-alice-b86", allow: true,
			reason: "allowed by policy tvs/clinical under agreement dsa-1 version 1"},
		{name: "another admitted member reads", claims: clinician().actingAs("B86001", "R8001"), path: "/MedicationRequest/med-alice-rth", allow: true},
		{name: "member not admitted", claims: clinician().actingAs("RX1", "R8000"), path: "/MedicationRequest/med-alice-b86",
			reason: "caller organisation RX1 is not an admitted party"},
		{name: "organisation outside the region", claims: clinician().actingAs("X26", "R8000"), path: "/MedicationRequest/med-alice-b86",
			reason: "caller organisation X26 is not an admitted party"},
		{name: "source organisation not admitted", claims: clinician(), path: "/MedicationRequest/med-rx1",
			reason: "no agreement covering RR8 and RX1"},
		// 2. Agreement in force.
		{name: "agreement expired", claims: clinician(), path: "/MedicationRequest/med-k84",
			reason: "agreement dsa-old version 1 covering RR8 and K84001 is not in force"},
		// 3. Purpose of use.
		{name: "purpose missing", claims: clinician().with(claims{"purpose_of_use": nil}), path: "/MedicationRequest/med-alice-b86",
			reason: `purpose of use "" is not direct care`},
		{name: "purpose not direct care", claims: clinician().with(claims{"purpose_of_use": "HRESCH"}), path: "/MedicationRequest/med-alice-b86",
			reason: `purpose of use "HRESCH" is not direct care`},
		{name: "emergency treatment without break-glass", claims: clinician().with(claims{"purpose_of_use": "ETREAT"}),
			path: "/MedicationRequest/med-alice-b86", reason: "ETREAT only via break-glass"},
		// 4. Role.
		{name: "role granted", claims: clinician().actingAs("RR8", "R8001"), path: "/Observation/obs-alice", allow: true},
		{name: "role not granted", claims: clinician().actingAs("RR8", "R8003"), path: "/MedicationRequest/med-alice-b86",
			reason: "role R8003 is not granted"},
		{name: "admin role", claims: clinician().actingAs("RR8", "R8008"), path: "/MedicationRequest/med-alice-b86",
			reason: "admin roles get no clinical data"},
		// 5. Legitimate relationship.
		{name: "no legitimate relationship", claims: noRelationship, path: "/MedicationRequest/med-alice-b86",
			reason: "legitimate relationship required"},
		{name: "relationship claim not a boolean", claims: clinician().with(claims{"legitimate_relationship": "true"}),
			path: "/MedicationRequest/med-alice-b86", reason: "legitimate relationship required"},
		// 6. Category.
		{name: "demographics", claims: clinician(), path: "/Patient/alice", allow: true},
		{name: "ambulatory encounter is an appointment", claims: clinician(), path: "/Encounter/enc-amb", allow: true},
		{name: "inpatient encounter not granted", claims: clinician(), path: "/Encounter/enc-imp", reason: "category InpatientStays not granted"},
		{name: "emergency encounter has no category", claims: clinician(), path: "/Encounter/enc-emer", reason: `Encounter class "EMER" has no data category`},
		{name: "discharge letter not granted", claims: clinician(), path: "/DocumentReference/discharge-alice", reason: "category DischargeLetters not granted"},
		{name: "allergy with patient reference", claims: clinician(), path: "/AllergyIntolerance/allergy-alice", allow: true},
		{name: "appointment with patient participant", claims: clinician(), path: "/Appointment/appt-alice", allow: true},
		{name: "advance decision is a preference", claims: clinician(), path: "/Consent/consent-adrt", allow: true},
		{name: "objection consent is governance", claims: clinician(), path: "/Consent/consent-objection", reason: "is governance"},
		{name: "clinical contact needs no patient", claims: clinician(), path: "/Practitioner/prac-1", allow: true},
		// 7. Sensitive data.
		{name: "HIV label excluded", claims: clinician(), path: "/Observation/obs-hiv", reason: "sensitive record shared only via break-glass"},
		{name: "restricted label excluded", claims: clinician(), path: "/Observation/obs-restricted", reason: "sensitive record shared only via break-glass"},
		{name: "contained resource with HIV label", claims: clinician(), path: "/DiagnosticReport/dr-contained-hiv",
			reason: "sensitive record shared only via break-glass"},
		{name: "normal label shared", claims: clinician(), path: "/Observation/obs-alice", allow: true},
		// 8. Objections.
		{name: "objecting patient's record", claims: clinician(), path: "/MedicationRequest/med-bob", reason: "upheld objection"},
		{name: "objecting patient's demographics", claims: clinician(), path: "/Patient/bob", reason: "upheld objection"},
		{name: "objection scoped to the source", claims: clinician(), path: "/MedicationRequest/med-carol-rth", reason: "upheld objection"},
		{name: "objection scoped to another source", claims: clinician(), path: "/MedicationRequest/med-carol-b86", allow: true},
		// Provenance and patient.
		{name: "no provenance tag", claims: clinician(), path: "/MedicationRequest/med-untagged", reason: "no source organisation"},
		{name: "two provenance tags", claims: clinician(), path: "/MedicationRequest/med-two-sources", reason: "no source organisation"},
		{name: "clinical contact without provenance", claims: clinician(), path: "/Practitioner/prac-untagged", reason: "no source organisation"},
		{name: "patient only by literal reference", claims: clinician(), path: "/MedicationRequest/med-literal-ref",
			reason: "does not identify its patient"},
		// 9. Break-glass.
		{name: "break-glass without relationship", claims: noRelationship.breakingGlass(ed, time.Minute),
			path: "/MedicationRequest/med-alice-b86", allow: true, wantBreakGlass: true},
		{name: "break-glass for sensitive data", claims: clinician().breakingGlass(ed, time.Minute),
			path: "/Observation/obs-hiv", allow: true, wantBreakGlass: true},
		{name: "break-glass for emergency treatment", claims: clinician().with(claims{"purpose_of_use": "ETREAT"}).breakingGlass(ed, time.Minute),
			path: "/MedicationRequest/med-alice-b86", allow: true, wantBreakGlass: true},
		{name: "break-glass role not allowed", claims: noRelationship.actingAs("RR8", "R8001").breakingGlass(ed, time.Minute),
			path: "/MedicationRequest/med-alice-b86", reason: "break-glass not allowed for role R8001"},
		{name: "break-glass expired", claims: noRelationship.breakingGlass(ed, 2*time.Hour),
			path: "/MedicationRequest/med-alice-b86", reason: "break-glass expired"},
		{name: "break-glass without reason", claims: noRelationship.breakingGlass("   ", time.Minute),
			path: "/MedicationRequest/med-alice-b86", reason: "legitimate relationship required"},
		{name: "break-glass not needed", claims: clinician().breakingGlass(ed, time.Minute),
			path: "/MedicationRequest/med-alice-b86", allow: true},
		{name: "break-glass cannot lift an objection", claims: clinician().breakingGlass(ed, time.Minute),
			path: "/MedicationRequest/med-bob", reason: "upheld objection"},
		// vread decides like read.
		{name: "vread allowed", claims: clinician(), path: "/MedicationRequest/med-alice-b86/_history/1", allow: true},
		{name: "vread denied", claims: clinician(), path: "/MedicationRequest/med-bob/_history/1", reason: "upheld objection"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.claims.sign(t)
			resp := h.get(t, tc.path, token)
			events := h.audit.take(t)
			checkReadAnswer(t, tc, resp)
			if len(events) != 1 {
				t.Fatalf("want one audit event, got %d", len(events))
			}
			checkReadEvent(t, tc, events[0])
			if line := mustJSON(events[0]); strings.Contains(string(line), token) || strings.Contains(string(line), "clinical content") {
				t.Errorf("the audit event holds the token or clinical content: %s", line)
			}
		})
	}
	if strings.Contains(h.logs.String(), clinician().sign(t)[:40]) {
		t.Error("a token was logged")
	}
}

func checkReadAnswer(t *testing.T, tc readCase, resp response) {
	t.Helper()
	if !tc.allow {
		if resp.status != http.StatusForbidden {
			t.Fatalf("status = %d, want 403: %s", resp.status, resp.body)
		}
		issue := resp.outcome(t)
		if issue.Code != issueForbidden {
			t.Errorf("issue code = %q, want forbidden", issue.Code)
		}
		for _, leak := range []string{"sensitive", "objection", "HIV", "category", alice, bob} {
			if strings.Contains(issue.Diagnostics, leak) {
				t.Errorf("the denial reveals %q: %s", leak, issue.Diagnostics)
			}
		}
		return
	}
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", resp.status, resp.body)
	}
	var r fhirResource
	if err := json.Unmarshal(resp.body, &r); err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(strings.Split(strings.TrimPrefix(tc.path, "/"), "/")[:2], "/"); r.ResourceType+"/"+r.ID != want {
		t.Errorf("answered %s/%s, want %s", r.ResourceType, r.ID, want)
	}
	if resp.header.Get("ETag") == "" {
		t.Error("the ETag of the record service was not passed on")
	}
}

func checkReadEvent(t *testing.T, tc readCase, e auditEvent) {
	t.Helper()
	wantOutcome := auditOutcomeMinorFailure
	if tc.allow {
		wantOutcome = auditOutcomeSuccess
	}
	if e.Outcome != wantOutcome || !strings.Contains(e.OutcomeDesc, tc.reason) {
		t.Errorf("audit outcome %s %q, want %s containing %q", e.Outcome, e.OutcomeDesc, wantOutcome, tc.reason)
	}
	if e.ResourceType != "AuditEvent" || e.ID == "" || e.Action != "R" || e.Source.Site != testRegion {
		t.Errorf("audit event header wrong: %+v", e)
	}
	if _, err := time.Parse(time.RFC3339Nano, e.Recorded); err != nil {
		t.Errorf("recorded %q is not an instant", e.Recorded)
	}
	wantType, wantSubtypes := "110110", []string{codeOf(tc.path)}
	if tc.wantBreakGlass {
		wantType, wantSubtypes = "110113", []string{"110127", codeOf(tc.path)}
	}
	if e.Type.Code != wantType || !slices.Equal(codes(e.Subtype), wantSubtypes) {
		t.Errorf("audit type %s subtypes %v, want %s %v", e.Type.Code, codes(e.Subtype), wantType, wantSubtypes)
	}
	user, org := e.Agent[0], e.Agent[1]
	if user.Who.Identifier.Value != "910000000001" || user.Who.Identifier.System != testIssuer || !user.Requestor {
		t.Errorf("audit user agent = %+v", user)
	}
	if org.Who.Identifier.System != SystemODS || org.Who.Identifier.Value == "" {
		t.Errorf("audit organisation agent = %+v", org)
	}
	if tc.allow && !slices.Contains(user.Policy, "urn:shcr:agreement:dsa-1:1") {
		t.Errorf("audit policies %v do not name the agreement", user.Policy)
	}
	if tc.wantBreakGlass && (len(user.PurposeOfUse) != 1 || user.PurposeOfUse[0].Text == "") {
		t.Errorf("a break-glass event must record the reason: %+v", user.PurposeOfUse)
	}
	resource := e.Entity[len(e.Entity)-1]
	if resource.What.Type == "" || resource.Role.Code != "4" {
		t.Errorf("audit resource entity = %+v", resource)
	}
}

func codeOf(path string) string {
	if strings.Contains(path, "/_history/") {
		return "vread"
	}
	return "read"
}

func codes(cs []coding) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Code)
	}
	return out
}

// TestReadAuditNamesPatientAndCaller checks the whole audit event of one
// allowed read.
func TestReadAuditNamesPatientAndCaller(t *testing.T) {
	h := newHarness(t)
	h.get(t, "/MedicationRequest/med-alice-b86", clinician().sign(t))
	events := h.audit.take(t)
	if len(events) != 1 {
		t.Fatalf("want one event, got %d", len(events))
	}
	e := events[0]
	user := e.Agent[0]
	if got := user.Role[0].Coding[0].Code; got != "R8000" {
		t.Errorf("role = %s, want R8000", got)
	}
	if got := user.PurposeOfUse[0].Coding[0].Code; got != "TREAT" {
		t.Errorf("purpose = %s, want TREAT", got)
	}
	if got := e.Agent[1].Who.Identifier.Value; got != "RR8" {
		t.Errorf("organisation = %s, want RR8", got)
	}
	if len(e.Entity) != 2 || e.Entity[0].What.Identifier.Value != alice || e.Entity[0].What.Identifier.System != SystemNHSNumber {
		t.Errorf("patient entity = %+v", e.Entity)
	}
	resource := e.Entity[1]
	if resource.What.Reference != "MedicationRequest/med-alice-b86" || resource.What.Type != "MedicationRequest" {
		t.Errorf("resource entity = %+v", resource.What)
	}
	wantDetail := []auditDetail{{Type: "category", ValueString: "Medications"}, {Type: "sourceOrganisation", ValueString: "B86001"}}
	if !slices.Equal(resource.Detail, wantDetail) {
		t.Errorf("resource detail = %+v, want %+v", resource.Detail, wantDetail)
	}
	if !slices.Contains(user.Policy, "urn:shcr:access-policy:tvs/clinical") ||
		!slices.Contains(user.Policy, "urn:shcr:policy-bundle:"+h.revision()) {
		t.Errorf("policies = %v", user.Policy)
	}
}

// TestHistory filters an instance history like a search and removes
// versions without a resource.
func TestHistory(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)

	resp := h.get(t, "/MedicationRequest/med-alice-b86/_history", token)
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.status, resp.body)
	}
	b, keys := resp.bundle(t)
	if !slices.Equal(keys, []string{"MedicationRequest/med-alice-b86"}) {
		t.Errorf("entries = %v", keys)
	}
	if string(b["type"]) != `"history"` {
		t.Errorf("type = %s", b["type"])
	}
	events := h.audit.take(t)
	if len(events) != 1 || events[0].Subtype[0].Code != "history-instance" || events[0].Action != "R" {
		t.Errorf("audit events = %+v", events)
	}

	resp = h.get(t, "/MedicationRequest/med-bob/_history", token)
	if _, keys := resp.bundle(t); resp.status != http.StatusOK || len(keys) != 0 {
		t.Errorf("an objecting patient's history must be empty, got %d %v", resp.status, keys)
	}
}

// TestNotFound passes on a missing resource as 404 without a decision.
func TestNotFound(t *testing.T) {
	h := newHarness(t)
	resp := h.get(t, "/MedicationRequest/no-such-thing", clinician().sign(t))
	if resp.status != http.StatusNotFound || resp.outcome(t).Code != issueNotFound {
		t.Errorf("status = %d: %s", resp.status, resp.body)
	}
	if events := h.audit.take(t); len(events) != 0 {
		t.Errorf("no decision was made, but %d events were audited", len(events))
	}
}

// TestCapabilities serves the gateway's own CapabilityStatement without a
// token: exactly the shared types, read, vread, instance history and type
// search, no writes, no operations, the gateway's external URL and nothing
// of the record service, whatever the record service would say.
func TestCapabilities(t *testing.T) {
	h := newHarness(t)
	h.records.mu.Lock()
	h.records.capabilities = `{"resourceType":"CapabilityStatement","rest":[{"mode":"server","operation":[{"name":"everything"}],"resource":[{"type":"Patient","interaction":[{"code":"create"},{"code":"delete"}]}]}],"implementation":{"url":"` + h.records.base() + `"}}`
	h.records.mu.Unlock()
	for _, path := range []string{"/metadata", "/"} {
		resp := h.get(t, path, "")
		if resp.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, resp.status, resp.body)
		}
		var cs capabilityStatement
		must(t, json.Unmarshal(resp.body, &cs))
		body := string(resp.body)
		for _, leak := range []string{h.records.URL, h.records.base(), "everything", `"operation"`, `"create"`, `"delete"`, `"update"`, `"patch"`} {
			if strings.Contains(body, leak) {
				t.Errorf("GET %s: the CapabilityStatement mentions %q: %s", path, leak, body)
			}
		}
		if cs.ResourceType != "CapabilityStatement" || cs.Implementation.URL != h.server.URL+"/" || len(cs.Rest) != 1 {
			t.Fatalf("GET %s: %s", path, body)
		}
		var types []string
		for _, r := range cs.Rest[0].Resource {
			types = append(types, r.Type)
			if !reflect.DeepEqual(r.Interaction, servedInteractions) {
				t.Errorf("%s interactions %v", r.Type, r.Interaction)
			}
			hasScope := slices.ContainsFunc(r.SearchParam, func(p capabilitySearchPar) bool { return strings.Contains(p.Name, "identifier") })
			if hasScope != holdsPatientData(r.Type) {
				t.Errorf("%s: patient search parameter listed = %v, want %v", r.Type, hasScope, holdsPatientData(r.Type))
			}
		}
		if !slices.Equal(types, policy.SharedTypes()) || slices.Contains(types, "AuditEvent") || slices.Contains(types, "Provenance") {
			t.Errorf("types %v, want the shared types %v", types, policy.SharedTypes())
		}
	}
	if requests, _ := h.records.seen(); len(requests) != 0 {
		t.Errorf("the record service was asked %d times; the statement is the gateway's own", len(requests))
	}
}

// TestUpstreamNeverSeesTheToken checks that the caller's credentials stay
// at the gateway.
func TestUpstreamNeverSeesTheToken(t *testing.T) {
	h := newHarness(t)
	h.get(t, "/MedicationRequest/med-alice-b86", clinician().sign(t))
	h.get(t, "/MedicationRequest?_count=5&"+aliceQuery(), clinician().sign(t))
	requests, _ := h.records.seen()
	if len(requests) != 2 {
		t.Fatalf("record service got %d requests, want 2", len(requests))
	}
	for _, r := range requests {
		if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
			t.Errorf("the record service got the caller's credentials on %s", r.URL)
		}
		if r.Header.Get("Accept") != ContentTypeFHIR {
			t.Errorf("Accept = %q", r.Header.Get("Accept"))
		}
	}
}

// TestAuditWritesAreTimed times every audit write an answer waits for,
// failed ones too: a sink that takes 20 ms per write (a slow disk) shows as
// answers that waited at least that long.
func TestAuditWritesAreTimed(t *testing.T) {
	slow := &slowWriter{delay: 20 * time.Millisecond}
	h := newHarness(t, func(s *setup) { s.audit = slow })
	if resp := h.get(t, "/MedicationRequest/med-alice-b86", clinician().sign(t)); resp.status != http.StatusOK {
		t.Fatalf("read status = %d, want 200", resp.status)
	}
	if resp := h.get(t, "/MedicationRequest?"+aliceQuery(), clinician().sign(t)); resp.status != http.StatusOK {
		t.Fatalf("search status = %d, want 200", resp.status)
	}
	slow.fail.Store(true)
	if resp := h.get(t, "/MedicationRequest/med-alice-b86", clinician().sign(t)); resp.status != http.StatusServiceUnavailable {
		t.Fatalf("read with a failing sink: status = %d, want 503", resp.status)
	}
	writes := int(slow.writes.Load())
	if writes != 3 {
		t.Fatalf("%d audit writes, want 3 (a read, a search, a failed read)", writes)
	}
	families, err := h.gateway.metrics.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var hist *dto.Histogram
	for _, f := range families {
		if f.GetName() == "shcr_gateway_audit_write_duration_seconds" {
			hist = f.GetMetric()[0].GetHistogram()
		}
	}
	if hist == nil {
		t.Fatal("no shcr_gateway_audit_write_duration_seconds")
	}
	if int(hist.GetSampleCount()) != writes {
		t.Errorf("%d audit writes timed, want %d", hist.GetSampleCount(), writes)
	}
	if sum := hist.GetSampleSum(); sum < 3*slow.delay.Seconds() {
		t.Errorf("audit writes took %.3f s in all, want at least %.3f s", sum, 3*slow.delay.Seconds())
	}
	for _, b := range hist.GetBucket() {
		if b.GetUpperBound() < slow.delay.Seconds() && b.GetCumulativeCount() != 0 {
			t.Errorf("%d writes of a 20 ms sink counted at or under %g s", b.GetCumulativeCount(), b.GetUpperBound())
		}
	}
}

// slowWriter takes delay over every write, a slow disk, and fails them
// once fail is set.
type slowWriter struct {
	delay  time.Duration
	writes atomic.Int32
	fail   atomic.Bool
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.writes.Add(1)
	time.Sleep(w.delay) // the sink's own slowness, not a wait for the test
	if w.fail.Load() {
		return 0, os.ErrClosed
	}
	return len(p), nil
}

// TestAuditFailureRefusesAccess refuses an access whose audit event cannot
// be written.
func TestAuditFailureRefusesAccess(t *testing.T) {
	h := newHarness(t, func(s *setup) { s.audit = &failingWriter{} })
	resp := h.get(t, "/MedicationRequest/med-alice-b86", clinician().sign(t))
	if resp.status != http.StatusServiceUnavailable || strings.Contains(string(resp.body), "med-alice-b86") {
		t.Errorf("status = %d %s, want 503 without the resource", resp.status, resp.body)
	}
	resp = h.get(t, "/MedicationRequest?"+aliceQuery(), clinician().sign(t))
	if resp.status != http.StatusServiceUnavailable {
		t.Errorf("search status = %d, want 503", resp.status)
	}
}
