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

// Journey 2 shares only while both regions are assured: a cross-region
// agreement's grants are cut to the peer region's assurance window too, and
// a peer whose assurance is unknown, not assured or empty grants nothing,
// while the region's agreements within its own boundary go on sharing.
func TestCrossRegionNeedsThePeerAssured(t *testing.T) {
	from := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	until := time.Date(2026, 6, 1, 17, 0, 0, 0, time.UTC)
	peerWindow := Assurance{Assured: true, From: from, Until: until}
	fromPeer := request()
	fromPeer.CallerODS = "PEER1"
	for _, tc := range []struct {
		name  string
		peers map[string]Assurance
		now   time.Time
		allow bool
	}{
		{"peer assured throughout", map[string]Assurance{"wessex": assuredThroughout()}, midApril, true},
		{"peer assurance unknown (nil map)", nil, midApril, false},
		{"peer assurance unknown (other peers only)", map[string]Assurance{"elsewhere": assuredThroughout()}, midApril, false},
		{"peer recorded nothing", map[string]Assurance{"wessex": {}}, midApril, false},
		{"peer not assured, with a reason", map[string]Assurance{"wessex": {Reason: "region not assured: CyberSecurity not assured"}}, midApril, false},
		{"peer assured flag with an empty window", map[string]Assurance{"wessex": {Assured: true, From: until, Until: until}}, midApril, false},
		{"peer assured flag with a window backwards", map[string]Assurance{"wessex": {Assured: true, From: until, Until: from}}, midApril, false},
		{"peer's own-region name matches, case differs", map[string]Assurance{"Wessex": assuredThroughout()}, midApril, false},
		{"one second before the peer's assurance", map[string]Assurance{"wessex": peerWindow}, from.Add(-oneSecond), false},
		{"at the peer's assurance", map[string]Assurance{"wessex": peerWindow}, from, true},
		{"one second before the peer's review date", map[string]Assurance{"wessex": peerWindow}, until.Add(-oneSecond), true},
		{"at the peer's review date", map[string]Assurance{"wessex": peerWindow}, until, false},
		{"peer window in another zone", map[string]Assurance{"wessex": {Assured: true, From: from.In(time.FixedZone("BST", 3600)),
			Until: until.In(time.FixedZone("BST", 3600))}}, until, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fixture()
			a := &in.Agreements[0]
			a.CrossRegion, a.PeerRegion, a.PeerConfirmed = true, "wessex", true
			a.Parties = append(a.Parties, Party{ODSCode: "PEER1", Role: "Controller"})
			within := agreementV1()
			within.ID = "dsa-local"
			in.Agreements = append(in.Agreements, within)
			local := gpRead()
			local.Name, local.AgreementID = "tvs/local-read", "dsa-local"
			in.Policies = append(in.Policies, local)
			in.PeerAssurance = tc.peers
			b := Compile(in)
			for _, g := range b.Grants {
				if g.Agreement != "dsa-1" {
					continue
				}
				gate := tc.peers["wessex"]
				if !gate.Assured || g.ValidFrom.Before(gate.From.UTC()) || g.ValidUntil.After(gate.Until.UTC()) {
					t.Fatalf("cross-region grant %s..%s outside the peer's assurance %+v", g.ValidFrom, g.ValidUntil, gate)
				}
			}
			// PEER1 is a party of the cross-region agreement only.
			if d := Decide(b, fromPeer, tc.now); d.Allow != tc.allow {
				t.Errorf("peer caller: allow %v, want %v (%v)", d.Allow, tc.allow, d.Reasons())
			}
			// The region's own agreement is not held by its peer's gate.
			if d := Decide(b, request(), midApril); !d.Allow {
				t.Errorf("the within-region agreement stopped sharing: %v", d.Reasons())
			}
			crossGrants := 0
			for _, g := range b.Grants {
				if g.Agreement == "dsa-1" {
					crossGrants++
				}
			}
			if peerUnassured := !normalAssurance(tc.peers["wessex"]).Assured; peerUnassured && crossGrants != 0 {
				t.Errorf("%d cross-region grants with the peer not assured", crossGrants)
			}
		})
	}
}
