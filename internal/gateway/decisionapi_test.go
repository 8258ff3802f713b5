/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDecisionAPI decides for other enforcement points as the proxy does,
// for the token's caller only, and audits each decision.
func TestDecisionAPI(t *testing.T) {
	h := newHarness(t)
	token := clinician().sign(t)
	cases := []struct {
		name       string
		token      string
		body       string
		wantStatus int
		wantAllow  bool
		wantReason string
	}{
		{name: "allowed", body: `{"action":"read","resourceType":"MedicationRequest","sourceOds":"B86001","patientNhsNumber":"` + alice + `","resourceId":"m1"}`,
			wantStatus: 200, wantAllow: true, wantReason: "allowed by policy tvs/clinical"},
		{name: "caller fields matching the token", body: `{"callerOds":"RR8","role":"R8000","purposeOfUse":"TREAT","legitimateRelationship":true,
			"action":"search","category":"Medications","resourceType":"MedicationStatement","sourceOds":"RTH","patientNhsNumber":"` + alice + `"}`,
			wantStatus: 200, wantAllow: true},
		{name: "objecting patient", body: `{"action":"read","resourceType":"MedicationRequest","sourceOds":"B86001","patientNhsNumber":"` + bob + `"}`,
			wantStatus: 200, wantReason: "upheld objection"},
		{name: "no patient", body: `{"action":"read","resourceType":"MedicationRequest","sourceOds":"B86001"}`,
			wantStatus: 200, wantReason: "does not identify its patient"},
		{name: "clinical contact without patient", body: `{"action":"read","resourceType":"PractitionerRole","sourceOds":"B86001"}`,
			wantStatus: 200, wantAllow: true},
		{name: "ambulatory encounter", body: `{"action":"read","resourceType":"Encounter","encounterClass":"AMB","sourceOds":"RTH","patientNhsNumber":"` + alice + `"}`,
			wantStatus: 200, wantAllow: true},
		{name: "inpatient encounter", body: `{"action":"read","resourceType":"Encounter","encounterClass":"IMP","sourceOds":"RTH","patientNhsNumber":"` + alice + `"}`,
			wantStatus: 200, wantReason: "category InpatientStays not granted"},
		{name: "consent as objection", body: `{"action":"read","resourceType":"Consent","consentScope":"patient-privacy","sourceOds":"RTH","patientNhsNumber":"` + alice + `"}`,
			wantStatus: 200, wantReason: "governance"},
		{name: "sensitive", body: `{"action":"read","resourceType":"Observation","securityLabels":["PSY"],"sourceOds":"RTH","patientNhsNumber":"` + alice + `"}`,
			wantStatus: 200, wantReason: "sensitive record shared only via break-glass"},
		{name: "audit events are never shared", body: `{"action":"read","resourceType":"AuditEvent","sourceOds":"RTH","patientNhsNumber":"` + alice + `"}`,
			wantStatus: 200, wantReason: "no data category"},
		{name: "another caller's organisation", body: `{"callerOds":"B86001","action":"read","resourceType":"Patient","sourceOds":"RTH"}`,
			wantStatus: 400, wantReason: "callerOds B86001 does not match the bearer token"},
		{name: "another role", body: `{"role":"R8001","legitimateRelationship":false,"action":"read","resourceType":"Patient","sourceOds":"RTH"}`,
			wantStatus: 400, wantReason: "legitimateRelationship false does not match"},
		{name: "break-glass not in the token", body: `{"breakGlassReason":"emergency","action":"read","resourceType":"Patient","sourceOds":"RTH"}`,
			wantStatus: 400, wantReason: "breakGlassReason does not match"},
		{name: "write action", body: `{"action":"write","resourceType":"Patient","sourceOds":"RTH"}`, wantStatus: 400, wantReason: "not read or search"},
		{name: "wrong category", body: `{"action":"read","category":"Allergies","resourceType":"Patient","sourceOds":"RTH"}`,
			wantStatus: 400, wantReason: `category "Allergies" is not the category of Patient`},
		{name: "invalid NHS number", body: `{"action":"read","resourceType":"Patient","sourceOds":"RTH","patientNhsNumber":"1234567890"}`,
			wantStatus: 400, wantReason: "not a valid NHS number"},
		{name: "unknown field", body: `{"action":"read","resourceType":"Patient","sourceOds":"RTH","allow":true}`, wantStatus: 400, wantReason: "unknown field"},
		{name: "no token", token: "-", body: `{"action":"read","resourceType":"Patient","sourceOds":"RTH"}`, wantStatus: 401, wantReason: "no bearer token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bearer := token
			if tc.token == "-" {
				bearer = ""
			}
			resp := h.do(t, http.MethodPost, "/v1/decisions", bearer, strings.NewReader(tc.body), http.Header{"Content-Type": {"application/json"}})
			if resp.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", resp.status, tc.wantStatus, resp.body)
			}
			events := h.audit.take(t)
			if tc.wantStatus != http.StatusOK {
				if issue := resp.outcome(t); !strings.Contains(issue.Diagnostics, tc.wantReason) {
					t.Errorf("diagnostics %q, want %q", issue.Diagnostics, tc.wantReason)
				}
				if len(events) != 0 {
					t.Errorf("a refused request was audited")
				}
				return
			}
			var d DecisionResponse
			must(t, json.Unmarshal(resp.body, &d))
			if d.Allow != tc.wantAllow || !strings.Contains(strings.Join(d.Reasons, "; "), tc.wantReason) {
				t.Errorf("decision %+v, want allow=%v with %q", d, tc.wantAllow, tc.wantReason)
			}
			if len(events) != 1 || events[0].ID != d.AuditEvent {
				t.Fatalf("want the one audit event the answer names, got %d", len(events))
			}
			if tc.wantAllow && (d.Agreement != "dsa-1" || d.AgreementVersion != 1 || d.Policy != "tvs/clinical") {
				t.Errorf("an allow must name what granted it: %+v", d)
			}
		})
	}
}

// TestDecisionAPIBreakGlass flags an override in the answer and the audit.
func TestDecisionAPIBreakGlass(t *testing.T) {
	h := newHarness(t)
	c := clinician().breakingGlass("anaphylaxis", time.Minute)
	body := `{"breakGlassReason":"anaphylaxis","action":"read","resourceType":"Observation","securityLabels":["SEX"],"sourceOds":"RTH","patientNhsNumber":"` + alice + `"}`
	resp := h.do(t, http.MethodPost, "/v1/decisions", c.sign(t), strings.NewReader(body), nil)
	var d DecisionResponse
	must(t, json.Unmarshal(resp.body, &d))
	if !d.Allow || !d.BreakGlass {
		t.Fatalf("decision %+v, want an allow by break-glass", d)
	}
	if events := h.audit.take(t); len(events) != 1 || events[0].Type.Code != "110113" {
		t.Errorf("want one Security Alert event, got %+v", events)
	}
}
