/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package accessmatrix

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/shcr-io/shcr-operator/internal/policy"
)

// reasonNoProvider explains a denied cell in a region without providers.
const reasonNoProvider = "no provider organisation is a member of the region"

// Axes are what a matrix is computed over: the organisations whose staff
// read, the roles, the categories, and the organisations the records come
// from.
type Axes struct {
	// Organisations are the ODS codes of the members, of the region and of
	// its peers, with the Consumer role.
	Organisations []string
	// Roles are every role an AccessPolicy names.
	Roles []string
	// Categories are every data category.
	Categories []string
	// Sources are the ODS codes of the members with the Provider role.
	Sources []string
}

// AxesOf gives the axes of a region's compiler input.
func AxesOf(in policy.Input) Axes {
	axes := Axes{Categories: slices.Clone(policy.Categories)}
	for _, m := range in.Members {
		if m.Consumer {
			axes.Organisations = append(axes.Organisations, m.ODSCode)
		}
		if m.Provider {
			axes.Sources = append(axes.Sources, m.ODSCode)
		}
	}
	for _, p := range in.Policies {
		axes.Roles = append(axes.Roles, p.Roles...)
	}
	return axes.normalised()
}

// Merge is the union of two axes.
func (a Axes) Merge(b Axes) Axes {
	return Axes{
		Organisations: append(slices.Clone(a.Organisations), b.Organisations...),
		Roles:         append(slices.Clone(a.Roles), b.Roles...),
		Categories:    append(slices.Clone(a.Categories), b.Categories...),
		Sources:       append(slices.Clone(a.Sources), b.Sources...),
	}.normalised()
}

func (a Axes) normalised() Axes {
	for _, values := range []*[]string{&a.Organisations, &a.Roles, &a.Categories, &a.Sources} {
		slices.Sort(*values)
		*values = slices.Compact(*values)
	}
	return a
}

// Cell says whether staff of one organisation holding one role may read one
// category of records, and from which sources under which grants.
type Cell struct {
	Organisation string `json:"organisation"`
	Role         string `json:"role"`
	Category     string `json:"category"`
	// Allowed is true when at least one source's records of the category
	// may be read.
	Allowed bool `json:"allowed"`
	// Grants say which agreement version and policy allow reading from
	// which sources.
	Grants []Basis `json:"grants,omitempty"`
	// Reason explains a denial: the gateway's reason for the first source.
	Reason string `json:"reason,omitempty"`
}

// Basis is one agreement version and policy under which some sources'
// records may be read, and when that grant is in force.
type Basis struct {
	Agreement        string    `json:"agreement"`
	AgreementVersion int32     `json:"agreementVersion"`
	Policy           string    `json:"policy"`
	Sources          []string  `json:"sources"`
	ValidFrom        time.Time `json:"validFrom"`
	ValidUntil       time.Time `json:"validUntil"`
}

// Evaluate decides every cell of the axes at one instant against a bundle,
// as the gateway would decide a read: purpose of use TREAT, a legitimate
// relationship asserted, no sensitive security labels, no break-glass.
func Evaluate(b policy.Bundle, axes Axes, at time.Time) []Cell {
	decider := policy.NewDecider(b)
	windows := Windows(b)
	cells := make([]Cell, 0, len(axes.Organisations)*len(axes.Roles)*len(axes.Categories))
	for _, org := range axes.Organisations {
		for _, role := range axes.Roles {
			for _, category := range axes.Categories {
				cell := Cell{Organisation: org, Role: role, Category: category}
				cells = append(cells, cell.evaluate(decider, windows, axes.Sources, at))
			}
		}
	}
	return cells
}

// readRequest is the request the matrix decides for a cell and a source.
func readRequest(org, role, category, source string) policy.Request {
	return policy.Request{
		CallerODS: org, Role: role, PurposeOfUse: policy.PurposeTreat, LegitimateRelationship: true,
		Action: policy.ActionRead, Category: category, SourceODS: source,
	}
}

func (c Cell) evaluate(decider *policy.Decider, windows map[policy.AgreementKey]policy.Window, sources []string, at time.Time) Cell {
	for _, source := range sources {
		d := decider.Decide(readRequest(c.Organisation, c.Role, c.Category, source), at)
		switch {
		case d.Allow:
			c.addGrant(d, source, windows[policy.AgreementKey{ID: d.Agreement, Version: d.AgreementVersion}])
		case c.Reason == "":
			c.Reason = strings.Join(d.Reasons(), "; ")
		}
	}
	c.Allowed = len(c.Grants) > 0
	switch {
	case c.Allowed:
		c.Reason = ""
	case len(sources) == 0:
		c.Reason = reasonNoProvider
	}
	return c
}

// addGrant records that source may be read under the decision's grant.
func (c *Cell) addGrant(d policy.Decision, source string, w policy.Window) {
	for i := range c.Grants {
		g := &c.Grants[i]
		if g.Agreement == d.Agreement && g.AgreementVersion == d.AgreementVersion && g.Policy == d.Policy {
			g.Sources = append(g.Sources, source)
			return
		}
	}
	c.Grants = append(c.Grants, Basis{
		Agreement: d.Agreement, AgreementVersion: d.AgreementVersion, Policy: d.Policy,
		Sources: []string{source}, ValidFrom: w.From, ValidUntil: w.Until,
	})
	slices.SortFunc(c.Grants, compareBasis)
}

func compareBasis(x, y Basis) int {
	return cmp.Or(cmp.Compare(x.Agreement, y.Agreement), cmp.Compare(x.AgreementVersion, y.AgreementVersion), cmp.Compare(x.Policy, y.Policy))
}

// Windows gives the window of every agreement version in a bundle: every
// grant of one version carries the same window.
func Windows(b policy.Bundle) map[policy.AgreementKey]policy.Window {
	out := map[policy.AgreementKey]policy.Window{}
	for _, g := range b.Grants {
		out[policy.AgreementKey{ID: g.Agreement, Version: g.AgreementVersion}] = policy.Window{From: g.ValidFrom, Until: g.ValidUntil}
	}
	return out
}
