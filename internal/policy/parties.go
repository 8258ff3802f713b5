/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"cmp"
	"slices"
)

// The reasons a party to an agreement grants and receives nothing.
const (
	ReasonNotMember       = "not a member of the region"
	ReasonNotAdmitted     = "not admitted (DSPT, suspension or credentials)"
	ReasonDuplicateMember = "listed as a member more than once"
)

// PartyState says whether one party to an agreement takes part in sharing.
type PartyState struct {
	ODSCode string
	// Role is the party's role in the agreement: Controller,
	// JointController or Processor.
	Role string
	// Effective is true when the party is an admitted member of the region,
	// or of the peer region of a cross-region agreement.
	Effective bool
	// Reason explains, when not Effective, why not.
	Reason string
}

// EffectiveParties gives the state of every party to an agreement, sorted by
// ODS code. A party counts only when it is an admitted member of region or,
// for a cross-region agreement, of its peer region. The other parties go on
// sharing without it.
func EffectiveParties(a Agreement, members []Member, region string) []PartyState {
	return effectiveParties(a, indexMembers(members), region)
}

// memberIndex finds members by ODS code. A code listed more than once maps
// to nothing and is reported as ambiguous (fail closed).
type memberIndex struct {
	byODS      map[string]Member
	duplicated map[string]bool
}

func indexMembers(members []Member) memberIndex {
	idx := memberIndex{byODS: make(map[string]Member, len(members)), duplicated: map[string]bool{}}
	for _, m := range members {
		if _, seen := idx.byODS[m.ODSCode]; seen {
			idx.duplicated[m.ODSCode] = true
		}
		idx.byODS[m.ODSCode] = m
	}
	for ods := range idx.duplicated {
		delete(idx.byODS, ods)
	}
	return idx
}

func effectiveParties(a Agreement, members memberIndex, region string) []PartyState {
	out := make([]PartyState, 0, len(a.Parties))
	for _, p := range a.Parties {
		state := PartyState{ODSCode: p.ODSCode, Role: p.Role}
		state.Reason = members.exclusion(p.ODSCode, a, region)
		state.Effective = state.Reason == ""
		out = append(out, state)
	}
	slices.SortFunc(out, comparePartyStates)
	return slices.Compact(out)
}

// exclusion is why an organisation takes no part in an agreement, or ""
// when it does.
func (idx memberIndex) exclusion(ods string, a Agreement, region string) string {
	if idx.duplicated[ods] {
		return ReasonDuplicateMember
	}
	m, ok := idx.byODS[ods]
	switch {
	case !ok || !memberOfAgreementRegion(m, a, region):
		return ReasonNotMember
	case !m.Admitted:
		return ReasonNotAdmitted
	default:
		return ""
	}
}

func memberOfAgreementRegion(m Member, a Agreement, region string) bool {
	return m.Region == region || (a.CrossRegion && a.PeerRegion != "" && m.Region == a.PeerRegion)
}

func comparePartyStates(x, y PartyState) int {
	return cmp.Or(cmp.Compare(x.ODSCode, y.ODSCode), cmp.Compare(x.Role, y.Role))
}
