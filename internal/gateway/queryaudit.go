/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
)

// queryRecord is the BALP PatientQuery event of a search, search page or
// history: who asked, the parameters as forwarded and the patients they
// name. It is written once the record service has answered, in the same
// write as the decisions on the entries and before them (filterBundle),
// or alone when the answer cannot be used, so that a query is audited
// whatever it returns, nothing included. When it cannot be written, the
// query must not be answered.
func (g *Gateway) queryRecord(c identity.Caller, in Interaction, p *loadedPolicy, now time.Time) auditRecord {
	record := auditRecord{
		id:       uuid.NewString(),
		class:    auditQuery,
		caller:   c,
		kind:     in.Kind,
		facts:    resourceFacts{ResourceType: in.Type, Patients: queryPatients(in.LinkQuery())},
		query:    in.Path(),
		region:   g.cfg.Region,
		observer: g.observer,
		at:       now,
	}
	// A search page's patient scope is recorded as the caller gave it.
	if params := in.LinkQuery().Encode(); params != "" {
		record.query += "?" + params
	}
	if p != nil {
		record.verdict.revision = p.revision
	}
	return record
}

// auditQuery writes the query's event alone: for an answer that cannot be
// used, whose entries are never decided on.
func (g *Gateway) auditQuery(c identity.Caller, in Interaction) error {
	return g.writeQuery(g.queryRecord(c, in, g.policy.Load(), time.Now()))
}

// writeQuery writes a query's event alone.
func (g *Gateway) writeQuery(record auditRecord) error {
	events := newAuditLines(1)
	defer events.release()
	events.add(record)
	if err := g.audit.write(events); err != nil {
		g.metrics.auditWriteErrors.Inc()
		g.log.Error("Audit event of a query not written; query refused", "error", err)
		return errors.Join(errAudit, err)
	}
	return nil
}

// queryPatients are the valid NHS numbers a query's parameters name, each
// once and in order: a value, or a part of it between "|" or ",", that is
// an NHS number.
func queryPatients(query url.Values) []string {
	var patients []string
	for _, values := range query {
		for _, value := range values {
			for part := range strings.FieldsFuncSeq(value, func(r rune) bool { return r == '|' || r == ',' }) {
				if ValidNHSNumber(part) && !slices.Contains(patients, part) {
					patients = append(patients, part)
				}
			}
		}
	}
	slices.Sort(patients)
	return patients
}
