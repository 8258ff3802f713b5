/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package evidence

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
)

// public builds the region's public transparency page: who shares, what,
// why, under which law and agreements, whether the IG Framework's gate is
// assured, and how a person can object and where to ask. It is built only
// from organisational facts: no person's name, email, Kubernetes identity,
// or any patient identifier is read into it (no signatories, no
// recordedBy/assuredBy, no DPO or Caldicott Guardian contact, no objection
// register).
func (v *view) public() Pack {
	return withheld(v.publicPack())
}

// tenDigits is anything that could be an NHS number: ten digits, grouped
// 3-3-4 or not. Free text (an organisation's name, an agreement's title)
// could carry one by mistake; the public page never shows it.
var tenDigits = regexp.MustCompile(`\d{3}[ -]?\d{3}[ -]?\d{4}`)

// withheld replaces every run of digits that could be an NHS number in the
// page.
func withheld(p Pack) Pack {
	scrub := func(s string) string { return tenDigits.ReplaceAllString(s, "[number withheld]") }
	p.Title = scrub(p.Title)
	for i := range p.Facts {
		p.Facts[i].Value = scrub(p.Facts[i].Value)
	}
	for i := range p.Sections {
		sec := &p.Sections[i]
		sec.Title = scrub(sec.Title)
		for j := range sec.Notes {
			sec.Notes[j] = scrub(sec.Notes[j])
		}
		for j := range sec.Tables {
			for _, row := range sec.Tables[j].Rows {
				for k := range row {
					row[k] = scrub(row[k])
				}
			}
		}
	}
	return p
}

func (v *view) publicPack() Pack {
	r := v.region
	return Pack{
		Title:       fmt.Sprintf("How %s shares your health and care records", r.Spec.DisplayName),
		GeneratedAt: cli.FormatTime(v.now),
		Facts: []Fact{
			{"Shared care record", r.Spec.DisplayName},
			{"Integrated Care Board", cli.OrNone(r.Spec.ICBCode)},
			{"Member organisations", fmt.Sprint(len(v.state.Members))},
			{"IG Framework assurance", publicAssurance(r)},
		},
		Sections: []Section{v.publicMembers(), v.publicAgreements(), publicRights(v.state.Members)},
	}
}

func publicAssurance(r *shcrv1alpha1.ShCRRegion) string {
	c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionAssured)
	switch {
	case c == nil || r.Status.Assurance == nil:
		return "not yet assured: no records are shared"
	case r.Status.Assurance.Assured && r.Status.Assurance.Until != nil:
		return "every requirement of the NHS England IG Framework for Shared Care Records is assured by the region's independent assurance panel, until " +
			cli.FormatDate(r.Status.Assurance.Until.Time)
	default:
		return "not assured at present: no records are shared until the independent assurance panel has assured every requirement"
	}
}

func (v *view) publicMembers() Section {
	t := Table{Headers: []string{"Organisation", "Type", "ODS code", "Shares records"}}
	for _, m := range v.state.Members {
		shares := "no"
		if meta.IsStatusConditionTrue(m.Status.Conditions, shcrv1alpha1.ConditionAdmitted) {
			shares = "yes"
		}
		t.Rows = append(t.Rows, []string{m.Spec.Name, string(m.Spec.Type), m.Spec.ODSCode, shares})
	}
	return Section{
		Title:  "Who takes part",
		Notes:  []string{"These organisations are members of the shared care record. Each remains the controller of the records it holds."},
		Tables: []Table{t},
	}
}

func (v *view) publicAgreements() Section {
	t := Table{Headers: []string{"Agreement", "Purpose", "Records shared", "Lawful basis (UK GDPR)", "In force from", "Until", "Status"}}
	for i := range v.state.Agreements {
		a := &v.state.Agreements[i]
		if a.Status.Phase != shcrv1alpha1.PhaseActive && a.Status.Phase != shcrv1alpha1.PhasePending {
			continue
		}
		terms := a.Spec.Terms
		t.Rows = append(t.Rows, []string{
			fmt.Sprintf("%s (%s version %d)", a.Spec.Title, a.Spec.AgreementID, a.Spec.Version), publicPurpose(&terms),
			list(terms.DataCategories), "Article " + terms.LawfulBasis.Article6 + " and Article " + terms.LawfulBasis.Article9,
			cli.FormatDate(terms.EffectiveFrom.Time), cli.FormatDate(terms.EndsOn.Time), string(a.Status.Phase),
		})
	}
	return Section{
		Title: "What is shared, why, and under which agreements",
		Notes: []string{
			"Records are shared only for your individual (direct) care, only with staff whose role needs them, and every access is recorded.",
			"Only the agreements in force or about to take effect are listed.",
		},
		Tables: []Table{t},
	}
}

func publicPurpose(t *shcrv1alpha1.AgreementTerms) string {
	if t.Purpose == shcrv1alpha1.PurposeDirectCare || t.Purpose == "" {
		return "your individual care"
	}
	return "another purpose, with its own lawful basis"
}

func publicRights(members []shcrv1alpha1.MemberOrganisation) Section {
	var orgs []string
	for _, m := range members {
		orgs = append(orgs, m.Spec.Name)
	}
	slices.Sort(orgs)
	return Section{
		Title: "Your right to object, and where to ask",
		Notes: []string{
			"You can object to your records being shared through the shared care record (UK GDPR Article 21). Tell any member organisation that cares for you; " +
				"once your objection is upheld, records are no longer shown to staff of other organisations.",
			"To ask about how your records are used, or to make a request about your data, contact the data protection officer of any member organisation: " +
				strings.Join(orgs, ", ") + ".",
			"You can also complain to the Information Commissioner's Office (ico.org.uk).",
		},
	}
}
