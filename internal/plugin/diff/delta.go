/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package diff

import (
	"cmp"
	"slices"
	"time"

	"github.com/shcr-io/shcr-operator/internal/plugin/accessmatrix"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// The kinds of change.
const (
	Gains = "gains"
	Loses = "loses"
)

// Change is access that staff of one organisation in one role gain or lose
// to one category of the records of some sources, under one agreement
// version and policy, from an instant on.
type Change struct {
	Change           string    `json:"change"`
	Organisation     string    `json:"organisation"`
	Role             string    `json:"role"`
	Category         string    `json:"category"`
	Sources          []string  `json:"sources"`
	Agreement        string    `json:"agreement"`
	AgreementVersion int32     `json:"agreementVersion"`
	Policy           string    `json:"policy"`
	From             time.Time `json:"from"`
}

// access is one organisation's staff in one role reading one category from
// one source.
type access struct {
	organisation, role, category, source string
}

type seenKey struct {
	change string
	access
}

// compare decides every access the axes hold against both bundles, at at
// and at every later instant a grant of either bundle starts or ends, and
// reports each access gained or lost at the first instant it differs.
func compare(base, proposed policy.Bundle, axes accessmatrix.Axes, at time.Time) []Change {
	seen := map[seenKey]bool{}
	var changes []Change
	for _, instant := range instants(at, base, proposed) {
		before := allowed(accessmatrix.Evaluate(base, axes, instant))
		after := allowed(accessmatrix.Evaluate(proposed, axes, instant))
		changes = appendChanges(changes, seen, Gains, after, before, instant)
		changes = appendChanges(changes, seen, Loses, before, after, instant)
	}
	return grouped(changes)
}

// instants are at and every later start and end of a grant, sorted.
func instants(at time.Time, bundles ...policy.Bundle) []time.Time {
	out := []time.Time{at}
	for _, b := range bundles {
		for _, g := range b.Grants {
			for _, t := range []time.Time{g.ValidFrom, g.ValidUntil} {
				if t.After(at) {
					out = append(out, t)
				}
			}
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return slices.CompactFunc(out, time.Time.Equal)
}

// allowed maps every allowed access to the grant that allows it.
func allowed(cells []accessmatrix.Cell) map[access]accessmatrix.Basis {
	out := map[access]accessmatrix.Basis{}
	for _, c := range cells {
		for _, g := range c.Grants {
			for _, source := range g.Sources {
				out[access{organisation: c.Organisation, role: c.Role, category: c.Category, source: source}] = g
			}
		}
	}
	return out
}

// appendChanges adds a change of kind for every access in have that is
// missing from lack, unless it was reported at an earlier instant.
func appendChanges(changes []Change, seen map[seenKey]bool, kind string, have, lack map[access]accessmatrix.Basis, at time.Time) []Change {
	for a, g := range have {
		if _, both := lack[a]; both || seen[seenKey{kind, a}] {
			continue
		}
		seen[seenKey{kind, a}] = true
		changes = append(changes, Change{
			Change: kind, Organisation: a.organisation, Role: a.role, Category: a.category, Sources: []string{a.source},
			Agreement: g.Agreement, AgreementVersion: g.AgreementVersion, Policy: g.Policy, From: at,
		})
	}
	return changes
}

// grouped sorts changes and merges those that differ only in their source.
func grouped(changes []Change) []Change {
	slices.SortFunc(changes, func(x, y Change) int {
		return cmp.Or(compareGroup(x, y), cmp.Compare(x.Sources[0], y.Sources[0]))
	})
	out := make([]Change, 0, len(changes))
	for _, c := range changes {
		if n := len(out); n > 0 && compareGroup(out[n-1], c) == 0 {
			out[n-1].Sources = append(out[n-1].Sources, c.Sources...)
			continue
		}
		out = append(out, c)
	}
	return out
}

func compareGroup(x, y Change) int {
	return cmp.Or(
		cmp.Compare(x.Change, y.Change), x.From.Compare(y.From),
		cmp.Compare(x.Organisation, y.Organisation), cmp.Compare(x.Role, y.Role), cmp.Compare(x.Category, y.Category),
		cmp.Compare(x.Agreement, y.Agreement), cmp.Compare(x.AgreementVersion, y.AgreementVersion), cmp.Compare(x.Policy, y.Policy),
	)
}
