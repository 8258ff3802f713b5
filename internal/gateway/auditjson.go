/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"encoding/base64"
	"slices"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
)

// auditLines encodes the audit events of one response as JSON lines, each
// the same JSON value as auditRecord.event encoded by encoding/json
// (audit_test.go holds them to that; only the escaping differs: <, >, & and
// U+2028/U+2029 are written as they are). It is
// written by hand for speed: a search answered with 20 records makes 20
// events of about 2 kB, and encoding them through reflection cost the
// gateway more than anything else it does for a search. Most of an event
// is constant text; what the events of one response share (when they were
// recorded, the agents while the policies that decided stay the same, the
// source) is encoded once.
type auditLines struct {
	out []byte

	recordedAt time.Time
	recorded   []byte

	// agents are the encoded agents of the last few different deciding
	// policies, the most recent last.
	agents []encodedAgents

	sourceFor [2]string
	source    []byte
}

// encodedAgents are the agents made from a key.
type encodedAgents struct {
	key  agentsKey
	json []byte
}

// maxEncodedAgents bounds auditLines.agents: a response is decided by a
// few grants, and denials have agents of their own.
const maxEncodedAgents = 8

// agentsKey is what an event's agents are made from.
type agentsKey struct {
	caller    identity.Caller
	agreement string
	version   int32
	policy    string
	revision  string
	network   string
}

// auditLinesPool keeps the buffers of written audit lines for the next
// response: a search of 20 entries fills about 45 kB.
var auditLinesPool = sync.Pool{New: func() any { return new(auditLines) }}

// newAuditLines starts the lines of n events. Once written, they go back
// with release.
func newAuditLines(n int) *auditLines {
	l := auditLinesPool.Get().(*auditLines)
	l.out = slices.Grow(l.out[:0], n*auditEventBytes)
	l.agents = l.agents[:0]
	return l
}

// release gives the buffers back for another response's events; l is not
// used again. Buffers grown by a very large response are let go.
func (l *auditLines) release() {
	if cap(l.out) > maxPooledAuditBytes {
		return
	}
	auditLinesPool.Put(l)
}

// maxPooledAuditBytes bounds the buffer kept for reuse: the events of a
// page of 100 entries.
const maxPooledAuditBytes = 100 * auditEventBytes

// The constant parts of audit events, encoded once.
var (
	jsonPatientRecordType = appendCoding(nil, eventPatientRecord)
	jsonSecurityAlertType = appendCoding(nil, eventSecurityAlert)
	jsonEmergencyStarted  = appendCoding(nil, eventEmergencyStarted)
	// jsonPatientEntityTail follows the what of a patient's entity.
	jsonPatientEntityTail = slices.Concat([]byte(`,"type":`),
		appendCoding(nil, coding{System: systemEntityType, Code: "1", Display: "Person"}),
		[]byte(`,"role":`),
		appendCoding(nil, coding{System: systemObjectRole, Code: "1", Display: "Patient"}),
		[]byte(`},`))
	// jsonResourceEntityTypeRole follows the what of the resource's entity.
	jsonResourceEntityTypeRole = slices.Concat([]byte(`"type":`),
		appendCoding(nil, coding{System: systemEntityType, Code: "2", Display: "System Object"}),
		[]byte(`,"role":`),
		appendCoding(nil, coding{System: systemObjectRole, Code: "4", Display: "Domain Resource"}))
	// jsonQueryEntityTypeRole follows the what of a query's entity.
	jsonQueryEntityTypeRole = slices.Concat([]byte(`"type":`),
		appendCoding(nil, coding{System: systemEntityType, Code: "2", Display: "System Object"}),
		[]byte(`,"role":`),
		appendCoding(nil, coding{System: systemObjectRole, Code: "24", Display: "Query"}))
	jsonNHSNumberSystem      = appendString(nil, SystemNHSNumber)
	jsonRestfulType          = appendCoding(nil, eventRestful)
	jsonDecisionQuerySubtype = appendCoding(nil, subtypeDecisionQuery)
	jsonRefusedSubtype       = appendCoding(nil, subtypeRefused)
)

// add appends the event of r and a newline.
func (l *auditLines) add(r auditRecord) {
	b := append(l.out, `{"resourceType":"AuditEvent","id":`...)
	b = appendString(b, r.id)
	b = appendTypeAndSubtype(b, r)
	b = append(b, `],"action":"`...)
	b = append(b, r.action()...)
	b = append(b, `",`...)
	b = append(b, l.recordedJSON(r.at)...)
	b = append(b, `,"outcome":`...)
	b = appendString(b, r.outcome())
	if desc := r.outcomeDesc(); desc != "" {
		b = append(b, `,"outcomeDesc":`...)
		b = appendString(b, desc)
	}
	b = append(b, ',')
	if r.anonymous {
		b = appendAnonymousAgent(b, r.network)
	} else {
		b = append(b, l.agentsJSON(r)...)
	}
	b = append(b, ',')
	b = append(b, l.sourceJSON(r.region, r.observer)...)
	if r.class == auditDecision {
		b = appendEntities(b, r.facts)
	} else {
		b = appendQueryEntities(b, r)
	}
	l.out = append(b, "}\n"...)
}

// appendTypeAndSubtype appends the "type" member and opens "subtype" with
// its codings; the caller closes the array.
func appendTypeAndSubtype(b []byte, r auditRecord) []byte {
	b = append(b, `,"type":`...)
	switch r.eventType() {
	case eventSecurityAlert:
		b = append(b, jsonSecurityAlertType...)
	case eventRestful:
		b = append(b, jsonRestfulType...)
	default:
		b = append(b, jsonPatientRecordType...)
	}
	b = append(b, `,"subtype":[`...)
	if r.verdict.BreakGlass && (r.class == auditDecision || r.class == auditDecisionQuery) {
		b = append(b, jsonEmergencyStarted...)
		b = append(b, ',')
	}
	switch r.class {
	case auditDecisionQuery:
		return append(b, jsonDecisionQuerySubtype...)
	case auditRefusal:
		return append(b, jsonRefusedSubtype...)
	default:
		return appendCoding(b, coding{System: systemRestfulInteraction, Code: r.kind.auditCode()})
	}
}

// appendAnonymousAgent appends the "agent" member of a refusal whose
// caller is not known: only where the request came from.
func appendAnonymousAgent(b []byte, network string) []byte {
	b = append(b, `"agent":[{"type":{"coding":[`...)
	b = appendCoding(b, coding{System: systemParticipationType, Code: "IRCP", Display: "information recipient"})
	b = append(b, `]},"who":{"display":`...)
	b = appendString(b, anonymousCaller)
	b = append(b, `},"requestor":true`...)
	b = appendNetwork(b, network)
	return append(b, "}]"...)
}

// appendNetwork appends an agent's "network" member, when there is one.
func appendNetwork(b []byte, network string) []byte {
	if network == "" {
		return b
	}
	b = append(b, `,"network":{"address":`...)
	b = appendString(b, network)
	return append(b, `,"type":"2"}`...)
}

// appendQueryEntities appends the "entity" member of a query or refusal:
// the patients the query names and the query.
func appendQueryEntities(b []byte, r auditRecord) []byte {
	b = append(b, `,"entity":[`...)
	if r.class != auditRefusal {
		for _, nhs := range r.facts.Patients {
			b = appendPatientEntity(b, nhs)
		}
	}
	b = append(b, '{')
	if r.class != auditRefusal && r.facts.ResourceType != "" {
		b = append(b, `"what":{"type":`...)
		b = appendString(b, r.facts.ResourceType)
		b = append(b, "},"...)
	}
	b = append(b, jsonQueryEntityTypeRole...)
	if r.query != "" {
		b = append(b, `,"query":"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(r.query))
		b = append(b, '"')
	}
	if r.class == auditDecisionQuery {
		b = appendDetails(b, r.facts)
	}
	return append(b, "}]"...)
}

// recordedJSON is the "recorded" member for a time.
func (l *auditLines) recordedJSON(at time.Time) []byte {
	if l.recorded == nil || !at.Equal(l.recordedAt) {
		l.recordedAt = at
		l.recorded = appendString(append(l.recorded[:0], `"recorded":`...), at.UTC().Format(time.RFC3339Nano))
	}
	return l.recorded
}

// agentsJSON is the "agent" member: the user, with the policies that
// decided, and the organisation the user acts for.
func (l *auditLines) agentsJSON(r auditRecord) []byte {
	key := agentsKey{
		caller:    r.caller,
		agreement: r.verdict.Agreement,
		version:   r.verdict.AgreementVersion,
		policy:    r.verdict.Policy,
		revision:  r.verdict.revision,
		network:   r.network,
	}
	for _, a := range slices.Backward(l.agents) {
		if a.key == key {
			return a.json
		}
	}
	c := r.caller
	b := []byte(`"agent":[{"type":{"coding":[`)
	b = appendCoding(b, coding{System: systemParticipationType, Code: "IRCP", Display: "information recipient"})
	b = append(b, "]}"...)
	if c.Role != "" {
		b = append(b, `,"role":[{"coding":[`...)
		b = appendCoding(b, coding{System: systemNationalRBACRole, Code: c.Role})
		b = append(b, "]}]"...)
	}
	b = append(b, `,"who":`...)
	b = appendIdentifierReference(b, identifier{System: c.Issuer, Value: c.Subject})
	b = append(b, `,"requestor":true`...)
	if policies := r.policies(); len(policies) > 0 {
		b = append(b, `,"policy":[`...)
		for i, uri := range policies {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, uri)
		}
		b = append(b, ']')
	}
	b = appendNetwork(b, r.network)
	if c.PurposeOfUse != "" || c.BreakGlassReason != "" {
		b = append(b, `,"purposeOfUse":[{`...)
		if c.PurposeOfUse != "" {
			b = append(b, `"coding":[`...)
			b = appendCoding(b, coding{System: systemActReason, Code: c.PurposeOfUse})
			b = append(b, ']')
			if c.BreakGlassReason != "" {
				b = append(b, ',')
			}
		}
		if c.BreakGlassReason != "" {
			b = append(b, `"text":`...)
			b = appendString(b, c.BreakGlassReason)
		}
		b = append(b, "}]"...)
	}
	b = append(b, `},{"type":{"coding":[`...)
	b = appendCoding(b, coding{System: systemRoleClass, Code: "PROV", Display: "healthcare provider"})
	b = append(b, `]},"who":`...)
	b = appendIdentifierReference(b, identifier{System: SystemODS, Value: c.Organisation})
	b = append(b, `,"requestor":false}]`...)
	if len(l.agents) == maxEncodedAgents {
		l.agents = slices.Delete(l.agents, 0, 1)
	}
	l.agents = append(l.agents, encodedAgents{key: key, json: b})
	return b
}

// sourceJSON is the "source" member: this gateway in its region.
func (l *auditLines) sourceJSON(site, observer string) []byte {
	if l.source != nil && l.sourceFor == [2]string{site, observer} {
		return l.source
	}
	l.sourceFor = [2]string{site, observer}
	b := append(l.source[:0], `"source":{"site":`...)
	b = appendString(b, site)
	b = append(b, `,"observer":{`...)
	if observer != "" {
		b = append(b, `"display":`...)
		b = appendString(b, observer)
	}
	b = append(b, `},"type":[`...)
	b = appendCoding(b, coding{System: systemSecuritySourceType, Code: "4", Display: "Application Server"})
	l.source = append(b, "]}"...)
	return l.source
}

// appendEntities appends the "entity" member: the patients and the
// resource accessed.
func appendEntities(b []byte, f resourceFacts) []byte {
	b = append(b, `,"entity":[`...)
	for _, nhs := range f.Patients {
		b = appendPatientEntity(b, nhs)
	}
	b = append(b, '{')
	if f.ID != "" || f.ResourceType != "" {
		b = append(b, `"what":{`...)
		if f.ID != "" {
			b = append(b, `"reference":`...)
			b = appendString(b, f.ResourceType+"/"+f.ID)
			if f.ResourceType != "" {
				b = append(b, ',')
			}
		}
		if f.ResourceType != "" {
			b = append(b, `"type":`...)
			b = appendString(b, f.ResourceType)
		}
		b = append(b, "},"...)
	}
	b = append(b, jsonResourceEntityTypeRole...)
	b = appendDetails(b, f)
	return append(b, "}]"...)
}

// appendPatientEntity appends a patient's entity and a comma.
func appendPatientEntity(b []byte, nhs string) []byte {
	b = append(b, `{"what":{"identifier":{"system":`...)
	b = append(b, jsonNHSNumberSystem...)
	if nhs != "" {
		b = append(b, `,"value":`...)
		b = appendString(b, nhs)
	}
	b = append(b, "}}"...)
	return append(b, jsonPatientEntityTail...)
}

// appendDetails appends the "detail" member of a resource's entity, when
// its category or source is known.
func appendDetails(b []byte, f resourceFacts) []byte {
	first := true
	for _, d := range [...]auditDetail{
		{Type: "category", ValueString: f.Category},
		{Type: "sourceOrganisation", ValueString: f.Source},
	} {
		if d.ValueString == "" {
			continue
		}
		if first {
			b = append(b, `,"detail":[`...)
			first = false
		} else {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b = appendString(b, d.Type)
		b = append(b, `,"valueString":`...)
		b = appendString(b, d.ValueString)
		b = append(b, '}')
	}
	if !first {
		b = append(b, ']')
	}
	return b
}

// appendIdentifierReference appends a Reference by identifier.
func appendIdentifierReference(b []byte, id identifier) []byte {
	b = append(b, `{"identifier":{`...)
	if id.System != "" {
		b = append(b, `"system":`...)
		b = appendString(b, id.System)
		if id.Value != "" {
			b = append(b, ',')
		}
	}
	if id.Value != "" {
		b = append(b, `"value":`...)
		b = appendString(b, id.Value)
	}
	return append(b, "}}"...)
}

// appendCoding appends a Coding, leaving out empty elements.
func appendCoding(b []byte, c coding) []byte {
	b = append(b, '{')
	first := true
	for _, m := range [...]struct{ name, value string }{{`"system":`, c.System}, {`"code":`, c.Code}, {`"display":`, c.Display}} {
		if m.value == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, m.name...)
		b = appendString(b, m.value)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string. Invalid UTF-8 is written as
// U+FFFD, as encoding/json does; an audit event is never refused for it.
func appendString(b []byte, s string) []byte {
	b, _ = jsontext.AppendQuote(b, s)
	return b
}
