/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package history

import (
	"maps"
	"slices"
	"strconv"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
)

// Change is one difference between the terms of two versions: a value added
// (From empty), removed (To empty) or changed.
type Change struct {
	Field string `json:"field"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
}

// String writes the change for people: "dataCategories: removed TestResults".
func (c Change) String() string {
	switch {
	case c.From == "":
		return c.Field + ": added " + c.To
	case c.To == "":
		return c.Field + ": removed " + c.From
	default:
		return c.Field + ": " + c.From + " → " + c.To
	}
}

// DiffTerms compares the terms of two versions field by field: parties
// added, removed or given another role, categories added or removed, and
// every other term that changed.
func DiffTerms(old, cur *shcrv1alpha1.AgreementTerms) []Change {
	changes := diffParties(old.Parties, cur.Parties)
	changes = append(changes, diffSet("dataCategories", old.DataCategories, cur.DataCategories)...)
	for _, s := range []struct{ field, old, cur string }{
		{"purpose", string(old.Purpose), string(cur.Purpose)},
		{"lawfulBasis.article6", old.LawfulBasis.Article6, cur.LawfulBasis.Article6},
		{"lawfulBasis.article9", old.LawfulBasis.Article9, cur.LawfulBasis.Article9},
		{"lawfulBasis.otherPurpose", old.LawfulBasis.OtherPurpose, cur.LawfulBasis.OtherPurpose},
		{"sensitiveData", string(old.SensitiveData), string(cur.SensitiveData)},
		{"retentionDays", strconv.Itoa(int(old.RetentionDays)), strconv.Itoa(int(cur.RetentionDays))},
		{"effectiveFrom", cli.FormatTime(old.EffectiveFrom.Time), cli.FormatTime(cur.EffectiveFrom.Time)},
		{"endsOn", cli.FormatTime(old.EndsOn.Time), cli.FormatTime(cur.EndsOn.Time)},
		{"reviewDate", reviewDate(old), reviewDate(cur)},
		{"dpiaReference", old.DPIAReference, cur.DPIAReference},
		{"journey", string(old.Journey), string(cur.Journey)},
		{"peerRegion", old.PeerRegion, cur.PeerRegion},
	} {
		if s.old != s.cur {
			changes = append(changes, Change{Field: s.field, From: s.old, To: s.cur})
		}
	}
	return changes
}

// diffParties reports parties added and removed, and parties whose role
// changed, in ODS code order.
func diffParties(old, cur []shcrv1alpha1.Party) []Change {
	before, after := partyRoles(old), partyRoles(cur)
	var changes []Change
	for _, ods := range slices.Sorted(maps.Keys(before)) {
		role, kept := after[ods]
		switch {
		case !kept:
			changes = append(changes, Change{Field: "parties", From: ods + " (" + before[ods] + ")"})
		case role != before[ods]:
			changes = append(changes, Change{Field: "parties[" + ods + "].role", From: before[ods], To: role})
		}
	}
	for _, ods := range slices.Sorted(maps.Keys(after)) {
		if _, existed := before[ods]; !existed {
			changes = append(changes, Change{Field: "parties", To: ods + " (" + after[ods] + ")"})
		}
	}
	return changes
}

func partyRoles(parties []shcrv1alpha1.Party) map[string]string {
	roles := make(map[string]string, len(parties))
	for _, p := range parties {
		roles[p.ODSCode] = string(p.Role)
	}
	return roles
}

// diffSet reports the values removed from and added to a set.
func diffSet[S ~string](field string, old, cur []S) []Change {
	var changes []Change
	for _, v := range sortedStrings(old) {
		if !slices.Contains(cur, S(v)) {
			changes = append(changes, Change{Field: field, From: v})
		}
	}
	for _, v := range sortedStrings(cur) {
		if !slices.Contains(old, S(v)) {
			changes = append(changes, Change{Field: field, To: v})
		}
	}
	return changes
}

func sortedStrings[S ~string](values []S) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func reviewDate(t *shcrv1alpha1.AgreementTerms) string {
	if t.ReviewDate == nil {
		return ""
	}
	return cli.FormatTime(t.ReviewDate.Time)
}
