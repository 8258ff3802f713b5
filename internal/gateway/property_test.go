/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package gateway

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// TestGatewayAgreesWithDecide sends random requests for random records and
// checks every answer against an oracle built from policy.Decide and the
// fixture's own description of each record, not from the gateway's reading
// of it: the gateway never returns a record Decide denies or an objecting
// patient's record, and returns every record they allow.
func TestGatewayAgreesWithDecide(t *testing.T) {
	const seed, iterations = 20261125, 300
	rng := rand.New(rand.NewPCG(seed, seed))
	records := randomRecords(rng, 150)
	h := newHarness(t, func(s *setup) { s.records = records; s.audit = discard{} })
	bundle := policy.Compile(testInput())
	types := []string{}
	for _, r := range records {
		if !slices.Contains(types, r.Type) {
			types = append(types, r.Type)
		}
	}

	returned := 0
	for i := range iterations {
		c := randomCaller(rng)
		token := c.claims().sign(t)
		if rng.IntN(2) == 0 {
			r := records[rng.IntN(len(records))]
			resp := h.get(t, "/"+r.key(), token)
			want := oracleAllows(bundle, c, policy.ActionRead, r)
			if got := resp.status == http.StatusOK; got != want || (resp.status != http.StatusOK && resp.status != http.StatusForbidden) {
				t.Errorf("iteration %d: %+v read %+v: status %d, Decide allows: %v", i, c, r, resp.status, want)
			}
			if want {
				returned++
			}
			continue
		}
		// A search names one patient; the record service of the fixture
		// ignores it, so the gateway must withhold everyone else's records.
		resourceType := types[rng.IntN(len(types))]
		patient := pick(rng, alice, alice, alice, bob, carol)
		query := ""
		if holdsPatientData(resourceType) {
			query = "?" + patientQuery(resourceType, patient)
		}
		var want []string
		for _, r := range records {
			if r.Type == resourceType && (!holdsPatientData(r.Type) || r.Patient == patient) && oracleAllows(bundle, c, policy.ActionSearch, r) {
				want = append(want, r.key())
			}
		}
		_, got := h.get(t, "/"+resourceType+query, token).bundle(t)
		if !slices.Equal(got, want) {
			t.Errorf("iteration %d: %+v searched %s of %s: got %v, Decide allows %v", i, c, resourceType, patient, got, want)
		}
		returned += len(got)
	}
	// Searches are of one patient each, so they return few records.
	if returned < iterations/8 {
		t.Errorf("only %d records returned in %d requests; the random data hardly tests allowing", returned, iterations)
	}
}

// randomCaller is a caller whose claims the oracle knows exactly.
type randomCallerSpec struct {
	Org, Role, Purpose string
	Relationship       bool
	BreakGlassReason   string
	IssuedAt           time.Time
}

func randomCaller(rng *rand.Rand) randomCallerSpec {
	c := randomCallerSpec{
		Org:          pick(rng, "RR8", "RR8", "B86001", "RTH", "RX1", "K84001"),
		Role:         pick(rng, "R8000", "R8000", "R8000", "R8001", "R8003", "R8008"),
		Purpose:      pick(rng, "TREAT", "TREAT", "TREAT", "TREAT", "ETREAT", "", "HRESCH"),
		Relationship: rng.IntN(4) > 0,
		IssuedAt:     time.Unix(time.Now().Add(-time.Minute).Unix(), 0),
	}
	switch rng.IntN(4) {
	case 0:
		c.BreakGlassReason = "patient deteriorating"
	case 1:
		c.BreakGlassReason = "patient deteriorating"
		c.IssuedAt = c.IssuedAt.Add(-2 * time.Hour)
	}
	return c
}

func (c randomCallerSpec) claims() claims {
	changes := claims{"iat": c.IssuedAt.Unix(), "purpose_of_use": c.Purpose, "legitimate_relationship": c.Relationship}
	if c.BreakGlassReason != "" {
		changes["break_glass_reason"] = c.BreakGlassReason
	}
	return clinician().actingAs(c.Org, c.Role).with(changes)
}

func randomRecords(rng *rand.Rand, n int) []record {
	records := make([]record, n)
	for i := range records {
		r := record{
			Type:    pick(rng, "Patient", "MedicationRequest", "Observation", "Encounter", "Consent", "Practitioner", "AllergyIntolerance", "Appointment", "DocumentReference", "DiagnosticReport"),
			ID:      fmt.Sprintf("r-%d", i),
			Sources: [][]string{nil, {"B86001"}, {"B86001"}, {"RTH"}, {"RTH"}, {"RR8"}, {"K84001"}, {"RX1"}, {"B86001", "RTH"}}[rng.IntN(9)],
			Patient: pick(rng, alice, alice, alice, bob, carol, "", "1234567890"),
			RefOnly: rng.IntN(8) == 0,
			Labels:  randomLabels(rng),
			Class:   pick(rng, "AMB", "IMP", "EMER", ""),
			Scope:   pick(rng, "adr", "treatment", "patient-privacy", "research"),
		}
		if r.Type == "Practitioner" {
			r.Patient = ""
		}
		if r.Type == "DiagnosticReport" && rng.IntN(2) == 0 {
			r.Contained = []record{{Type: pick(rng, "Observation", "Specimen", "Provenance"), Labels: randomLabels(rng)}}
		}
		records[i] = r
	}
	return records
}

func randomLabels(rng *rand.Rand) []string {
	var labels []string
	for _, l := range []string{"N", "HIV", "R", "PSY", "V"} {
		if rng.IntN(10) == 0 {
			labels = append(labels, l)
		}
	}
	return labels
}

func pick(rng *rand.Rand, values ...string) string { return values[rng.IntN(len(values))] }

// oracleAllows is what the gateway must decide about a record, worked out
// from the record's description: a category, exactly one source, a known
// patient unless it is a clinical contact, no objection, and Decide's allow
// for every category involved.
func oracleAllows(b policy.Bundle, c randomCallerSpec, action string, r record) bool {
	categories, ok := oracleCategories(r)
	if !ok || len(r.Sources) != 1 {
		return false
	}
	// A Patient carries its own identifier; other records name their
	// patient by reference, which RefOnly leaves without the identifier.
	knownPatient := ValidNHSNumber(r.Patient) && (r.Type == "Patient" || !r.RefOnly)
	if !knownPatient && categories[0] != policy.CategoryClinicalContacts {
		return false
	}
	if knownPatient && oracleObjects(r.Patient, r.Sources[0]) {
		return false
	}
	labels := slices.Clone(r.Labels)
	for _, contained := range r.Contained {
		labels = append(labels, contained.Labels...)
	}
	now := time.Now()
	for _, category := range categories {
		req := policy.Request{
			CallerODS: c.Org, Role: c.Role, PurposeOfUse: c.Purpose, LegitimateRelationship: c.Relationship,
			BreakGlassReason: c.BreakGlassReason, BreakGlassStarted: c.IssuedAt,
			Action: action, Category: category, SourceODS: r.Sources[0], SecurityLabels: labels,
		}
		if !policy.Decide(b, req, now).Allow {
			return false
		}
	}
	return true
}

func oracleCategories(r record) ([]string, bool) {
	var categories []string
	for _, rec := range append([]record{r}, r.Contained...) {
		var category string
		var ok bool
		switch rec.Type {
		case "Consent":
			category, ok = policy.CategoryPreferences, rec.Scope == "adr" || rec.Scope == "treatment"
		default:
			category, ok = policy.CategoryOf(rec.Type, rec.Class)
		}
		if !ok {
			return nil, false
		}
		categories = append(categories, category)
	}
	return categories, true
}

// oracleObjects is the fixture register: bob objects to all sharing, carol
// to sharing RTH's data.
func oracleObjects(patient, source string) bool {
	return patient == bob || (patient == carol && source == "RTH")
}

// discard is an audit sink that keeps nothing.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
