/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// The code systems of audit events. National RBAC role codes have no
// published FHIR code system, so the project names one.
const (
	systemDICOM              = "http://dicom.nema.org/resources/ontology/DCM"
	systemRestfulInteraction = "http://hl7.org/fhir/restful-interaction"
	systemActReason          = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	systemParticipationType  = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	systemRoleClass          = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
	systemEntityType         = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole         = "http://terminology.hl7.org/CodeSystem/object-role"
	systemSecuritySourceType = "http://terminology.hl7.org/CodeSystem/security-source-type"
	systemNationalRBACRole   = "https://shcr.io/CodeSystem/national-rbac-role"
	systemAuditEventType     = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	systemNetworkAccessPoint = "http://terminology.hl7.org/CodeSystem/network-type"
	// systemAuditSubtype names the events the project defines: queries of
	// the decision API and refused requests.
	systemAuditSubtype = "https://shcr.io/CodeSystem/audit-event-subtype"
)

// The URN prefixes that name, in agent.policy, what decided an access.
const (
	agreementURNPrefix    = "urn:shcr:agreement:"
	accessPolicyURNPrefix = "urn:shcr:access-policy:"
	policyBundleURNPrefix = "urn:shcr:policy-bundle:"
)

// AuditEvent.outcome codes.
const (
	auditOutcomeSuccess        = "0"
	auditOutcomeMinorFailure   = "4"
	auditOutcomeSeriousFailure = "8"
)

var (
	eventPatientRecord    = coding{System: systemDICOM, Code: "110110", Display: "Patient Record"}
	eventSecurityAlert    = coding{System: systemDICOM, Code: "110113", Display: "Security Alert"}
	eventEmergencyStarted = coding{System: systemDICOM, Code: "110127", Display: "Emergency Override Started"}
	eventRestful          = coding{System: systemAuditEventType, Code: "rest", Display: "Restful Operation"}
	subtypeDecisionQuery  = coding{System: systemAuditSubtype, Code: "decision-query", Display: "Decision API query"}
	subtypeRefused        = coding{System: systemAuditSubtype, Code: "refused-request", Display: "Request refused"}
)

// auditClass is what an audit event records.
type auditClass uint8

const (
	// auditDecision is a decision on one resource (BALP PatientRead, or
	// one result of a query).
	auditDecision auditClass = iota
	// auditQuery is a search, search page or history as asked (BALP
	// PatientQuery), written whatever it returns.
	auditQuery
	// auditDecisionQuery is a question to the decision API: a query about
	// a resource, never an access to it.
	auditDecisionQuery
	// auditRefusal is a request refused before any decision on data: no
	// or an invalid token, a malformed or unsupported request, a write.
	auditRefusal
)

// auditEvent is a FHIR R4 AuditEvent in the shape of IHE BALP PatientRead
// and PatientQuery. It names who accessed which patient's record, under
// which agreement and policy, and never holds a token or clinical content.
type auditEvent struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id"`
	Type         coding        `json:"type"`
	Subtype      []coding      `json:"subtype"`
	Action       string        `json:"action"`
	Recorded     string        `json:"recorded"`
	Outcome      string        `json:"outcome"`
	OutcomeDesc  string        `json:"outcomeDesc,omitempty"`
	Agent        []auditAgent  `json:"agent"`
	Source       auditSource   `json:"source"`
	Entity       []auditEntity `json:"entity,omitempty"`
}

type auditAgent struct {
	Type         *codeableConcept  `json:"type,omitempty"`
	Role         []codeableConcept `json:"role,omitempty"`
	Who          reference         `json:"who"`
	Requestor    bool              `json:"requestor"`
	Policy       []string          `json:"policy,omitempty"`
	Network      *auditNetwork     `json:"network,omitempty"`
	PurposeOfUse []codeableConcept `json:"purposeOfUse,omitempty"`
}

// auditNetwork is the address an agent's request came from.
type auditNetwork struct {
	Address string `json:"address"`
	// Type is "2", an IP address.
	Type string `json:"type"`
}

type auditSource struct {
	Site     string    `json:"site"`
	Observer reference `json:"observer"`
	Type     []coding  `json:"type"`
}

type auditEntity struct {
	What reference `json:"what,omitzero"`
	Type coding    `json:"type"`
	Role coding    `json:"role"`
	// Query is the query as asked, base64-encoded (BALP).
	Query  string        `json:"query,omitempty"`
	Detail []auditDetail `json:"detail,omitempty"`
}

type auditDetail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString"`
}

// auditRecord is everything an audit event is made from.
type auditRecord struct {
	// id is the event's id, a random UUID.
	id       string
	caller   identity.Caller
	kind     Kind
	facts    resourceFacts
	verdict  verdict
	region   string
	observer string
	at       time.Time

	// class is what the event records; the zero value is a decision.
	class auditClass
	// query is what was asked, for every class but a decision: a search's
	// parameters as forwarded, a decision request, or a refused request's
	// method and target. It may name patients: the audit trail is where
	// who looked up whom belongs.
	query string
	// status and reason are a refused request's HTTP status and the reason
	// it was given; method is its HTTP method.
	status int
	reason string
	method string
	// network is the client address of a refused request.
	network string
	// anonymous is true for a refusal whose caller is not known.
	anonymous bool
}

// event shapes the record as an AuditEvent. A decision allowed only by
// break-glass is a Security Alert (DICOM 110113) with subtype Emergency
// Override Started (110127); every other decision on a resource is a
// Patient Record event (110110). A query (search, history, decision API)
// and a refusal are Restful Operation events, a refusal for want of a valid
// token a Security Alert. This is the model of an audit event: the gateway
// writes events with auditLines, which tests hold to the JSON of this one.
func (r auditRecord) event() auditEvent {
	e := auditEvent{
		ResourceType: "AuditEvent",
		ID:           r.id,
		Type:         r.eventType(),
		Subtype:      r.subtype(),
		Action:       r.action(),
		Recorded:     r.at.UTC().Format(time.RFC3339Nano),
		Outcome:      r.outcome(),
		OutcomeDesc:  r.outcomeDesc(),
		Agent:        []auditAgent{r.user(), r.organisation()},
		Source: auditSource{
			Site:     r.region,
			Observer: reference{Display: r.observer},
			Type:     []coding{{System: systemSecuritySourceType, Code: "4", Display: "Application Server"}},
		},
		Entity: r.entities(),
	}
	if r.anonymous {
		e.Agent = e.Agent[:1]
	}
	return e
}

// eventType is the event's type.
func (r auditRecord) eventType() coding {
	switch {
	case r.class == auditRefusal && r.status == http.StatusUnauthorized:
		return eventSecurityAlert
	case r.class == auditRefusal || r.class == auditQuery:
		return eventRestful
	case r.verdict.BreakGlass:
		return eventSecurityAlert
	case r.class == auditDecisionQuery:
		return eventRestful
	default:
		return eventPatientRecord
	}
}

// subtype is the event's subtype: the interaction, a decision query or a
// refusal, after Emergency Override Started for a break-glass decision.
func (r auditRecord) subtype() []coding {
	var subtype []coding
	if r.verdict.BreakGlass && (r.class == auditDecision || r.class == auditDecisionQuery) {
		subtype = append(subtype, eventEmergencyStarted)
	}
	switch r.class {
	case auditDecisionQuery:
		return append(subtype, subtypeDecisionQuery)
	case auditRefusal:
		return append(subtype, subtypeRefused)
	default:
		return append(subtype, coding{System: systemRestfulInteraction, Code: r.kind.auditCode()})
	}
}

// action is the event's action: E for queries, R for reads, and for a
// refused request what its method would have done.
func (r auditRecord) action() string {
	switch {
	case r.class == auditRefusal:
		return methodAction(r.method)
	case r.class == auditQuery || r.class == auditDecisionQuery || r.kind.Action() == policy.ActionSearch:
		return "E"
	default:
		return "R"
	}
}

// methodAction is the AuditEvent action an HTTP method asks for.
func methodAction(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return "R"
	case http.MethodPost:
		return "C"
	case http.MethodPut, http.MethodPatch:
		return "U"
	case http.MethodDelete:
		return "D"
	default:
		return "E"
	}
}

// outcomeDesc is why a decision went as it did, or why a request was
// refused.
func (r auditRecord) outcomeDesc() string {
	switch r.class {
	case auditQuery:
		return ""
	case auditRefusal:
		return "HTTP " + strconv.Itoa(r.status) + ": " + r.reason
	default:
		return strings.Join(r.verdict.Reasons(), "; ")
	}
}

func (r auditRecord) outcome() string {
	switch {
	case r.class == auditQuery:
		return auditOutcomeSuccess
	case r.class == auditRefusal && r.status >= 500:
		return auditOutcomeSeriousFailure
	case r.class == auditRefusal:
		return auditOutcomeMinorFailure
	case r.verdict.Allow:
		return auditOutcomeSuccess
	case r.verdict.unavailable:
		return auditOutcomeSeriousFailure
	default:
		return auditOutcomeMinorFailure
	}
}

// user is the requesting member of staff, with the policies that decided.
func (r auditRecord) user() auditAgent {
	var network *auditNetwork
	if r.network != "" {
		network = &auditNetwork{Address: r.network, Type: "2"}
	}
	if r.anonymous {
		return auditAgent{
			Type:      &codeableConcept{Coding: []coding{{System: systemParticipationType, Code: "IRCP", Display: "information recipient"}}},
			Who:       reference{Display: anonymousCaller},
			Requestor: true,
			Network:   network,
		}
	}
	purpose := codeableConcept{Text: r.caller.BreakGlassReason}
	if r.caller.PurposeOfUse != "" {
		purpose.Coding = []coding{{System: systemActReason, Code: r.caller.PurposeOfUse}}
	}
	agent := auditAgent{
		Type:      &codeableConcept{Coding: []coding{{System: systemParticipationType, Code: "IRCP", Display: "information recipient"}}},
		Who:       reference{Identifier: &identifier{System: r.caller.Issuer, Value: r.caller.Subject}},
		Requestor: true,
		Policy:    r.policies(),
		Network:   network,
	}
	if r.caller.Role != "" {
		agent.Role = []codeableConcept{{Coding: []coding{{System: systemNationalRBACRole, Code: r.caller.Role}}}}
	}
	if len(purpose.Coding) > 0 || purpose.Text != "" {
		agent.PurposeOfUse = []codeableConcept{purpose}
	}
	return agent
}

// organisation is the organisation the member of staff acts for.
func (r auditRecord) organisation() auditAgent {
	return auditAgent{
		Type: &codeableConcept{Coding: []coding{{System: systemRoleClass, Code: "PROV", Display: "healthcare provider"}}},
		Who:  reference{Identifier: &identifier{System: SystemODS, Value: r.caller.Organisation}},
	}
}

// policies are the agreement version and access policy that allowed the
// access, and the bundle revision that decided.
func (r auditRecord) policies() []string {
	var uris []string
	if r.verdict.Agreement != "" {
		uris = append(uris, agreementURNPrefix+r.verdict.Agreement+":"+strconv.FormatInt(int64(r.verdict.AgreementVersion), 10))
	}
	if r.verdict.Policy != "" {
		uris = append(uris, accessPolicyURNPrefix+r.verdict.Policy)
	}
	if r.verdict.revision != "" {
		uris = append(uris, policyBundleURNPrefix+r.verdict.revision)
	}
	return uris
}

// anonymousCaller names the caller of a request without a valid token.
const anonymousCaller = "unauthenticated caller"

// entities are the patients and the resource accessed, or the query asked.
func (r auditRecord) entities() []auditEntity {
	if r.class != auditDecision {
		return r.queryEntities()
	}
	var entities []auditEntity
	for _, nhs := range r.facts.Patients {
		entities = append(entities, auditEntity{
			What: reference{Identifier: &identifier{System: SystemNHSNumber, Value: nhs}},
			Type: coding{System: systemEntityType, Code: "1", Display: "Person"},
			Role: coding{System: systemObjectRole, Code: "1", Display: "Patient"},
		})
	}
	what := reference{Type: r.facts.ResourceType}
	if r.facts.ID != "" {
		what.Reference = r.facts.ResourceType + "/" + r.facts.ID
	}
	resource := auditEntity{
		What: what,
		Type: coding{System: systemEntityType, Code: "2", Display: "System Object"},
		Role: coding{System: systemObjectRole, Code: "4", Display: "Domain Resource"},
	}
	resource.Detail = r.facts.details()
	return append(entities, resource)
}

// queryEntities are the patients a query names and the query itself
// (BALP: a System Object in the Query role, the query base64-encoded). A
// refusal names no patient; a decision query adds the resource's category
// and source.
func (r auditRecord) queryEntities() []auditEntity {
	var entities []auditEntity
	if r.class != auditRefusal {
		for _, nhs := range r.facts.Patients {
			entities = append(entities, auditEntity{
				What: reference{Identifier: &identifier{System: SystemNHSNumber, Value: nhs}},
				Type: coding{System: systemEntityType, Code: "1", Display: "Person"},
				Role: coding{System: systemObjectRole, Code: "1", Display: "Patient"},
			})
		}
	}
	query := auditEntity{
		Type:  coding{System: systemEntityType, Code: "2", Display: "System Object"},
		Role:  coding{System: systemObjectRole, Code: "24", Display: "Query"},
		Query: base64.StdEncoding.EncodeToString([]byte(r.query)),
	}
	if r.class != auditRefusal {
		query.What = reference{Type: r.facts.ResourceType}
	}
	if r.class == auditDecisionQuery {
		query.Detail = r.facts.details()
	}
	return append(entities, query)
}

// details are a resource's category and source organisation, where known.
func (f resourceFacts) details() []auditDetail {
	var details []auditDetail
	for _, d := range []auditDetail{
		{Type: "category", ValueString: f.Category},
		{Type: "sourceOrganisation", ValueString: f.Source},
	} {
		if d.ValueString != "" {
			details = append(details, d)
		}
	}
	return details
}

// auditEventBytes is a little more than the size of one encoded audit event
// (about 2.2 kB), to size the buffer a response's events are encoded into.
const auditEventBytes = 2560

// auditor writes audit events as JSON lines. The events of one response
// go in one Write: fewer system calls, and no other response's events
// between them.
type auditor struct {
	mu sync.Mutex
	w  io.Writer
	// took observes how long each write waited and took, when set.
	took prometheus.Observer
}

// write writes the events of one response.
func (a *auditor) write(events *auditLines) error {
	if len(events.out) == 0 {
		return nil
	}
	start := time.Now()
	err := a.writeLocked(events.out)
	if a.took != nil {
		a.took.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		return fmt.Errorf("writing audit events: %w", err)
	}
	return nil
}

// writeLocked writes p while holding the lock.
func (a *auditor) writeLocked(p []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err := a.w.Write(p)
	return err
}
