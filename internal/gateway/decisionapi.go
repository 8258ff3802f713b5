/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// maxDecisionBytes bounds a decision request.
const maxDecisionBytes = 64 * 1024

// DecisionRequest is the body of POST /v1/decisions: the fields of
// policy.Request, the resource's type and what the gateway reads from a
// resource. The caller is the bearer token's: the caller fields may be left
// out, and when given must match the token.
type DecisionRequest struct {
	CallerODS              string     `json:"callerOds,omitempty"`
	Role                   string     `json:"role,omitempty"`
	PurposeOfUse           string     `json:"purposeOfUse,omitempty"`
	LegitimateRelationship *bool      `json:"legitimateRelationship,omitempty"`
	BreakGlassReason       string     `json:"breakGlassReason,omitempty"`
	BreakGlassStarted      *time.Time `json:"breakGlassStarted,omitempty"`
	// Action is read or search.
	Action string `json:"action"`
	// Category, when given, must be the category of ResourceType.
	Category       string   `json:"category,omitempty"`
	SourceODS      string   `json:"sourceOds"`
	SecurityLabels []string `json:"securityLabels,omitempty"`
	// ResourceType is the FHIR type; EncounterClass (an Encounter's class
	// code) and ConsentScope (a Consent's scope code) complete its category.
	ResourceType   string `json:"resourceType"`
	EncounterClass string `json:"encounterClass,omitempty"`
	ConsentScope   string `json:"consentScope,omitempty"`
	// ResourceID is recorded in the audit event.
	ResourceID string `json:"resourceId,omitempty"`
	// PatientNHSNumber is the patient the resource is about; required for
	// every category but ClinicalContacts.
	PatientNHSNumber string `json:"patientNhsNumber,omitempty"`
}

// DecisionResponse is the answer of POST /v1/decisions: the policy.Decision
// and the audit event that records it.
type DecisionResponse struct {
	Allow            bool     `json:"allow"`
	Reasons          []string `json:"reasons"`
	Agreement        string   `json:"agreement,omitempty"`
	AgreementVersion int32    `json:"agreementVersion,omitempty"`
	Policy           string   `json:"policy,omitempty"`
	BreakGlass       bool     `json:"breakGlass"`
	AuditEvent       string   `json:"auditEvent"`
}

// serveDecision decides for another enforcement point, exactly as the proxy
// decides on a resource with the same facts, and audits the decision.
func (g *Gateway) serveDecision(w http.ResponseWriter, r *http.Request) {
	caller, ok := g.authenticate(w, r)
	if !ok {
		return
	}
	var req DecisionRequest
	decoder := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDecisionBytes))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&req); err != nil {
		writeOutcome(w, http.StatusBadRequest, issueInvalid, "the decision request is not valid JSON: "+err.Error())
		return
	}
	kind, facts, err := req.parse(caller)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, issueInvalid, err.Error())
		return
	}
	v, err := g.decideOne(g.currentView(), caller, kind, facts)
	if err != nil {
		writeAuditFailure(w)
		return
	}
	writeJSON(w, DecisionResponse{
		Allow:            v.Allow,
		Reasons:          v.Reasons(),
		Agreement:        v.Agreement,
		AgreementVersion: v.AgreementVersion,
		Policy:           v.Policy,
		BreakGlass:       v.BreakGlass,
		AuditEvent:       v.auditEvent,
	})
}

// parse checks the request against the caller and gives the interaction
// and resource facts to decide on.
func (d DecisionRequest) parse(c Caller) (Kind, resourceFacts, error) {
	if err := d.matchCaller(c); err != nil {
		return "", resourceFacts{}, err
	}
	var kind Kind
	switch d.Action {
	case policy.ActionRead:
		kind = KindRead
	case policy.ActionSearch:
		kind = KindSearch
	default:
		return "", resourceFacts{}, fmt.Errorf("action %q is not read or search", d.Action)
	}
	if !resourceTypePattern.MatchString(d.ResourceType) {
		return "", resourceFacts{}, fmt.Errorf("resourceType %q is not a FHIR resource type", d.ResourceType)
	}
	if d.PatientNHSNumber != "" && !ValidNHSNumber(d.PatientNHSNumber) {
		return "", resourceFacts{}, errors.New("patientNhsNumber is not a valid NHS number (ten digits with a modulus-11 check digit)")
	}
	facts := resourceFacts{ResourceType: d.ResourceType, ID: d.ResourceID, Source: d.SourceODS, Labels: d.SecurityLabels}
	facts.Category, facts.Unshareable = categoryOf(d.ResourceType, d.EncounterClass, []string{d.ConsentScope})
	if d.Category != "" && d.Category != facts.Category {
		return "", resourceFacts{}, fmt.Errorf("category %q is not the category of %s (%q)", d.Category, d.ResourceType, facts.Category)
	}
	if d.PatientNHSNumber != "" {
		facts.Patients = []string{d.PatientNHSNumber}
	}
	return kind, facts, nil
}

// matchCaller refuses caller fields that differ from the token: a decision
// is always made for the token's caller.
func (d DecisionRequest) matchCaller(c Caller) error {
	var errs []error
	mismatch := func(field string, given, token any) {
		errs = append(errs, fmt.Errorf("%s %v does not match the bearer token (%v)", field, given, token))
	}
	if d.CallerODS != "" && d.CallerODS != c.Organisation {
		mismatch("callerOds", d.CallerODS, c.Organisation)
	}
	if d.Role != "" && d.Role != c.Role {
		mismatch("role", d.Role, c.Role)
	}
	if d.PurposeOfUse != "" && d.PurposeOfUse != c.PurposeOfUse {
		mismatch("purposeOfUse", d.PurposeOfUse, c.PurposeOfUse)
	}
	if d.LegitimateRelationship != nil && *d.LegitimateRelationship != c.LegitimateRelationship {
		mismatch("legitimateRelationship", *d.LegitimateRelationship, c.LegitimateRelationship)
	}
	if d.BreakGlassReason != "" && d.BreakGlassReason != c.BreakGlassReason {
		errs = append(errs, errors.New("breakGlassReason does not match the bearer token"))
	}
	if d.BreakGlassStarted != nil && !d.BreakGlassStarted.Equal(c.IssuedAt) {
		mismatch("breakGlassStarted", d.BreakGlassStarted.UTC().Format(time.RFC3339), c.IssuedAt.UTC().Format(time.RFC3339))
	}
	return errors.Join(errs...)
}

func writeJSON(w http.ResponseWriter, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		http.Error(w, "encoding the response failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(data, '\n'))
}
