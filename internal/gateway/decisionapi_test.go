/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDecisionAPI decides for other enforcement points as the proxy does,
// for the token's caller only, never tells a patient's objection, and
// audits each question as a decision query and each refusal as one.
func TestDecisionAPI(t *testing.T) {
	h := newHarness(t, withDecisionAPI)
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
			wantStatus: 200, wantReason: generalReason},
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
		{name: "problem not granted", body: `{"action":"read","resourceType":"Condition","sourceOds":"B86001","patientNhsNumber":"` + alice + `"}`,
			wantStatus: 200, wantReason: "category Problems not granted"},
		{name: "problem named as another category", body: `{"action":"read","category":"Allergies","resourceType":"Condition","sourceOds":"B86001","patientNhsNumber":"` + alice + `"}`,
			wantStatus: 400, wantReason: `category "Allergies" is not the category of Condition`},
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
			refusals := h.audit.refusals(t)
			if tc.wantStatus != http.StatusOK {
				if issue := resp.outcome(t); !strings.Contains(issue.Diagnostics, tc.wantReason) {
					t.Errorf("diagnostics %q, want %q", issue.Diagnostics, tc.wantReason)
				}
				if len(events) != 0 {
					t.Errorf("a refused request was decided")
				}
				if len(refusals) != 1 || !strings.Contains(refusals[0].OutcomeDesc, tc.wantReason) {
					t.Errorf("want one refusal event with the reason, got %+v", refusals)
				}
				return
			}
			if len(refusals) != 0 {
				t.Errorf("an answered question was audited as a refusal: %+v", refusals)
			}
			var d DecisionResponse
			must(t, json.Unmarshal(resp.body, &d))
			if d.Allow != tc.wantAllow || !strings.Contains(strings.Join(d.Reasons, "; "), tc.wantReason) {
				t.Errorf("decision %+v, want allow=%v with %q", d, tc.wantAllow, tc.wantReason)
			}
			if len(events) != 1 || events[0].ID != d.AuditEvent {
				t.Fatalf("want the one audit event the answer names, got %d", len(events))
			}
			checkDecisionQueryEvent(t, events[0], tc.body)
			if strings.Contains(strings.Join(d.Reasons, " "), "upheld objection") {
				t.Errorf("the answer tells a patient's objection: %v", d.Reasons)
			}
			if tc.wantAllow && (d.Agreement != "dsa-1" || d.AgreementVersion != 1 || d.Policy != "tvs/clinical") {
				t.Errorf("an allow must name what granted it: %+v", d)
			}
		})
	}
}

// TestDecisionAPIBreakGlass flags an override in the answer and the audit.
func TestDecisionAPIBreakGlass(t *testing.T) {
	h := newHarness(t, withDecisionAPI)
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

// checkDecisionQueryEvent holds an event to the shape of a decision query:
// a Restful Operation with the decision-query subtype, the patient asked
// about, and the request as the query, never the caller-chosen resource
// id as a resource accessed.
func checkDecisionQueryEvent(t *testing.T, e auditEvent, body string) {
	t.Helper()
	if e.Action != "E" || !slices.Contains(e.Subtype, subtypeDecisionQuery) {
		t.Errorf("event action %s subtype %v, want E and decision-query", e.Action, codes(e.Subtype))
	}
	if e.Type != eventRestful && e.Type != eventSecurityAlert {
		t.Errorf("event type %+v", e.Type)
	}
	var asked map[string]any
	must(t, json.Unmarshal([]byte(body), &asked))
	var query *auditEntity
	for i, entity := range e.Entity {
		if entity.What.Reference != "" {
			t.Errorf("a decision query recorded an access to %s", entity.What.Reference)
		}
		if entity.Role.Code == "24" {
			query = &e.Entity[i]
		}
	}
	if query == nil {
		t.Fatalf("no query entity: %+v", e.Entity)
	}
	recorded, err := base64.StdEncoding.DecodeString(query.Query)
	must(t, err)
	var got map[string]any
	must(t, json.Unmarshal(recorded, &got))
	for k, v := range asked {
		if fmt.Sprint(got[k]) != fmt.Sprint(v) {
			t.Errorf("recorded query %s = %v, asked %v", k, got[k], v)
		}
	}
	if nhs, ok := asked["patientNhsNumber"].(string); ok {
		if !slices.ContainsFunc(e.Entity, func(en auditEntity) bool {
			return en.What.Identifier != nil && en.What.Identifier.Value == nhs && en.Role.Code == "1"
		}) {
			t.Errorf("the patient asked about is not an entity of the event")
		}
	}
}

// TestDecisionAPIAuditKeepsTheExactReason tells the caller a general
// reason for a patient's objection, and the audit event the exact one.
func TestDecisionAPIAuditKeepsTheExactReason(t *testing.T) {
	h := newHarness(t, withDecisionAPI)
	for _, source := range []string{"B86001", "RTH"} {
		body := `{"action":"read","resourceType":"MedicationRequest","sourceOds":"` + source + `","patientNhsNumber":"` + bob + `"}`
		resp := h.do(t, http.MethodPost, "/v1/decisions", clinician().sign(t), strings.NewReader(body), nil)
		var d DecisionResponse
		must(t, json.Unmarshal(resp.body, &d))
		if d.Allow || !slices.Equal(d.Reasons, []string{generalReason}) {
			t.Errorf("decision %+v, want a denial with only %q", d, generalReason)
		}
		events := h.audit.take(t)
		if len(events) != 1 || events[0].OutcomeDesc != objectionDenial {
			t.Errorf("audit events %+v, want the exact reason", events)
		}
	}
	// carol objects only to RTH: the answers for B86001 and RTH differ only
	// in allow, never in a reason naming the objection.
	for _, source := range []string{"B86001", "RTH"} {
		body := `{"action":"read","resourceType":"MedicationRequest","sourceOds":"` + source + `","patientNhsNumber":"` + carol + `"}`
		resp := h.do(t, http.MethodPost, "/v1/decisions", clinician().sign(t), strings.NewReader(body), nil)
		if strings.Contains(string(resp.body), "objection") || strings.Contains(string(resp.body), "GDPR") {
			t.Errorf("the answer tells the objection: %s", resp.body)
		}
	}
}

// TestDecisionAPIAccess opens the decision API only to the configured
// roles and audience; everyone else is refused, and each refusal audited.
func TestDecisionAPIAccess(t *testing.T) {
	body := `{"action":"read","resourceType":"MedicationRequest","sourceOds":"B86001","patientNhsNumber":"` + alice + `"}`
	withAudience := clinician().actingAs("RR8", "R8001").with(claims{"aud": []string{testAudience, decisionAudience}})
	cases := []struct {
		name   string
		config DecisionAPIConfig
		token  claims
		want   int
	}{
		{"closed by default", DecisionAPIConfig{}, clinician(), 403},
		{"closed by default, even with the audience", DecisionAPIConfig{}, withAudience, 403},
		{"a configured role", DecisionAPIConfig{Roles: []string{"R8000"}}, clinician(), 200},
		{"one of several roles", DecisionAPIConfig{Roles: []string{"R8001", "R8000"}}, clinician(), 200},
		{"another role", DecisionAPIConfig{Roles: []string{"R8000"}}, clinician().actingAs("RR8", "R8001"), 403},
		{"no role in the token", DecisionAPIConfig{Roles: []string{"R8000"}}, clinician().actingAs("RR8", ""), 401},
		{"the configured audience", DecisionAPIConfig{Audience: decisionAudience}, withAudience, 200},
		{"the audience alone", DecisionAPIConfig{Audience: decisionAudience}, withAudience.with(claims{"aud": decisionAudience}), 401},
		{"another audience", DecisionAPIConfig{Audience: decisionAudience},
			clinician().with(claims{"aud": []string{testAudience, "shcr-tvs-other"}}), 403},
		{"a prefix of the audience", DecisionAPIConfig{Audience: decisionAudience},
			clinician().with(claims{"aud": []string{testAudience, "shcr-tvs-decision"}}), 403},
		{"the audience as the gateway's own", DecisionAPIConfig{Audience: decisionAudience}, clinician(), 403},
		{"role or audience", DecisionAPIConfig{Roles: []string{"R8000"}, Audience: decisionAudience}, withAudience, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(s *setup) { s.decisionAPI = tc.config })
			resp := h.do(t, http.MethodPost, "/v1/decisions", tc.token.sign(t), strings.NewReader(body), nil)
			if resp.status != tc.want {
				t.Fatalf("status = %d, want %d: %s", resp.status, tc.want, resp.body)
			}
			decisions, refusals := h.audit.take(t), h.audit.refusals(t)
			if tc.want == http.StatusOK {
				if len(decisions) != 1 || len(refusals) != 0 {
					t.Errorf("%d decisions and %d refusals audited, want one decision", len(decisions), len(refusals))
				}
				return
			}
			if issue := resp.outcome(t); tc.want == http.StatusForbidden && !strings.Contains(issue.Diagnostics, "decision API") {
				t.Errorf("diagnostics %q", issue.Diagnostics)
			}
			if len(decisions) != 0 || len(refusals) != 1 {
				t.Errorf("%d decisions and %d refusals audited, want one refusal", len(decisions), len(refusals))
			}
		})
	}
}

// TestDecisionAPIConfigValidation refuses role codes that are not national
// RBAC role codes.
func TestDecisionAPIConfigValidation(t *testing.T) {
	for _, roles := range [][]string{{""}, {"r8000"}, {"8000"}, {"R80"}, {"R8000 "}, {"R8000,R8001"}, {"S8000:G8000:R8000"}} {
		if err := (DecisionAPIConfig{Roles: roles}).validate(); err == nil || !strings.Contains(err.Error(), "--decision-api-roles") {
			t.Errorf("roles %q: error %v, want one naming --decision-api-roles", roles, err)
		}
	}
	if err := (DecisionAPIConfig{Roles: []string{"R8000", "R0260"}}).validate(); err != nil {
		t.Error(err)
	}
}

// TestDecisionAPIRefusesTrailingData answers exactly one JSON object and
// refuses anything after it.
func TestDecisionAPIRefusesTrailingData(t *testing.T) {
	h := newHarness(t, withDecisionAPI)
	object := `{"action":"read","resourceType":"MedicationRequest","sourceOds":"B86001","patientNhsNumber":"` + alice + `"}`
	for _, tc := range []struct {
		body string
		want int
	}{
		{object, 200},
		{object + "\n", 200},
		{" \t\r\n" + object + " \t\r\n ", 200},
		{object + object, 400},
		{object + "\n" + object, 400},
		{object + "{}", 400},
		{object + " null", 400},
		{object + "]", 400},
		{object + "}", 400},
		{object + ",", 400},
		{object + "x", 400},
		{object + `"patientNhsNumber":"` + bob + `"`, 400},
		{object + "\x00", 400},
		{object + "0", 400},
		{"[" + object + "]", 400},
		{"", 400},
		{"null", 400},
	} {
		resp := h.do(t, http.MethodPost, "/v1/decisions", clinician().sign(t), strings.NewReader(tc.body), nil)
		if resp.status != tc.want {
			t.Errorf("body %q: status = %d, want %d: %s", tc.body, resp.status, tc.want, resp.body)
			continue
		}
		decisions, refusals := h.audit.take(t), h.audit.refusals(t)
		if tc.want == http.StatusBadRequest && (resp.outcome(t).Code != issueInvalid || len(decisions) != 0 || len(refusals) != 1) {
			t.Errorf("body %q: %d decisions, %d refusals, want one refusal", tc.body, len(decisions), len(refusals))
		}
	}
}
