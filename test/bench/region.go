/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Region is the name of every generated region.
const Region = "tvs"

// Jan2026 is the start of the generated agreements' validity: each first
// version takes effect within 2026 and lasts two years.
var Jan2026 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Jan2027 is when about half the generated grants are in force; the
// benchmarks decide at this time, as internal/policy's do.
var Jan2027 = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// NewRand is the generators' random source. GenerateInput(NewRand(7, 11),
// 5000) is the region of internal/policy's benchmarks.
func NewRand(seed1, seed2 uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed1, seed2))
}

// GenerateInput makes a region of orgs organisations (codes O00000 up),
// orgs/5 agreements of about six parties with one or two versions each, and
// 2*orgs/5 access policies. It is internal/policy's generateInput (whose
// test helpers cannot be imported) with the size as a parameter, drawing
// from rng in the same order: for 5,000 organisations and seeds 7 and 11 it
// gives the same region as internal/policy's benchInput.
func GenerateInput(rng *rand.Rand, orgs int) policy.Input {
	agreements, policies := max(1, orgs/5), max(1, 2*orgs/5)
	// Every requirement of the IG Framework assured for as long as the
	// benchmarks decide.
	in := policy.Input{Region: Region, Assurance: policy.Assurance{Assured: true,
		From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)}}
	for i := range orgs {
		in.Members = append(in.Members, policy.Member{
			ODSCode:  OrgCode(i),
			Region:   Region,
			Admitted: rng.IntN(10) > 0,
			Provider: rng.IntN(4) > 0,
			Consumer: rng.IntN(4) > 0,
		})
	}
	for i := range agreements {
		in.Agreements = append(in.Agreements, generateVersions(rng, fmt.Sprintf("dsa-%04d", i), orgs)...)
	}
	for i := range policies {
		agreed := in.Agreements[rng.IntN(len(in.Agreements))]
		in.Policies = append(in.Policies, generatePolicy(rng, fmt.Sprintf("tvs/policy-%04d", i), agreed))
	}
	return in
}

// OrgCode is the ODS code of generated organisation i.
func OrgCode(i int) string {
	return fmt.Sprintf("O%05d", i)
}

func generateVersions(rng *rand.Rand, id string, orgs int) []policy.Agreement {
	from := Jan2026.Add(time.Duration(rng.IntN(365*24)) * time.Hour)
	v1 := policy.Agreement{
		ID: id, Version: 1, Approved: rng.IntN(10) > 0, Purpose: policy.PurposeDirectCare,
		EffectiveFrom: from, EndsOn: from.AddDate(2, 0, 0),
		Categories: pick(rng, policy.Categories, 3+rng.IntN(7)),
		Sensitive:  pick(rng, sensitiveModes, 1)[0],
	}
	for range 5 + rng.IntN(3) {
		v1.Parties = append(v1.Parties, policy.Party{ODSCode: OrgCode(rng.IntN(orgs)), Role: "Controller"})
	}
	if rng.IntN(2) == 0 {
		return []policy.Agreement{v1}
	}
	v2 := v1
	v2.Version, v2.EffectiveFrom = 2, from.AddDate(0, 6, 0)
	v2.Categories = pick(rng, v1.Categories, len(v1.Categories)-1)
	v2.Parties = append(slices.Clone(v1.Parties), policy.Party{ODSCode: OrgCode(rng.IntN(orgs)), Role: "Processor"})
	return []policy.Agreement{v1, v2}
}

var sensitiveModes = []string{policy.SensitiveExclude, policy.SensitiveBreakGlassOnly, policy.SensitiveAllow}

// generatePolicy grants under an agreement, to some of its parties one time
// in three and to all of them otherwise.
func generatePolicy(rng *rand.Rand, name string, agreed policy.Agreement) policy.Policy {
	p := policy.Policy{
		Name:                          name,
		AgreementID:                   agreed.ID,
		Roles:                         pick(rng, []string{"R8000", "R8001", "R8003", "R8004", policy.RoleAdmin}, 1+rng.IntN(3)),
		PurposesOfUse:                 pick(rng, []string{policy.PurposeTreat, policy.PurposeEmergencyTreat}, 1+rng.IntN(2)),
		RequireLegitimateRelationship: rng.IntN(4) > 0,
		Sensitive:                     pick(rng, sensitiveModes, 1)[0],
	}
	for range 1 + rng.IntN(3) {
		p.Grants = append(p.Grants, policy.PolicyGrant{
			Categories: pick(rng, policy.Categories, 1+rng.IntN(4)),
			Actions:    pick(rng, []string{policy.ActionRead, policy.ActionSearch}, rng.IntN(3)),
		})
	}
	if rng.IntN(3) == 0 {
		var codes []string
		for _, party := range agreed.Parties {
			codes = append(codes, party.ODSCode)
		}
		p.Organisations = pick(rng, codes, 3)
	}
	if rng.IntN(2) == 0 {
		p.BreakGlass = &policy.BreakGlass{AllowedRoles: pick(rng, []string{"R8000", "R8001"}, 1), MaxDuration: time.Hour}
	}
	return p
}

// pick chooses up to n distinct values.
func pick(rng *rand.Rand, values []string, n int) []string {
	out := slices.Clone(values)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:min(n, len(out))]
}

// GenerateRequests makes n requests against a bundle of a region of orgs
// organisations, to be decided at now. Nine in ten are drawn from one grant:
// its consumer and provider, and mostly its roles, purposes, categories and
// actions, so that many are allowed and the rest fail at every later check.
// The others pair any two organisations. Sensitive labels, relationships and
// break-glass overrides (valid, expired, in the future, without a start or
// with a blank reason) vary, and some values are ones no grant allows
// (role R8008, purpose HMARKT, action write, no category or source).
func GenerateRequests(rng *rand.Rand, b policy.Bundle, orgs, n int, now time.Time) []policy.Request {
	requests := make([]policy.Request, n)
	for i := range requests {
		r := &requests[i]
		r.CallerODS, r.SourceODS = OrgCode(rng.IntN(orgs)), OrgCode(rng.IntN(orgs))
		r.Role = weighted(rng, []string{"R8000", "R8001", "R8003", "R8004", policy.RoleAdmin, ""}, []int{35, 30, 15, 14, 4, 2})
		r.PurposeOfUse = weighted(rng, []string{policy.PurposeTreat, policy.PurposeEmergencyTreat, "", "HMARKT"}, []int{82, 14, 2, 2})
		r.LegitimateRelationship = rng.IntN(4) > 0
		r.Action = weighted(rng, []string{policy.ActionRead, policy.ActionSearch, "write"}, []int{55, 43, 2})
		r.Category = policy.Categories[rng.IntN(len(policy.Categories))]
		if len(b.Grants) > 0 && rng.IntN(10) > 0 {
			fromGrant(rng, r, &b.Grants[rng.IntN(len(b.Grants))], orgs, now)
		}
		if rng.IntN(50) == 0 {
			r.SourceODS = ""
		}
		if rng.IntN(40) == 0 {
			r.Category = ""
		}
		switch rng.IntN(20) {
		case 0, 1:
			r.SecurityLabels = []string{"N", policy.SensitiveLabels[rng.IntN(len(policy.SensitiveLabels))]}
		case 2:
			r.SecurityLabels = []string{policy.SensitiveLabels[rng.IntN(len(policy.SensitiveLabels))]}
		case 3:
			r.SecurityLabels = []string{"N"}
		case 4:
			r.SecurityLabels = []string{strings.ToLower(policy.SensitiveLabels[rng.IntN(len(policy.SensitiveLabels))])}
		}
		if (r.PurposeOfUse == policy.PurposeEmergencyTreat && rng.IntN(10) > 0) || rng.IntN(6) == 0 {
			breakGlass(rng, r, now)
		}
	}
	return requests
}

// fromGrant makes a request mostly one the grant covers at now.
func fromGrant(rng *rand.Rand, r *policy.Request, g *policy.Grant, orgs int, now time.Time) {
	r.CallerODS = g.Consumers[rng.IntN(len(g.Consumers))]
	r.SourceODS = g.Providers[rng.IntN(len(g.Providers))]
	if rng.IntN(20) == 0 {
		r.SourceODS = OrgCode(rng.IntN(orgs))
	}
	if rng.IntN(10) < 7 {
		r.Role = g.Roles[rng.IntN(len(g.Roles))]
	}
	if rng.IntN(10) < 7 {
		r.PurposeOfUse = g.PurposesOfUse[rng.IntN(len(g.PurposesOfUse))]
	}
	if rng.IntN(4) > 0 {
		r.Category = g.Categories[rng.IntN(len(g.Categories))]
	}
	if rng.IntN(5) > 0 {
		r.Action = g.Actions[rng.IntN(len(g.Actions))]
	}
	if g.BreakGlass == nil {
		return
	}
	switch rng.IntN(8) {
	case 0, 1:
		r.Role = g.BreakGlass.Roles[rng.IntN(len(g.BreakGlass.Roles))]
		r.PurposeOfUse = policy.PurposeEmergencyTreat
	case 2:
		// A sensitive record, for direct care, with glass broken.
		r.Role = g.BreakGlass.Roles[rng.IntN(len(g.BreakGlass.Roles))]
		r.SecurityLabels = []string{"PSY"}
		r.BreakGlassReason, r.BreakGlassStarted = "safeguarding concern", now.Add(-10*time.Minute)
	}
}

// breakGlass asks for an override: mostly valid for a one-hour grant, but
// sometimes expired, in the future, without a start or with a blank reason.
func breakGlass(rng *rand.Rand, r *policy.Request, now time.Time) {
	r.BreakGlassReason = "unconscious patient in ED"
	r.BreakGlassStarted = now.Add(-time.Duration(rng.Int64N(int64(90 * time.Minute))))
	switch rng.IntN(25) {
	case 0:
		r.BreakGlassStarted = now.Add(time.Duration(1 + rng.Int64N(int64(time.Hour))))
	case 1:
		r.BreakGlassStarted = time.Time{}
	case 2:
		r.BreakGlassReason = " \t"
	case 3:
		r.BreakGlassStarted = now.Add(-time.Hour) // expires exactly now
	case 4:
		r.BreakGlassStarted = now.Add(-time.Hour + time.Nanosecond) // a nanosecond left
	}
}

func weighted(rng *rand.Rand, values []string, weights []int) string {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := rng.IntN(total)
	for i, w := range weights {
		if n < w {
			return values[i]
		}
		n -= w
	}
	return values[len(values)-1]
}
