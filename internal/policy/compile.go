/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package policy

import (
	"cmp"
	"slices"
	"time"
)

// The actions a grant may allow.
const (
	ActionRead   = "read"
	ActionSearch = "search"
)

// The HL7 PurposeOfUse codes a grant may allow.
const (
	PurposeTreat          = "TREAT"
	PurposeEmergencyTreat = "ETREAT"
)

// The sensitive-data modes, from the most to the least restrictive.
const (
	SensitiveExclude        = "Exclude"
	SensitiveBreakGlassOnly = "BreakGlassOnly"
	SensitiveAllow          = "Allow"
)

// RoleAdmin is the national RBAC admin access role, which never gets
// clinical data.
const RoleAdmin = "R8008"

// MaxBreakGlassDuration is the longest a break-glass override may last; a
// policy asking for more gets no break-glass.
const MaxBreakGlassDuration = 24 * time.Hour

// Compile turns a region's inputs into its bundle. Each grant of each policy
// is intersected with every version of its agreement that is ever in force
// (see Windows), with the parties admitted at compile time (see
// EffectiveParties) and with the region's assurance window: a region that
// is not assured gets no grants at all. A cross-region agreement is cut to
// its peer region's assurance window as well (see Input.PeerAssurance), so
// Journey 2 shares only while both regions are assured. Anything unknown, invalid or empty
// grants nothing. The same input, in any order, gives a byte-identical
// encoded bundle.
func Compile(in Input) Bundle {
	gate := normalAssurance(in.Assurance)
	grants := []Grant{}
	if gate.Assured {
		versions := agreementsInForce(in)
		for _, p := range in.Policies {
			for _, v := range versions[p.AgreementID] {
				peer, ok := peerGate(in, v.Agreement)
				if !ok {
					continue
				}
				grants = append(grants, assuredGrants(assuredGrants(policyGrants(p, v), gate), peer)...)
			}
		}
	}
	slices.SortFunc(grants, compareGrants)
	grants = slices.CompactFunc(grants, func(x, y Grant) bool { return compareGrants(x, y) == 0 })
	return Bundle{Version: BundleVersion, Region: in.Region, Grants: grants, Assurance: gate}
}

// normalAssurance gives the gate in UTC; an assured gate with an empty
// window, or one that is not assured, is not assured, with a reason.
func normalAssurance(a Assurance) Assurance {
	a.From, a.Until = a.From.UTC(), a.Until.UTC()
	switch {
	case !a.Assured && a.Reason == "":
		return Assurance{Reason: "region not assured: no assurance of the IG Framework's requirements is recorded"}
	case !a.Assured:
		return Assurance{Reason: a.Reason}
	case !a.From.Before(a.Until):
		return Assurance{Reason: "region not assured: the assurance window is empty (review date not after the last assurance)"}
	}
	a.Reason = ""
	return a
}

// peerGate gives the assurance gate a version's grants are cut to besides
// the region's own: the peer region's for a cross-region agreement, an
// unbounded one otherwise. It reports false when the version may grant
// nothing: its peer region's assurance is unknown, or it is not assured.
func peerGate(in Input, a Agreement) (Assurance, bool) {
	if !a.CrossRegion {
		return Assurance{Assured: true, From: time.Time{}, Until: maxTime}, true
	}
	gate, known := in.PeerAssurance[a.PeerRegion]
	if !known || a.PeerRegion == "" {
		return Assurance{}, false
	}
	gate = normalAssurance(gate)
	return gate, gate.Assured
}

// maxTime is later than any grant's end.
var maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// assuredGrants cuts each grant's window to the assurance window and drops
// the grants left with none.
func assuredGrants(grants []Grant, gate Assurance) []Grant {
	out := grants[:0]
	for _, g := range grants {
		if gate.From.After(g.ValidFrom) {
			g.ValidFrom = gate.From
		}
		if gate.Until.Before(g.ValidUntil) {
			g.ValidUntil = gate.Until
		}
		if g.ValidFrom.Before(g.ValidUntil) {
			out = append(out, g)
		}
	}
	return out
}

// ExplainScope splits the categories a policy asks for into those the
// agreement covers (kept) and those it does not, or that are unknown
// (dropped). Both are sorted.
func ExplainScope(policy Policy, agreement Agreement) (kept, dropped []string) {
	for _, category := range policyCategories(policy) {
		if isCategory(category) && slices.Contains(agreement.Categories, category) {
			kept = append(kept, category)
		} else {
			dropped = append(dropped, category)
		}
	}
	return kept, dropped
}

func policyCategories(p Policy) []string {
	var all []string
	for _, g := range p.Grants {
		all = append(all, g.Categories...)
	}
	return sortedSet(all)
}

// agreementInForce is one agreement version with a non-empty window and the
// organisations that take part in it.
type agreementInForce struct {
	Agreement
	window               Window
	consumers, providers []string
}

func agreementsInForce(in Input) map[string][]agreementInForce {
	windows := Windows(in.Agreements, in.Successors)
	members := indexMembers(in.Members)
	out := map[string][]agreementInForce{}
	for _, a := range in.Agreements {
		w := windows[keyOf(a)]
		if w.Empty() {
			continue
		}
		v := agreementInForce{Agreement: a, window: w}
		v.consumers, v.providers = participants(a, members, in.Region)
		out[a.ID] = append(out[a.ID], v)
	}
	return out
}

// participants are the effective parties of an agreement that may consume
// and that may provide records, each sorted.
func participants(a Agreement, members memberIndex, region string) (consumers, providers []string) {
	for _, party := range effectiveParties(a, members, region) {
		if !party.Effective {
			continue
		}
		m := members.byODS[party.ODSCode]
		if m.Consumer {
			consumers = append(consumers, party.ODSCode)
		}
		if m.Provider {
			providers = append(providers, party.ODSCode)
		}
	}
	return slices.Compact(consumers), slices.Compact(providers)
}

// policyGrants intersects every grant of a policy with one agreement version.
func policyGrants(p Policy, v agreementInForce) []Grant {
	roles := grantableRoles(p.Roles)
	consumers := restrictTo(v.consumers, p.Organisations)
	purposes := grantedPurposes(p.PurposesOfUse)
	if len(roles) == 0 || len(consumers) == 0 || len(v.providers) == 0 || len(purposes) == 0 {
		return nil
	}
	base := Grant{
		Agreement:                     v.ID,
		AgreementVersion:              v.Version,
		Policy:                        p.Name,
		Consumers:                     consumers,
		Providers:                     v.providers,
		Roles:                         roles,
		PurposesOfUse:                 purposes,
		RequireLegitimateRelationship: p.RequireLegitimateRelationship,
		Sensitive:                     stricterSensitive(p.Sensitive, v.Sensitive),
		BreakGlass:                    breakGlassGrant(p.BreakGlass, roles),
		ValidFrom:                     v.window.From,
		ValidUntil:                    v.window.Until,
	}
	var out []Grant
	for _, pg := range p.Grants {
		g := base
		g.Categories = agreedCategories(pg.Categories, v.Categories)
		g.Actions = grantedActions(pg.Actions)
		if len(g.Categories) > 0 && len(g.Actions) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// grantableRoles keeps the well-formed role codes other than RoleAdmin,
// sorted.
func grantableRoles(roles []string) []string {
	var out []string
	for _, r := range roles {
		if isRoleCode(r) && r != RoleAdmin {
			out = append(out, r)
		}
	}
	return sortedSet(out)
}

// isRoleCode reports whether r matches ^R[0-9]{4}$.
func isRoleCode(r string) bool {
	if len(r) != 5 || r[0] != 'R' {
		return false
	}
	for _, c := range []byte(r[1:]) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// restrictTo keeps the values that are in allowed, or all of them when
// allowed is empty (a policy naming no organisation names every party).
func restrictTo(values, allowed []string) []string {
	if len(allowed) == 0 {
		return values
	}
	return intersect(values, allowed)
}

// intersect keeps the values that are in allowed, in their order.
func intersect(values, allowed []string) []string {
	var out []string
	for _, v := range values {
		if slices.Contains(allowed, v) {
			out = append(out, v)
		}
	}
	return out
}

// agreedCategories keeps the known categories asked for that the agreement
// covers, sorted.
func agreedCategories(asked, agreed []string) []string {
	out := sortedSet(intersect(asked, agreed))
	return slices.DeleteFunc(out, func(c string) bool { return !isCategory(c) })
}

// grantedPurposes keeps TREAT and ETREAT, sorted; none means TREAT.
func grantedPurposes(purposes []string) []string {
	if len(purposes) == 0 {
		return []string{PurposeTreat}
	}
	return sortedSet(intersect(purposes, []string{PurposeEmergencyTreat, PurposeTreat}))
}

// grantedActions keeps read and search, sorted; none means both.
func grantedActions(actions []string) []string {
	if len(actions) == 0 {
		return []string{ActionRead, ActionSearch}
	}
	return sortedSet(intersect(actions, []string{ActionRead, ActionSearch}))
}

// sortedSet sorts values in place and removes duplicates.
func sortedSet(values []string) []string {
	slices.Sort(values)
	return slices.Compact(values)
}

// sensitiveRank orders the modes from the most restrictive; an empty or
// unknown mode is Exclude.
func sensitiveRank(mode string) int {
	switch mode {
	case SensitiveAllow:
		return 2
	case SensitiveBreakGlassOnly:
		return 1
	default:
		return 0
	}
}

func stricterSensitive(policy, agreement string) string {
	modes := [...]string{SensitiveExclude, SensitiveBreakGlassOnly, SensitiveAllow}
	return modes[min(sensitiveRank(policy), sensitiveRank(agreement))]
}

// breakGlassGrant compiles a policy's override: the allowed roles that the
// policy also grants, for a whole number of seconds up to
// MaxBreakGlassDuration. Anything less gives no override.
func breakGlassGrant(bg *BreakGlass, granted []string) *GrantBreakGlass {
	if bg == nil || bg.MaxDuration > MaxBreakGlassDuration {
		return nil
	}
	roles := intersect(grantableRoles(bg.AllowedRoles), granted)
	seconds := int64(bg.MaxDuration / time.Second)
	if len(roles) == 0 || seconds < 1 {
		return nil
	}
	return &GrantBreakGlass{Roles: roles, MaxDurationSeconds: seconds}
}

// compareGrants is a total order on grants, so that sorting is
// deterministic whatever the input order.
func compareGrants(x, y Grant) int {
	return cmp.Or(
		cmp.Compare(x.Agreement, y.Agreement),
		cmp.Compare(x.AgreementVersion, y.AgreementVersion),
		cmp.Compare(x.Policy, y.Policy),
		slices.Compare(x.Categories, y.Categories),
		slices.Compare(x.Actions, y.Actions),
		slices.Compare(x.Consumers, y.Consumers),
		slices.Compare(x.Providers, y.Providers),
		slices.Compare(x.Roles, y.Roles),
		slices.Compare(x.PurposesOfUse, y.PurposesOfUse),
		compareBool(x.RequireLegitimateRelationship, y.RequireLegitimateRelationship),
		cmp.Compare(x.Sensitive, y.Sensitive),
		compareBreakGlass(x.BreakGlass, y.BreakGlass),
		x.ValidFrom.Compare(y.ValidFrom),
		x.ValidUntil.Compare(y.ValidUntil),
	)
}

func compareBool(x, y bool) int {
	switch {
	case x == y:
		return 0
	case x:
		return 1
	default:
		return -1
	}
}

func compareBreakGlass(x, y *GrantBreakGlass) int {
	switch {
	case x == nil || y == nil:
		return compareBool(x != nil, y != nil)
	default:
		return cmp.Or(slices.Compare(x.Roles, y.Roles), cmp.Compare(x.MaxDurationSeconds, y.MaxDurationSeconds))
	}
}
