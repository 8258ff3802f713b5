/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// TestGeneratedRegion checks that the generator is internal/policy's: the
// 5,000-organisation region compiles to the 4,169 grants that
// docs/benchmarks.md reports for BenchmarkCompile (eleven categories).
func TestGeneratedRegion(t *testing.T) {
	for _, orgs := range regionSizes {
		r := loadRegion(t, orgs)
		t.Logf("%d organisations: %d grants, %d consumers indexed", orgs, len(r.bundle.Grants), len(Data(r.bundle)["grants_by_consumer"].(map[string]any)))
		if len(r.bundle.Grants) == 0 {
			t.Errorf("%d organisations: no grants", orgs)
		}
	}
	if got := len(loadRegion(t, 5000).bundle.Grants); got != 4169 {
		t.Errorf("5,000 organisations: %d grants, want 4,169 as internal/policy's benchInput", got)
	}
}

// TestOPAAgreesWithDecide checks, before any comparison of speed, that the
// Rego policy makes the decisions of policy.Decide. For each region size it
// decides 2,000 random requests, spread over five times from before to after
// most grants, and 400 requests drawn from 100 grants at the edges of their
// windows (a nanosecond before and at validFrom and validUntil). OPA's allow
// and break-glass flag must equal the Decider's (and, on a sample,
// policy.Decide's). It also checks that the requests reach allows, allows by
// break-glass and denials at every check, so that agreement means
// something.
func TestOPAAgreesWithDecide(t *testing.T) {
	ctx := context.Background()
	times := []time.Time{
		time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 6, 15, 8, 30, 0, 0, time.UTC),
		Jan2027,
		time.Date(2027, 9, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2028, 12, 1, 0, 0, 0, 0, time.UTC),
	}
	const perTime, edgeGrants = 400, 100
	for _, orgs := range regionSizes {
		t.Run(fmt.Sprintf("orgs=%d", orgs), func(t *testing.T) {
			r := loadRegion(t, orgs)
			type decision struct {
				req policy.Request
				now time.Time
			}
			var cases []decision
			for k, now := range times {
				for _, req := range GenerateRequests(NewRand(uint64(orgs), uint64(k)), r.bundle, orgs, perTime, now) {
					cases = append(cases, decision{req, now})
				}
			}
			rng := NewRand(uint64(orgs), 99)
			for range edgeGrants {
				g := &r.bundle.Grants[rng.IntN(len(r.bundle.Grants))]
				for _, now := range []time.Time{g.ValidFrom.Add(-1), g.ValidFrom, g.ValidUntil.Add(-1), g.ValidUntil} {
					req := policy.Request{LegitimateRelationship: true, Role: "R8000", PurposeOfUse: policy.PurposeTreat,
						Action: policy.ActionRead, Category: policy.CategoryMedications}
					fromGrant(rng, &req, g, orgs, now)
					cases = append(cases, decision{req, now})
				}
			}
			outcomes := map[string]int{}
			for i, c := range cases {
				want := r.decider.Decide(c.req, c.now)
				input := Input(c.req, c.now)
				got, err := r.opa.Decide(ctx, input)
				if err != nil {
					t.Fatal(err)
				}
				if got.Allow != want.Allow || got.BreakGlass != want.BreakGlass {
					t.Fatalf("request %d at %s: OPA allow=%t breakGlass=%t, Decide allow=%t breakGlass=%t %q\n%+v",
						i, c.now.Format(time.RFC3339Nano), got.Allow, got.BreakGlass, want.Allow, want.BreakGlass, want.Reasons(), c.req)
				}
				if allow, err := r.opa.Allow(ctx, input); err != nil || allow != want.Allow {
					t.Fatalf("request %d: the allow query gave %t (%v), want %t", i, allow, err, want.Allow)
				}
				if i%10 == 0 {
					if linear := policy.Decide(r.bundle, c.req, c.now); linear.Allow != want.Allow || linear.BreakGlass != want.BreakGlass {
						t.Fatalf("request %d: policy.Decide and the Decider differ", i)
					}
				}
				outcomes[outcome(want)]++
			}
			t.Logf("%d requests: %v", len(cases), outcomes)
			for _, must := range []string{"allow", "allow by break-glass", "caller", "source", "in force", "purpose", "role",
				"relationship", "category", "action", "sensitive"} {
				if outcomes[must] == 0 {
					t.Errorf("no request decided %q: the mix does not exercise every check", must)
				}
			}
		})
	}
}

// outcome names an allow, or the check that a denial's first reason is
// about (the reasons of internal/policy/decide.go).
func outcome(d policy.Decision) string {
	switch {
	case d.Allow && d.BreakGlass:
		return "allow by break-glass"
	case d.Allow:
		return "allow"
	}
	reason := d.Reasons()[0]
	for _, c := range []struct{ check, prefix string }{
		{"caller", "caller organisation"},
		{"source", "resource has no source organisation"},
		{"source", "no agreement covering"},
		{"in force", "agreement "},
		{"purpose", "purpose of use"},
		{"role", "role "},
		{"relationship", "legitimate relationship"},
		{"category", "category "},
		{"category", "resource has no data category"},
		{"action", "action "},
		{"sensitive", "sensitive record"},
	} {
		if strings.HasPrefix(reason, c.prefix) {
			return c.check
		}
	}
	return reason
}

// TestOPAAgreesOnOddBundles covers what a compiled bundle never holds but
// Decide still handles: an unknown version (deny everything), break-glass
// durations outside 1 s to 24 h (no override), an unknown sensitive mode
// (Exclude), and R8008 among the roles (refused all the same).
func TestOPAAgreesOnOddBundles(t *testing.T) {
	ctx := context.Background()
	base := loadRegion(t, 100).bundle
	odd := policy.Bundle{Version: base.Version, Region: base.Region, Assurance: base.Assurance}
	for i, g := range base.Grants {
		if i%2 == 0 {
			g.Roles = append(slices.Clone(g.Roles), policy.RoleAdmin)
		}
		if g.BreakGlass != nil {
			bg := *g.BreakGlass
			bg.MaxDurationSeconds = []int64{0, -5, 86400, 86401, 3600}[i%5]
			if i%2 == 0 {
				bg.Roles = append(slices.Clone(bg.Roles), policy.RoleAdmin)
			}
			g.BreakGlass = &bg
		}
		if i%3 == 0 {
			g.Sensitive = "Sometimes"
		}
		odd.Grants = append(odd.Grants, g)
	}
	unknown := odd
	unknown.Version = "shcr.io/policy-bundle/v2"
	for _, b := range []policy.Bundle{odd, unknown} {
		o, err := NewOPA(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		decider := policy.NewDecider(b)
		allowed := 0
		for i, req := range GenerateRequests(NewRand(3, 5), b, 100, 2000, Jan2027) {
			want := decider.Decide(req, Jan2027)
			got, err := o.Decide(ctx, Input(req, Jan2027))
			if err != nil {
				t.Fatal(err)
			}
			if got.Allow != want.Allow || got.BreakGlass != want.BreakGlass {
				t.Fatalf("bundle %s, request %d: OPA allow=%t breakGlass=%t, Decide allow=%t breakGlass=%t %q",
					b.Version, i, got.Allow, got.BreakGlass, want.Allow, want.BreakGlass, want.Reasons())
			}
			if want.Allow {
				allowed++
			}
		}
		t.Logf("bundle %s: %d of 2000 allowed", b.Version, allowed)
	}
}
