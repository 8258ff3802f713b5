/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package evidence

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/agreements"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/internal/plugin/decisions"
)

// assuranceSections are the IG Framework gate (the panel, its assurance of
// each requirement as the operator counts it, and the checkpoints the
// operator computes beside them) and the region's decision log.
func (v *view) assuranceSections() []Section {
	return []Section{v.assurance(), v.decisionLog()}
}

func (v *view) assurance() Section {
	r := v.region
	notes := []string{"The region shares nothing until its independent assurance panel has assured every requirement of the IG Framework, " +
		"from the latest assurance to the earliest review date (docs/assurance.md)."}
	if c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionAssured); c != nil {
		notes = append(notes, "Assured: "+string(c.Status)+" ("+c.Reason+"): "+c.Message)
	} else {
		notes = append(notes, "Assured: the operator has not reported the region's assurance yet")
	}
	var panel []string
	for _, s := range r.Spec.Assurance.Panel {
		panel = append(panel, s.Kind+" "+s.Name)
	}
	notes = append(notes, "Assurance panel: "+cli.OrNone(strings.Join(panel, ", ")))
	records := Table{Caption: "The panel's assurance of each requirement",
		Headers: []string{"Requirement", "Recorded", "Counted now", "Assured at", "Review date", "Evidence", "Rationale", "Recorded by"}}
	counted := map[shcrv1alpha1.IGRequirement]shcrv1alpha1.RequirementAssuranceState{}
	if st := r.Status.Assurance; st != nil {
		for _, s := range st.Requirements {
			counted[s.Requirement] = s
		}
	}
	for _, req := range shcrv1alpha1.IGRequirements {
		state := counted[req]
		now := string(state.Status)
		if state.Message != "" {
			now += ": " + state.Message
		}
		row := []string{string(req), cli.None, cli.OrNone(now), cli.None, cli.None, cli.None, cli.None, cli.None}
		for _, rec := range r.Spec.Assurance.Requirements {
			if rec.Requirement == req {
				row = []string{string(req), string(rec.Status), cli.OrNone(now), cli.FormatTime(rec.AssuredAt.Time), cli.FormatTime(rec.ReviewDate.Time),
					rec.EvidenceReference, agreements.RationaleText(&rec.Rationale), cli.OrNone(rec.AssuredBy)}
			}
		}
		records.Rows = append(records.Rows, row)
	}
	checkpoints := Table{Caption: "Checkpoints the operator computes from the cluster",
		Headers: []string{"Checkpoint", "Requirement", "Status", "What was found"}}
	if st := r.Status.Assurance; st != nil {
		for _, c := range st.Checkpoints {
			status := "not met"
			if c.Met {
				status = "met"
			}
			checkpoints.Rows = append(checkpoints.Rows, []string{c.Name, string(c.Requirement), status, c.Message})
		}
	}
	return Section{Title: "IG Framework assurance", Notes: notes, Tables: []Table{records, checkpoints}}
}

func (v *view) decisionLog() Section {
	l := decisions.Build(v.region, v.state.Agreements)
	t := Table{Headers: []string{"When", "Kind", "Subject", "Outcome", "By", "Evidence", "Rationale"}}
	for _, d := range l.Decisions {
		t.Rows = append(t.Rows, []string{cli.FormatTime(d.When), d.Kind, d.Subject, d.Outcome, d.By, cli.OrNone(d.Evidence), cli.OrNone(d.Rationale)})
	}
	return Section{
		Title:  "Decision log",
		Notes:  []string{"Every assurance, agreement version and approval, oldest first, with its rationale and the minutes or paper that record it (kubectl shcr decisions)."},
		Tables: []Table{t},
	}
}
