/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// decideCase compiles the fixture changed by input, decides the fixture
// request changed by req at now (midApril when zero), and expects allow,
// breakGlass, the agreement version on allow and a reason containing reason.
type decideCase struct {
	name       string
	input      func(*Input)
	req        func(r *Request, now time.Time)
	now        time.Time
	allow      bool
	breakGlass bool
	version    int32
	reason     string
}

func runDecideCases(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := fixture()
			if tc.input != nil {
				tc.input(&in)
			}
			now := tc.now
			if now.IsZero() {
				now = midApril
			}
			req := request()
			if tc.req != nil {
				tc.req(&req, now)
			}
			b := Compile(in)
			got := Decide(b, req, now)
			checkDecision(t, tc, got)
			if indexed := NewDecider(b).Decide(req, now); !reflect.DeepEqual(indexed, got) {
				t.Fatalf("Decider decided %+v, Decide %+v", indexed, got)
			}
		})
	}
}

func checkDecision(t *testing.T, tc decideCase, got Decision) {
	t.Helper()
	if got.Allow != tc.allow || got.BreakGlass != tc.breakGlass {
		t.Fatalf("allow=%v breakGlass=%v, want allow=%v breakGlass=%v; reasons %q",
			got.Allow, got.BreakGlass, tc.allow, tc.breakGlass, got.Reasons())
	}
	if len(got.Reasons()) == 0 || !strings.Contains(strings.Join(got.Reasons(), "; "), tc.reason) {
		t.Fatalf("reasons %q do not mention %q", got.Reasons(), tc.reason)
	}
	if !tc.allow {
		return
	}
	want := tc.version
	if want == 0 {
		want = 1
	}
	if got.Agreement != "dsa-1" || got.AgreementVersion != want || got.Policy != "tvs/gp-read" {
		t.Fatalf("allowed under %s v%d by %s, want dsa-1 v%d by tvs/gp-read", got.Agreement, got.AgreementVersion, got.Policy, want)
	}
}

const allowed = "allowed by policy tvs/gp-read under agreement dsa-1"

func TestDecideMembership(t *testing.T) {
	runDecideCases(t, []decideCase{
		{name: "admitted consumer reads admitted provider", allow: true, reason: allowed + " version 1"},
		{name: "own organisation's records", req: func(r *Request, _ time.Time) { r.SourceODS = "RR8" }, allow: true, reason: allowed},
		{name: "consumer not admitted", input: func(in *Input) { member(in, "RR8").Admitted = false },
			reason: "caller organisation RR8 is not an admitted party of any active agreement"},
		{name: "provider not admitted", input: func(in *Input) { member(in, "B86001").Admitted = false },
			reason: "no agreement covering RR8 and B86001 is in force at 2026-04-15T12:00:00Z"},
		{name: "party not admitted reads", req: func(r *Request, _ time.Time) { r.CallerODS = "RX1" },
			reason: "caller organisation RX1 is not an admitted party"},
		{name: "records of party not admitted", req: func(r *Request, _ time.Time) { r.SourceODS = "RX1" },
			reason: "no agreement covering RR8 and RX1"},
		{name: "consumer member of another region", input: func(in *Input) { member(in, "RR8").Region = "wessex" },
			reason: "caller organisation RR8 is not an admitted party"},
		{name: "consumer not a member at all", input: func(in *Input) { in.Members = in.Members[1:] },
			reason: "caller organisation RR8 is not an admitted party"},
		{name: "consumer listed twice as member", input: func(in *Input) { in.Members = append(in.Members, in.Members[0]) },
			reason: "caller organisation RR8 is not an admitted party"},
		{name: "organisation without Consumer role", input: func(in *Input) { member(in, "RR8").Consumer = false },
			reason: "caller organisation RR8 is not an admitted party"},
		{name: "organisation without Provider role", input: func(in *Input) { member(in, "B86001").Provider = false },
			reason: "no agreement covering RR8 and B86001"},
		{name: "policy names the caller", input: func(in *Input) { in.Policies[0].Organisations = []string{"RR8"} },
			allow: true, reason: allowed},
		{name: "policy names only another party", input: func(in *Input) { in.Policies[0].Organisations = []string{"B86001"} },
			reason: "caller organisation RR8 is not an admitted party"},
		{name: "policy names only a non-party", input: func(in *Input) { in.Policies[0].Organisations = []string{"FAR1"} },
			reason: "caller organisation RR8 is not an admitted party"},
		{name: "caller missing", req: func(r *Request, _ time.Time) { r.CallerODS = "" }, reason: "caller organisation is missing"},
		{name: "resource without provenance", req: func(r *Request, _ time.Time) { r.SourceODS = "" },
			reason: "resource has no source organisation"},
	})
}

func TestDecideAgreementWindow(t *testing.T) {
	runDecideCases(t, []decideCase{
		{name: "one second before effectiveFrom", now: jan2026.Add(-oneSecond),
			reason: "agreement dsa-1 version 1 covering RR8 and B86001 is not in force at 2025-12-31T23:59:59Z (in force from 2026-01-01T00:00:00Z until 2027-01-01T00:00:00Z)"},
		{name: "at effectiveFrom", now: jan2026, allow: true, reason: allowed},
		{name: "one second before endsOn", now: jan2027.Add(-oneSecond), allow: true, reason: allowed},
		{name: "at endsOn", now: jan2027, reason: "is not in force at 2027-01-01T00:00:00Z"},
		{name: "clock in another zone", now: jan2027.In(time.FixedZone("CET", 3600)), reason: "is not in force at 2027-01-01T00:00:00Z"},
	})
}

func TestDecideSupersession(t *testing.T) {
	withV2 := func(in *Input) { in.Agreements = append(in.Agreements, agreementV2()) }
	allergies := func(r *Request, _ time.Time) { r.Category = CategoryAllergies }
	runDecideCases(t, []decideCase{
		{name: "v1 just before v2 takes effect", input: withV2, now: jul2026.Add(-oneSecond), allow: true, reason: allowed + " version 1"},
		{name: "v1 medications end when v2 takes effect", input: withV2, now: jul2026, reason: "category Medications not granted"},
		{name: "v2 allergies from its effectiveFrom", input: withV2, req: allergies, now: jul2026, allow: true, version: 2, reason: allowed + " version 2"},
		{name: "v1 allergies before v2", input: withV2, req: allergies, now: jul2026.Add(-oneSecond), allow: true, version: 1, reason: allowed + " version 1"},
		{name: "unapproved v2 does not supersede", now: jul2026, allow: true, version: 1, reason: allowed + " version 1", input: func(in *Input) {
			v2 := agreementV2()
			v2.Approved = false
			in.Agreements = append(in.Agreements, v2)
		}},
	})
}

func TestDecideAgreementEligibility(t *testing.T) {
	runDecideCases(t, []decideCase{
		{name: "suspended", input: func(in *Input) { in.Agreements[0].Suspended = true }, reason: "not an admitted party of any active agreement"},
		{name: "not approved", input: func(in *Input) { in.Agreements[0].Approved = false }, reason: "not an admitted party of any active agreement"},
		{name: "purpose other than direct care", input: func(in *Input) { in.Agreements[0].Purpose = "Other" }, reason: "not an admitted party of any active agreement"},
		{name: "policy under an unknown agreement", input: func(in *Input) { in.Policies[0].AgreementID = "dsa-9" }, reason: "not an admitted party of any active agreement"},
	})
}

func TestDecideCrossRegion(t *testing.T) {
	crossRegion := func(confirmed bool) func(*Input) {
		return func(in *Input) {
			a := &in.Agreements[0]
			a.CrossRegion, a.PeerRegion, a.PeerConfirmed = true, "wessex", confirmed
			a.Parties = append(a.Parties, Party{ODSCode: "PEER1", Role: "Controller"}, Party{ODSCode: "FAR1", Role: "Controller"})
			in.PeerAssurance = map[string]Assurance{"wessex": assuredThroughout()}
		}
	}
	fromPeer := func(r *Request, _ time.Time) { r.CallerODS = "PEER1" }
	fromFar := func(r *Request, _ time.Time) { r.CallerODS = "FAR1" }
	runDecideCases(t, []decideCase{
		{name: "peer member when confirmed", input: crossRegion(true), req: fromPeer, allow: true, reason: allowed},
		{name: "local member when confirmed", input: crossRegion(true), allow: true, reason: allowed},
		{name: "peer member when not confirmed", input: crossRegion(false), req: fromPeer, reason: "caller organisation PEER1 is not an admitted party"},
		{name: "local member when not confirmed", input: crossRegion(false), reason: "caller organisation RR8 is not an admitted party"},
		{name: "member of a third region", input: crossRegion(true), req: fromFar, reason: "caller organisation FAR1 is not an admitted party"},
		{name: "peer member of a within-region agreement", input: func(in *Input) {
			in.Agreements[0].Parties = append(in.Agreements[0].Parties, Party{ODSCode: "PEER1", Role: "Controller"})
		}, req: fromPeer, reason: "caller organisation PEER1 is not an admitted party"},
	})
}

func TestDecidePurposeOfUse(t *testing.T) {
	purpose := func(p string) func(*Request, time.Time) {
		return func(r *Request, _ time.Time) { r.PurposeOfUse = p }
	}
	emergency := func(r *Request, now time.Time) {
		r.PurposeOfUse = PurposeEmergencyTreat
		breakGlass(r, now, time.Minute)
	}
	treatOnly := func(in *Input) { in.Policies[0].PurposesOfUse = []string{PurposeTreat} }
	runDecideCases(t, []decideCase{
		{name: "TREAT", allow: true, reason: allowed},
		{name: "ETREAT without break-glass", req: purpose(PurposeEmergencyTreat),
			reason: "purpose of use TREAT required (ETREAT only via break-glass); break-glass requires a reason"},
		{name: "ETREAT with break-glass", req: emergency, allow: true, breakGlass: true, reason: "break-glass emergency override"},
		{name: "ETREAT with break-glass not granted by policy", input: treatOnly, req: emergency,
			reason: "purpose of use ETREAT is not granted by policy tvs/gp-read"},
		{name: "TREAT not granted by policy", req: purpose(PurposeTreat), input: func(in *Input) {
			in.Policies[0].PurposesOfUse = []string{PurposeEmergencyTreat}
		}, reason: "purpose of use TREAT is not granted by policy tvs/gp-read"},
		{name: "no purpose given", req: purpose(""), reason: `purpose of use "" is not direct care`},
		{name: "purpose other than treatment", req: purpose("HRESCH"), reason: `purpose of use "HRESCH" is not direct care`},
		{name: "policy without purposes means TREAT", input: func(in *Input) { in.Policies[0].PurposesOfUse = nil }, allow: true, reason: allowed},
		{name: "policy with only unknown purposes", input: func(in *Input) { in.Policies[0].PurposesOfUse = []string{"HRESCH"} },
			reason: "not an admitted party of any active agreement"},
	})
}

func TestDecideRole(t *testing.T) {
	role := func(code string) func(*Request, time.Time) {
		return func(r *Request, _ time.Time) { r.Role = code }
	}
	runDecideCases(t, []decideCase{
		{name: "granted role R8000", req: role("R8000"), allow: true, reason: allowed},
		{name: "granted role R8001", req: role("R8001"), allow: true, reason: allowed},
		{name: "role not granted", req: role("R8003"), reason: "role R8003 is not granted"},
		{name: "no role", req: role(""), reason: "role is missing"},
		{name: "R8008 even when the policy lists it", req: role(RoleAdmin),
			input:  func(in *Input) { in.Policies[0].Roles = append(in.Policies[0].Roles, RoleAdmin) },
			reason: "role R8008 is not granted: admin roles get no clinical data"},
		{name: "malformed role in policy is dropped", req: role("r8003"),
			input:  func(in *Input) { in.Policies[0].Roles = append(in.Policies[0].Roles, "r8003") },
			reason: "role r8003 is not granted"},
	})
}

func TestDecideLegitimateRelationship(t *testing.T) {
	noRelationship := func(r *Request, _ time.Time) { r.LegitimateRelationship = false }
	runDecideCases(t, []decideCase{
		{name: "required and asserted", allow: true, reason: allowed},
		{name: "required and not asserted", req: noRelationship, reason: "legitimate relationship required"},
		{name: "not required and not asserted", req: noRelationship, allow: true, reason: allowed,
			input: func(in *Input) { in.Policies[0].RequireLegitimateRelationship = false }},
		{name: "required, not asserted, glass broken", allow: true, breakGlass: true, reason: "break-glass emergency override",
			req: func(r *Request, now time.Time) {
				noRelationship(r, now)
				breakGlass(r, now, time.Minute)
			}},
		{name: "break-glass reason given although not needed", allow: true, reason: allowed,
			req: func(r *Request, now time.Time) { breakGlass(r, now, time.Minute) }},
	})
}

func TestDecideCategoryAndAction(t *testing.T) {
	category := func(c string) func(*Request, time.Time) {
		return func(r *Request, _ time.Time) { r.Category = c }
	}
	runDecideCases(t, []decideCase{
		{name: "category in policy and agreement", req: category(CategoryAllergies), allow: true, reason: allowed},
		{name: "category in agreement only", req: category(CategoryTestResults), reason: "category TestResults not granted"},
		{name: "category in policy only is dropped", req: category(CategoryCarePlans), reason: "category CarePlans not granted",
			input: func(in *Input) {
				in.Policies[0].Grants[0].Categories = append(in.Policies[0].Grants[0].Categories, CategoryCarePlans)
			}},
		{name: "resource without category", req: category(""), reason: "resource has no data category"},
		{name: "search by default", req: func(r *Request, _ time.Time) { r.Action = ActionSearch }, allow: true, reason: allowed},
		{name: "search not granted", req: func(r *Request, _ time.Time) { r.Action = ActionSearch },
			input:  func(in *Input) { in.Policies[0].Grants[0].Actions = []string{ActionRead} },
			reason: `action "search" not granted for category Medications`},
		{name: "second grant of the policy", req: category(CategoryTestResults), allow: true, reason: allowed,
			input: func(in *Input) {
				in.Policies[0].Grants = append(in.Policies[0].Grants, PolicyGrant{Categories: []string{CategoryTestResults}})
			}},
	})
}

func TestDecideSensitive(t *testing.T) {
	modes := func(policy, agreement string) func(*Input) {
		return func(in *Input) {
			in.Policies[0].Sensitive = policy
			in.Agreements[0].Sensitive = agreement
		}
	}
	sensitive := func(r *Request, _ time.Time) { r.SecurityLabels = []string{"N", "HIV"} }
	sensitiveGlass := func(r *Request, now time.Time) {
		sensitive(r, now)
		breakGlass(r, now, time.Minute)
	}
	runDecideCases(t, []decideCase{
		{name: "not sensitive, excluded", input: modes(SensitiveExclude, SensitiveExclude), allow: true, reason: allowed,
			req: func(r *Request, _ time.Time) { r.SecurityLabels = []string{"N"} }},
		{name: "Allow and Allow", input: modes(SensitiveAllow, SensitiveAllow), req: sensitive, allow: true, reason: allowed},
		{name: "Exclude", input: modes(SensitiveExclude, SensitiveAllow), req: sensitiveGlass, reason: "sensitive record excluded"},
		{name: "empty mode is Exclude", input: modes("", SensitiveAllow), req: sensitive, reason: "sensitive record excluded"},
		{name: "unknown mode is Exclude", input: modes("Sometimes", SensitiveAllow), req: sensitive, reason: "sensitive record excluded"},
		{name: "agreement Exclude beats policy Allow", input: modes(SensitiveAllow, SensitiveExclude), req: sensitiveGlass,
			reason: "sensitive record excluded"},
		{name: "BreakGlassOnly without break-glass", input: modes(SensitiveBreakGlassOnly, SensitiveAllow), req: sensitive,
			reason: "sensitive record shared only via break-glass"},
		{name: "BreakGlassOnly with break-glass", input: modes(SensitiveBreakGlassOnly, SensitiveAllow), req: sensitiveGlass,
			allow: true, breakGlass: true, reason: "break-glass emergency override"},
		{name: "agreement BreakGlassOnly beats policy Allow", input: modes(SensitiveAllow, SensitiveBreakGlassOnly), req: sensitive,
			reason: "sensitive record shared only via break-glass"},
		{name: "agreement BreakGlassOnly and policy Allow with break-glass", input: modes(SensitiveAllow, SensitiveBreakGlassOnly),
			req: sensitiveGlass, allow: true, breakGlass: true, reason: "break-glass emergency override"},
	})
}

func TestDecideBreakGlass(t *testing.T) {
	// Without a legitimate relationship only a valid override allows.
	emergency := func(change func(r *Request, now time.Time)) func(*Request, time.Time) {
		return func(r *Request, now time.Time) {
			r.LegitimateRelationship = false
			breakGlass(r, now, time.Minute)
			change(r, now)
		}
	}
	noChange := func(*Request, time.Time) {}
	runDecideCases(t, []decideCase{
		{name: "allowed role with reason", req: emergency(noChange), allow: true, breakGlass: true, reason: "break-glass emergency override"},
		{name: "role granted but not allowed to break glass", req: emergency(func(r *Request, _ time.Time) { r.Role = "R8001" }),
			reason: "legitimate relationship required; break-glass not allowed for role R8001"},
		{name: "blank reason", req: emergency(func(r *Request, _ time.Time) { r.BreakGlassReason = "  " }),
			reason: "legitimate relationship required; break-glass requires a reason"},
		{name: "last second of the override", req: emergency(func(r *Request, now time.Time) { r.BreakGlassStarted = now.Add(-time.Hour + oneSecond) }),
			allow: true, breakGlass: true, reason: "break-glass emergency override"},
		{name: "expired", req: emergency(func(r *Request, now time.Time) { r.BreakGlassStarted = now.Add(-time.Hour) }),
			reason: "break-glass expired at 2026-04-15T12:00:00Z"},
		{name: "start missing", req: emergency(func(r *Request, _ time.Time) { r.BreakGlassStarted = time.Time{} }),
			reason: "break-glass start time is missing"},
		{name: "start in the future", req: emergency(func(r *Request, now time.Time) { r.BreakGlassStarted = now.Add(oneSecond) }),
			reason: "break-glass start time 2026-04-15T12:00:01Z is in the future"},
		{name: "not configured", req: emergency(noChange), input: func(in *Input) { in.Policies[0].BreakGlass = nil },
			reason: "break-glass is not configured for policy tvs/gp-read"},
		{name: "longer than 24h is not configured", req: emergency(noChange),
			input:  func(in *Input) { in.Policies[0].BreakGlass.MaxDuration = 25 * time.Hour },
			reason: "break-glass is not configured for policy tvs/gp-read"},
		{name: "allowed role the policy does not grant", req: emergency(func(r *Request, _ time.Time) { r.Role = "R8003" }),
			input:  func(in *Input) { in.Policies[0].BreakGlass.AllowedRoles = []string{"R8000", "R8003"} },
			reason: "role R8003 is not granted"},
	})
}

func TestDecideDeniesUnknownBundleVersion(t *testing.T) {
	b := Compile(fixture())
	if d := Decide(b, request(), midApril); !d.Allow {
		t.Fatalf("the fixture must allow the request: %q", d.Reasons())
	}
	b.Version = "shcr.io/policy-bundle/v2"
	d := Decide(b, request(), midApril)
	if d.Allow || len(d.Reasons()) != 1 || !strings.Contains(d.Reasons()[0], `policy bundle version "shcr.io/policy-bundle/v2" is not supported`) {
		t.Fatalf("got %+v", d)
	}
}

func TestDecideDeniesEmptyBundle(t *testing.T) {
	d := Decide(Bundle{Version: BundleVersion, Assurance: assuredThroughout()}, request(), midApril)
	if d.Allow || len(d.Reasons()) != 1 || d.Reasons()[0] != "caller organisation RR8 is not an admitted party of any active agreement" {
		t.Fatalf("got %+v", d)
	}
}

func TestDecidePrefersAllowWithoutOverride(t *testing.T) {
	// A second policy allows sensitive records outright; the first only by
	// break-glass. The outright allow wins and is not flagged.
	in := fixture()
	open := gpRead()
	open.Name, open.Sensitive = "tvs/open", SensitiveAllow
	in.Policies = append(in.Policies, open)
	req := request()
	req.SecurityLabels = []string{"R"}
	breakGlass(&req, midApril, time.Minute)
	d := Decide(Compile(in), req, midApril)
	if !d.Allow || d.BreakGlass || d.Policy != "tvs/open" {
		t.Fatalf("got %+v", d)
	}
}

func TestDecideExplainsTheBestMatch(t *testing.T) {
	// One grant fails on the caller, another on the category: the category
	// is the more decisive reason.
	in := fixture()
	other := gpRead()
	other.Name, other.Organisations = "tvs/b86001", []string{"B86001"}
	in.Policies = append(in.Policies, other)
	req := request()
	req.Category = CategoryTestResults
	d := Decide(Compile(in), req, midApril)
	if d.Allow || len(d.Reasons()) != 1 || d.Reasons()[0] != "category TestResults not granted" {
		t.Fatalf("got %+v", d)
	}
}

func TestDeciderDecidesLikeDecide(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	b := Compile(generateInput(rng, 300, 80, 160))
	d := NewDecider(b)
	requests := benchRequests(rng, b, 2000)
	for i := range requests {
		r := &requests[i]
		switch i % 5 {
		case 0:
			r.CallerODS = "ZZZ"
		case 1:
			r.SourceODS = b.Grants[rng.IntN(len(b.Grants))].Providers[0]
		case 2:
			breakGlass(r, jan2027, time.Duration(rng.IntN(90))*time.Minute)
			r.PurposeOfUse = PurposeEmergencyTreat
		}
	}
	allowed := 0
	for i, r := range requests {
		now := jan2026.AddDate(0, i%30, 0)
		want := Decide(b, r, now)
		if got := d.Decide(r, now); !reflect.DeepEqual(got, want) {
			t.Fatalf("request %+v at %s: Decider %+v, Decide %+v", r, now, got, want)
		}
		if want.Allow {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(requests) {
		t.Fatalf("the requests should be partly allowed, %d of %d were", allowed, len(requests))
	}
}

func TestDecideRefusesOutOfRangeBreakGlassInBundle(t *testing.T) {
	req := request()
	req.LegitimateRelationship = false
	breakGlass(&req, midApril, time.Minute)
	for _, seconds := range []int64{0, -1, 86401, 1 << 62} {
		b := Compile(fixture())
		b.Grants[0].BreakGlass.MaxDurationSeconds = seconds
		d := Decide(b, req, midApril)
		if d.Allow || !slices.Contains(d.Reasons(), "break-glass is not configured for policy tvs/gp-read") {
			t.Errorf("maxDurationSeconds %d: got %+v", seconds, d)
		}
	}
}

func TestDeciderAllocatesNothing(t *testing.T) {
	d := NewDecider(Compile(fixture()))
	deniedCategory := request()
	deniedCategory.Category = CategoryTestResults
	unknownCaller := request()
	unknownCaller.CallerODS = "ZZZ"
	emergency := request()
	emergency.LegitimateRelationship = false
	breakGlass(&emergency, midApril, time.Minute)
	for name, req := range map[string]Request{
		"allow": request(), "allow by break-glass": emergency, "deny": deniedCategory, "unknown caller": unknownCaller,
	} {
		var decision Decision
		if allocs := testing.AllocsPerRun(100, func() { decision = d.Decide(req, midApril) }); allocs != 0 {
			t.Errorf("%s: %v allocations per decision, want 0", name, allocs)
		}
		if decision.Allow != (name == "allow" || name == "allow by break-glass") {
			t.Errorf("%s: decided %+v", name, decision)
		}
	}
}

func TestReasonsOfADecisionMadeElsewhere(t *testing.T) {
	allow := Decision{Allow: true, Agreement: "dsa-1", AgreementVersion: 2, Policy: "tvs/gp-read", BreakGlass: true}
	want := []string{"allowed by policy tvs/gp-read under agreement dsa-1 version 2", "allowed only by a break-glass emergency override"}
	if got := allow.Reasons(); !slices.Equal(got, want) {
		t.Errorf("reasons %q, want %q", got, want)
	}
	if got := (Decision{}).Reasons(); !slices.Equal(got, []string{"caller organisation is missing"}) {
		t.Errorf("reasons of the zero decision %q", got)
	}
}
