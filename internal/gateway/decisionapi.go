/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
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
	// ResourceID is recorded in the audit event as part of the request,
	// never as a resource accessed.
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

// DecisionAPIConfig says who may use the decision API. A caller may when
// its national RBAC role is one of Roles, or when its token's aud holds
// Audience. Empty, nobody may: the API is closed unless configured.
type DecisionAPIConfig struct {
	// Roles are national RBAC role codes (R8000, ...).
	Roles []string
	// Audience is an aud value that grants use of the API, for example the
	// client ID of another enforcement point.
	Audience string
}

// allows reports whether the caller may use the decision API.
func (d DecisionAPIConfig) allows(c identity.Caller) bool {
	return (c.Role != "" && slices.Contains(d.Roles, c.Role)) || (d.Audience != "" && c.DecisionAPIAudience)
}

// rolePattern is the shape of a national RBAC role code.
var rolePattern = regexp.MustCompile(`^R[0-9]{4,5}$`)

func (d DecisionAPIConfig) validate() error {
	var errs []error
	for _, role := range d.Roles {
		if !rolePattern.MatchString(role) {
			errs = append(errs, fmt.Errorf("decision API role %q is not a national RBAC role code such as R8000 (--decision-api-roles)", role))
		}
	}
	return errors.Join(errs...)
}

// generalReason replaces, in decision API answers, a reason that would
// disclose a patient's objection. The audit event keeps the exact reason.
const generalReason = "not shared under the region's policy"

// answerReasons are the reasons a decision API caller is told.
func answerReasons(v verdict) []string {
	if v.denial == objectionDenial {
		return []string{generalReason}
	}
	return v.Reasons()
}

// serveDecision decides for another enforcement point, exactly as the proxy
// decides on a resource with the same facts, and audits the question as a
// decision query. Only callers the region configured may ask.
func (g *Gateway) serveDecision(w http.ResponseWriter, r *http.Request) {
	caller, ok := g.authenticate(w, r)
	if !ok {
		return
	}
	if !g.cfg.DecisionAPI.allows(caller) {
		writeOutcome(w, http.StatusForbidden, issueForbidden,
			"the decision API is open only to the roles and token audience the region configures for it (spec.gateway.decisionAPI)")
		return
	}
	req, err := decodeDecisionRequest(w, r)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, issueInvalid, err.Error())
		return
	}
	kind, facts, err := req.parse(caller)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, issueInvalid, err.Error())
		return
	}
	query, err := json.Marshal(req)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, issueInvalid, "the decision request cannot be recorded: "+err.Error())
		return
	}
	v, err := g.decideQuery(caller, kind, facts, string(query))
	if err != nil {
		writeAuditFailure(w)
		return
	}
	writeJSON(w, DecisionResponse{
		Allow:            v.Allow,
		Reasons:          answerReasons(v),
		Agreement:        v.Agreement,
		AgreementVersion: v.AgreementVersion,
		Policy:           v.Policy,
		BreakGlass:       v.BreakGlass,
		AuditEvent:       v.auditEvent,
	})
}

// decodeDecisionRequest reads one JSON object and nothing after it.
func decodeDecisionRequest(w http.ResponseWriter, r *http.Request) (DecisionRequest, error) {
	var req DecisionRequest
	decoder := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDecisionBytes))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&req); err != nil {
		return DecisionRequest{}, fmt.Errorf("the decision request is not valid JSON (at most %d bytes): %w", maxDecisionBytes, err)
	}
	if _, err := decoder.Token(); !errors.Is(err, io.EOF) {
		return DecisionRequest{}, errors.New("the decision request has data after its JSON object; send exactly one object")
	}
	return req, nil
}

// decideQuery decides on the facts of a decision request and writes its
// audit event, a decision query: who asked about which patient, with what
// request, and the exact decision. The resource id the caller chose is in
// the recorded request, never recorded as a resource accessed.
func (g *Gateway) decideQuery(c identity.Caller, kind Kind, facts resourceFacts, query string) (verdict, error) {
	now := time.Now()
	v := g.currentView().evaluate(c, kind.Action(), facts, now)
	v.auditEvent = uuid.NewString()
	events := newAuditLines(1)
	defer events.release()
	events.add(auditRecord{
		id: v.auditEvent, class: auditDecisionQuery, caller: c, kind: kind, facts: facts, verdict: v, query: query,
		region: g.cfg.Region, observer: g.observer, at: now,
	})
	if err := g.audit.write(events); err != nil {
		g.metrics.auditWriteErrors.Inc()
		g.log.Error("Audit event of a decision query not written; query refused", "error", err)
		return verdict{}, errors.Join(errAudit, err)
	}
	g.metrics.decisions.WithLabelValues(outcomeLabel(v.Allow), "decision-query").Inc()
	return v, nil
}

// parse checks the request against the caller and gives the interaction
// and resource facts to decide on.
func (d DecisionRequest) parse(c identity.Caller) (Kind, resourceFacts, error) {
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
func (d DecisionRequest) matchCaller(c identity.Caller) error {
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
