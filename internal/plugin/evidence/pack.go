/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package evidence

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/plugin/accessmatrix"
	"github.com/shcr-io/shcr-operator/internal/plugin/agreements"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
	"github.com/shcr-io/shcr-operator/internal/plugin/regionstate"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// Pack is an evidence pack: facts about the region, then sections of notes
// and tables. Renderers escape every value.
type Pack struct {
	Title       string
	GeneratedAt string
	Facts       []Fact
	Sections    []Section
}

// Fact is one named value in the pack's heading.
type Fact struct {
	Name, Value string
}

// Section is one part of the pack: the register, the record of processing,
// or one IG Framework requirement and what the cluster shows for it.
type Section struct {
	Title string
	// Checkpoint is what an assurance panel checks, for a requirement.
	Checkpoint string
	Notes      []string
	Tables     []Table
}

// Table is a captioned table.
type Table struct {
	Caption string
	Headers []string
	Rows    [][]string
}

// view is what the pack is drawn from.
type view struct {
	region *shcrv1alpha1.ShCRRegion
	state  *regionstate.State
	// enforced is the bundle the operator stored for the gateway or, when
	// none could be read (storedErr), the bundle compiled from the objects.
	enforced  policy.Bundle
	storedErr error
	// storedRevision and compiledRevision are the revisions of the stored
	// bundle and of the bundle compiled from the objects now.
	storedRevision, compiledRevision string
	// access is the access matrix of the enforced bundle at now.
	access []accessmatrix.Cell
	now    time.Time
}

// build assembles the pack.
func (v *view) build() Pack {
	sections := []Section{v.register(), v.processing()}
	sections = append(sections, v.requirements()...)
	sections = append(sections, v.assuranceSections()...)
	return Pack{
		Title:       fmt.Sprintf("IG evidence pack: %s (region %s)", v.region.Spec.DisplayName, v.region.Name),
		GeneratedAt: cli.FormatTime(v.now),
		Facts: []Fact{
			{"Region", v.region.Name},
			{"Namespace", v.state.Namespace},
			{"Integrated Care Board", cli.OrNone(v.region.Spec.ICBCode)},
			{"Members", strconv.Itoa(len(v.state.Members))},
			{"Agreement versions", strconv.Itoa(len(v.state.Agreements))},
			{"Access policies", strconv.Itoa(len(v.state.Policies))},
			{"Enforced policy bundle", v.bundleFact()},
		},
		Sections: sections,
	}
}

func (v *view) bundleFact() string {
	if v.storedErr != nil {
		return "not readable: " + v.storedErr.Error()
	}
	return fmt.Sprintf("revision %s, %d grants", v.storedRevision, len(v.enforced.Grants))
}

func (v *view) register() Section {
	t := Table{Headers: []string{"Agreement", "Version", "Title", "Parties", "Categories", "Phase", "Window", "Review", "Terms hash"}}
	for i := range v.state.Agreements {
		e := agreements.NewEntry(&v.state.Agreements[i])
		t.Rows = append(t.Rows, []string{e.AgreementID, strconv.Itoa(int(e.Version)), e.Title, e.PartyList(),
			cli.List(e.Categories), cli.OrNone(e.Phase), e.Window(), e.Review(), cli.OrNone(e.TermsHash)})
	}
	return Section{
		Title: "Agreement register",
		Notes: []string{"Every version of every data sharing agreement held in " + v.state.Namespace +
			"; each version is its own object, and its signed terms cannot change."},
		Tables: []Table{t},
	}
}

func (v *view) processing() Section {
	t := Table{Headers: []string{"Agreement", "Controllers", "Purpose", "Article 6", "Article 9", "Categories",
		"Recipients", "Retention", "DPIA"}}
	for i := range v.state.Agreements {
		a := &v.state.Agreements[i]
		terms := a.Spec.Terms
		t.Rows = append(t.Rows, []string{
			versionName(a), cli.List(v.parties(a, controllerParty)), purpose(&terms),
			terms.LawfulBasis.Article6, terms.LawfulBasis.Article9, cli.List(terms.DataCategories),
			cli.List(v.parties(a, v.consumerParty)), fmt.Sprintf("%d days", terms.RetentionDays), terms.DPIAReference,
		})
	}
	return Section{
		Title: "Record of processing",
		Notes: []string{
			"One row per agreement version. Every category is health or care data, special category under UK GDPR Article 9.",
			"Recipients are the parties whose staff may view records (members with the Consumer role).",
		},
		Tables: []Table{t},
	}
}

func (v *view) parties(a *shcrv1alpha1.DataSharingAgreement, keep func(shcrv1alpha1.Party) bool) []string {
	var out []string
	for _, p := range a.Spec.Terms.Parties {
		if keep(p) {
			out = append(out, p.ODSCode)
		}
	}
	return out
}

func controllerParty(p shcrv1alpha1.Party) bool { return governance.IsController(p.Role) }

func (v *view) consumerParty(p shcrv1alpha1.Party) bool {
	m, ok := v.state.Member(p.ODSCode)
	return ok && slices.Contains(m.Spec.Roles, shcrv1alpha1.RoleConsumer)
}

func versionName(a *shcrv1alpha1.DataSharingAgreement) string {
	return fmt.Sprintf("%s v%d", a.Spec.AgreementID, a.Spec.Version)
}

func purpose(t *shcrv1alpha1.AgreementTerms) string {
	if t.Purpose == shcrv1alpha1.PurposeOther {
		return "Other: " + t.LawfulBasis.OtherPurpose
	}
	return string(shcrv1alpha1.PurposeDirectCare)
}

// condition writes a condition as "Status (Reason)", or "not reported".
func condition(conditions []metav1.Condition, conditionType string) string {
	c := meta.FindStatusCondition(conditions, conditionType)
	if c == nil {
		return "not reported"
	}
	return fmt.Sprintf("%s (%s)", c.Status, c.Reason)
}
