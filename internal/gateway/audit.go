/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

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
	PurposeOfUse []codeableConcept `json:"purposeOfUse,omitempty"`
}

type auditSource struct {
	Site     string    `json:"site"`
	Observer reference `json:"observer"`
	Type     []coding  `json:"type"`
}

type auditEntity struct {
	What   reference     `json:"what"`
	Type   coding        `json:"type"`
	Role   coding        `json:"role"`
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
	caller   Caller
	kind     Kind
	facts    resourceFacts
	verdict  verdict
	region   string
	observer string
	at       time.Time
}

// event shapes the record as an AuditEvent. An access allowed only by
// break-glass is a Security Alert (DICOM 110113) with subtype Emergency
// Override Started (110127); every other decision is a Patient Record
// event (110110). This is the model of an audit event: the gateway writes
// events with auditLines, which tests hold to the JSON of this one.
func (r auditRecord) event() auditEvent {
	e := auditEvent{
		ResourceType: "AuditEvent",
		ID:           r.id,
		Type:         eventPatientRecord,
		Subtype:      []coding{{System: systemRestfulInteraction, Code: r.kind.auditCode()}},
		Action:       "R",
		Recorded:     r.at.UTC().Format(time.RFC3339Nano),
		Outcome:      r.outcome(),
		OutcomeDesc:  strings.Join(r.verdict.Reasons(), "; "),
		Agent:        []auditAgent{r.user(), r.organisation()},
		Source: auditSource{
			Site:     r.region,
			Observer: reference{Display: r.observer},
			Type:     []coding{{System: systemSecuritySourceType, Code: "4", Display: "Application Server"}},
		},
		Entity: r.entities(),
	}
	if r.kind.Action() == policy.ActionSearch {
		e.Action = "E"
	}
	if r.verdict.BreakGlass {
		e.Type = eventSecurityAlert
		e.Subtype = append([]coding{eventEmergencyStarted}, e.Subtype...)
	}
	return e
}

func (r auditRecord) outcome() string {
	switch {
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
	purpose := codeableConcept{Text: r.caller.BreakGlassReason}
	if r.caller.PurposeOfUse != "" {
		purpose.Coding = []coding{{System: systemActReason, Code: r.caller.PurposeOfUse}}
	}
	agent := auditAgent{
		Type:      &codeableConcept{Coding: []coding{{System: systemParticipationType, Code: "IRCP", Display: "information recipient"}}},
		Who:       reference{Identifier: &identifier{System: r.caller.Issuer, Value: r.caller.Subject}},
		Requestor: true,
		Policy:    r.policies(),
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

// entities are the patients and the resource accessed.
func (r auditRecord) entities() []auditEntity {
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
	for _, d := range []auditDetail{
		{Type: "category", ValueString: r.facts.Category},
		{Type: "sourceOrganisation", ValueString: r.facts.Source},
	} {
		if d.ValueString != "" {
			resource.Detail = append(resource.Detail, d)
		}
	}
	return append(entities, resource)
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
}

// write writes the events of one response.
func (a *auditor) write(events *auditLines) error {
	if len(events.out) == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.w.Write(events.out); err != nil {
		return fmt.Errorf("writing audit events: %w", err)
	}
	return nil
}
