/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"strings"
	"testing"
	"time"
)

// The IG Framework's gate: a region grants nothing unless every requirement
// is assured, and nothing outside the assurance window, to the second.
func TestAssuranceGatesEveryGrant(t *testing.T) {
	from := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	until := time.Date(2026, 6, 1, 17, 0, 0, 0, time.UTC)
	window := Assurance{Assured: true, From: from, Until: until}
	for _, tc := range []struct {
		name   string
		gate   Assurance
		now    time.Time
		allow  bool
		reason string
	}{
		{"assured throughout", assuredThroughout(), midApril, true, "allowed by policy"},
		{"no assurance recorded", Assurance{}, midApril, false, "region not assured: no assurance"},
		{"not assured, with the operator's reason", Assurance{Reason: "region not assured: CyberSecurity is NotAssured"}, midApril, false,
			"region not assured: CyberSecurity is NotAssured"},
		{"a reason without the prefix gets it", Assurance{Reason: "DataFlows missing"}, midApril, false, "region not assured: DataFlows missing"},
		{"assured flag but an empty window", Assurance{Assured: true, From: until, Until: until}, midApril, false, "window is empty"},
		{"assured flag but a window backwards", Assurance{Assured: true, From: until, Until: from}, midApril, false, "window is empty"},
		{"a reason alongside Assured is dropped", Assurance{Assured: true, From: from, Until: until, Reason: "x"}, midApril, true, "allowed"},
		{"one second before the assurance", window, from.Add(-time.Second), false, "region not assured at 2026-03-01T09:29:59Z: its assurance takes effect at 2026-03-01T09:30:00Z"},
		{"at the assurance", window, from, true, "allowed"},
		{"one second before the review date", window, until.Add(-time.Second), true, "allowed"},
		{"at the review date", window, until, false, "region not assured at 2026-06-01T17:00:00Z: its assurance lapsed at 2026-06-01T17:00:00Z"},
		{"clock in another zone at the review date", window, until.In(time.FixedZone("BST", 3600)), false, "lapsed at 2026-06-01T17:00:00Z"},
		{"long after", window, jan2027.Add(-time.Second), false, "lapsed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fixture()
			in.Assurance = tc.gate
			b := Compile(in)
			if !tc.gate.Assured && len(b.Grants) != 0 {
				t.Fatalf("an unassured region compiled %d grants", len(b.Grants))
			}
			for _, g := range b.Grants {
				if g.ValidFrom.Before(tc.gate.From.UTC()) || g.ValidUntil.After(tc.gate.Until.UTC()) {
					t.Fatalf("grant window %s..%s outside the assurance %s..%s", g.ValidFrom, g.ValidUntil, tc.gate.From, tc.gate.Until)
				}
			}
			for name, d := range map[string]Decision{"Decide": Decide(b, request(), tc.now), "Decider": NewDecider(b).Decide(request(), tc.now)} {
				reasons := strings.Join(d.Reasons(), "; ")
				if d.Allow != tc.allow || !strings.Contains(reasons, tc.reason) {
					t.Errorf("%s: allow %v (want %v), reasons %q (want %q)", name, d.Allow, tc.allow, reasons, tc.reason)
				}
				if !d.Allow && !strings.HasPrefix(reasons, NotAssuredPrefix) {
					t.Errorf("%s: a denial for want of assurance must start %q: %q", name, NotAssuredPrefix, reasons)
				}
			}
			// A gateway that ignored the gate would still be held by the
			// grants' own windows.
			b.Assurance = assuredThroughout()
			if d := Decide(b, request(), tc.now); d.Allow != tc.allow {
				t.Errorf("grant windows alone: allow %v, want %v (%v)", d.Allow, tc.allow, d.Reasons())
			}
		})
	}
}

// A bundle decoded without an assurance section (written before the gate
// existed, or by hand) allows nothing.
func TestBundleWithoutAssuranceAllowsNothing(t *testing.T) {
	data := compileEncoded(t, fixture())
	stripped := strings.Replace(string(data), `,"assurance":{"assured":true,"from":"2020-01-01T00:00:00Z","until":"2040-01-01T00:00:00Z"}`, "", 1)
	if stripped == string(data) {
		t.Fatal("the fixture bundle has no assurance section to strip")
	}
	b, err := Decode([]byte(stripped))
	if err != nil {
		t.Fatal(err)
	}
	if d := Decide(b, request(), midApril); d.Allow || !strings.HasPrefix(d.Reasons()[0], NotAssuredPrefix) {
		t.Fatalf("got %v %v", d.Allow, d.Reasons())
	}
}
