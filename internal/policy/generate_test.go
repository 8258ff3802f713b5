/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// generateInput makes a region of orgs organisations, agreements agreements
// of about six parties with one or two versions each, and policies access
// policies, from rng.
func generateInput(rng *rand.Rand, orgs, agreements, policies int) Input {
	in := Input{Region: "tvs", Assurance: assuredThroughout()}
	for i := range orgs {
		in.Members = append(in.Members, Member{
			ODSCode:  fmt.Sprintf("O%05d", i),
			Region:   "tvs",
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

func generateVersions(rng *rand.Rand, id string, orgs int) []Agreement {
	from := jan2026.Add(time.Duration(rng.IntN(365*24)) * time.Hour)
	v1 := Agreement{
		ID: id, Version: 1, Approved: rng.IntN(10) > 0, Purpose: PurposeDirectCare,
		EffectiveFrom: from, EndsOn: from.AddDate(2, 0, 0),
		Categories: pick(rng, Categories, 3+rng.IntN(7)),
		Sensitive:  pick(rng, []string{SensitiveExclude, SensitiveBreakGlassOnly, SensitiveAllow}, 1)[0],
	}
	for range 5 + rng.IntN(3) {
		v1.Parties = append(v1.Parties, Party{ODSCode: fmt.Sprintf("O%05d", rng.IntN(orgs)), Role: "Controller"})
	}
	if rng.IntN(2) == 0 {
		return []Agreement{v1}
	}
	v2 := v1
	v2.Version, v2.EffectiveFrom = 2, from.AddDate(0, 6, 0)
	v2.Categories = pick(rng, v1.Categories, len(v1.Categories)-1)
	v2.Parties = append(slices.Clone(v1.Parties), Party{ODSCode: fmt.Sprintf("O%05d", rng.IntN(orgs)), Role: "Processor"})
	return []Agreement{v1, v2}
}

// generatePolicy grants under an agreement, to some of its parties one time
// in three and to all of them otherwise.
func generatePolicy(rng *rand.Rand, name string, agreed Agreement) Policy {
	p := Policy{
		Name:                          name,
		AgreementID:                   agreed.ID,
		Roles:                         pick(rng, []string{"R8000", "R8001", "R8003", "R8004", RoleAdmin}, 1+rng.IntN(3)),
		PurposesOfUse:                 pick(rng, []string{PurposeTreat, PurposeEmergencyTreat}, 1+rng.IntN(2)),
		RequireLegitimateRelationship: rng.IntN(4) > 0,
		Sensitive:                     pick(rng, []string{SensitiveExclude, SensitiveBreakGlassOnly, SensitiveAllow}, 1)[0],
	}
	for range 1 + rng.IntN(3) {
		p.Grants = append(p.Grants, PolicyGrant{
			Categories: pick(rng, Categories, 1+rng.IntN(4)),
			Actions:    pick(rng, []string{ActionRead, ActionSearch}, rng.IntN(3)),
		})
	}
	if rng.IntN(3) == 0 {
		p.Organisations = pick(rng, partyCodes(agreed), 3)
	}
	if rng.IntN(2) == 0 {
		p.BreakGlass = &BreakGlass{AllowedRoles: pick(rng, []string{"R8000", "R8001"}, 1), MaxDuration: time.Hour}
	}
	return p
}

func partyCodes(a Agreement) []string {
	var codes []string
	for _, p := range a.Parties {
		codes = append(codes, p.ODSCode)
	}
	return codes
}

// pick chooses up to n distinct values.
func pick(rng *rand.Rand, values []string, n int) []string {
	out := slices.Clone(values)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:min(n, len(out))]
}

// cloneInput copies every slice an input holds, so that shuffling the copy
// leaves the original alone.
func cloneInput(in Input) Input {
	out := Input{Region: in.Region, Members: slices.Clone(in.Members), Assurance: in.Assurance}
	for _, a := range in.Agreements {
		a.Parties, a.Categories = slices.Clone(a.Parties), slices.Clone(a.Categories)
		out.Agreements = append(out.Agreements, a)
	}
	for _, p := range in.Policies {
		p.Organisations, p.Roles, p.PurposesOfUse = slices.Clone(p.Organisations), slices.Clone(p.Roles), slices.Clone(p.PurposesOfUse)
		grants := make([]PolicyGrant, 0, len(p.Grants))
		for _, g := range p.Grants {
			grants = append(grants, PolicyGrant{Categories: slices.Clone(g.Categories), Actions: slices.Clone(g.Actions)})
		}
		p.Grants = grants
		if p.BreakGlass != nil {
			p.BreakGlass = &BreakGlass{AllowedRoles: slices.Clone(p.BreakGlass.AllowedRoles), MaxDuration: p.BreakGlass.MaxDuration}
		}
		out.Policies = append(out.Policies, p)
	}
	return out
}

func shuffleInput(rng *rand.Rand, in *Input) {
	shuffle(rng, in.Members)
	shuffle(rng, in.Agreements)
	shuffle(rng, in.Policies)
	for _, a := range in.Agreements {
		shuffle(rng, a.Parties)
		shuffle(rng, a.Categories)
	}
	for _, p := range in.Policies {
		shuffle(rng, p.Roles)
		shuffle(rng, p.Organisations)
		shuffle(rng, p.PurposesOfUse)
		shuffle(rng, p.Grants)
		for _, g := range p.Grants {
			shuffle(rng, g.Categories)
			shuffle(rng, g.Actions)
		}
		if p.BreakGlass != nil {
			shuffle(rng, p.BreakGlass.AllowedRoles)
		}
	}
}

func shuffle[T any](rng *rand.Rand, s []T) {
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}
