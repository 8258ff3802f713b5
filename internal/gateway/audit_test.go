/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/shcr-io/shcr-operator/internal/gateway/identity"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// TestAuditLinesEncodeEvents holds the hand-written audit encoder to the
// AuditEvent model: each line it writes is the JSON of auditRecord.event,
// for records that differ in every element the event is made from, one
// after the other in one response (so that the parts it encodes once are
// encoded again when they change, and more of them than it keeps),
// including text that JSON must escape, and for every class of event:
// decisions, queries, decision queries and refusals, with or without a
// known caller and a client address.
func TestAuditLinesEncodeEvents(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		records := make([]auditRecord, 1+rng.IntN(2*maxEncodedAgents))
		for i := range records {
			records[i] = randomRecord(rng)
		}
		lines := newAuditLines(len(records))
		for _, r := range records {
			lines.add(r)
		}
		if !bytes.HasSuffix(lines.out, []byte("\n")) {
			t.Fatalf("round %d: the lines do not end with a newline", round)
		}
		got := bytes.Split(bytes.TrimSuffix(lines.out, []byte("\n")), []byte("\n"))
		if len(got) != len(records) {
			t.Fatalf("round %d: %d lines for %d events", round, len(got), len(records))
		}
		for i, r := range records {
			want, err := json.Marshal(r.event())
			must(t, err)
			if !sameJSON(t, got[i], want) {
				t.Fatalf("round %d, event %d:\n got %s\nwant %s", round, i, got[i], want)
			}
		}
	}
}

// sameJSON reports whether two JSON texts hold the same value; a text that
// is not valid JSON, or that names a member twice, fails the test.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	if !jsontext.Value(a).IsValid() {
		t.Fatalf("not valid JSON, or a member named twice: %s", a)
	}
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("not valid JSON: %v: %s", err, a)
	}
	must(t, json.Unmarshal(b, &vb))
	return reflect.DeepEqual(va, vb)
}

// randomRecord draws each element of an audit record from values that
// include the empty string and text JSON must escape.
func randomRecord(rng *rand.Rand) auditRecord {
	pick := func(values ...string) string { return values[rng.IntN(len(values))] }
	text := func() string {
		return pick("", "RR8", `quote " and \ backslash`, "<script>&amp;</script>", "line\nbreak\ttab", "ünïcødé ✓", "\u2028\u2029", "control \x01", "invalid \xff UTF-8")
	}
	patients := []string{"4010232137", "9434765919", text()}[:rng.IntN(4)]
	return auditRecord{
		id: pick("3f2c5c55-7d0e-4b0e-9d43-0e6f1b7a9c10", "", text()),
		caller: identity.Caller{
			Issuer:                 pick("https://am.nhsidentity.spineservices.nhs.uk", ""),
			Subject:                text(),
			Organisation:           pick("RR8", "B86001", ""),
			Role:                   pick("R8000", "", text()),
			PurposeOfUse:           pick("TREAT", "ETREAT", ""),
			LegitimateRelationship: rng.IntN(2) == 0,
			BreakGlassReason:       pick("", "patient unconscious in A&E", text()),
		},
		kind: []Kind{KindRead, KindVRead, KindHistory, KindSearch, KindSearchPage}[rng.IntN(5)],
		facts: resourceFacts{
			ResourceType: pick("MedicationRequest", "Observation", ""),
			ID:           pick("med-1", "", text()),
			Category:     pick(policy.CategoryMedications, ""),
			Source:       pick("B86001", "", text()),
			Patients:     patients,
		},
		verdict: verdict{
			Decision: policy.Decision{
				Allow:            rng.IntN(2) == 0,
				Agreement:        pick("", "tvs/dsa-1", text()),
				AgreementVersion: rng.Int32N(3),
				Policy:           pick("", "tvs/clinical"),
				BreakGlass:       rng.IntN(3) == 0,
			},
			denial:          pick("", "", "the resource cannot be decided on", text()),
			deniedContained: pick("", "", policy.CategoryMedications),
			unavailable:     rng.IntN(4) == 0,
			revision:        pick("", "47a3c793"),
		},
		region:    pick("tvs", "", text()),
		observer:  pick("record-gateway pod-1", "", text()),
		at:        time.Date(2026, 11, 26, 1, 2, 3, rng.IntN(3)*1_000_000, time.UTC),
		class:     []auditClass{auditDecision, auditQuery, auditDecisionQuery, auditRefusal}[rng.IntN(4)],
		query:     pick("", "patient.identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919&_count=50", text()),
		status:    []int{400, 401, 403, 404, 405, 413, 502}[rng.IntN(7)],
		reason:    pick("", "no bearer token", text()),
		method:    pick("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "", text()),
		network:   pick("", "", "192.0.2.7", "2001:db8::1", text()),
		anonymous: rng.IntN(3) == 0,
	}
}
