/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package evidence

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
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
	// windows are when each agreement version is (or was) in force, as the
	// policy compiler computes them: cut short by a successor.
	windows map[policy.AgreementKey]policy.Window
	now     time.Time
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
	t := Table{Headers: []string{"Agreement", "Version", "Title", "Parties", "Categories", "Phase", "Signed window", "In force", "Review", "Terms hash"}}
	for i := range v.state.Agreements {
		a := &v.state.Agreements[i]
		e := agreements.NewEntry(a)
		t.Rows = append(t.Rows, []string{e.AgreementID, strconv.Itoa(int(e.Version)), e.Title, partyList(e.Parties),
			list(e.Categories), cli.OrNone(e.Phase), e.Window(), v.inForce(a), e.Review(), cli.OrNone(e.TermsHash)})
	}
	return Section{
		Title: "Agreement register",
		Notes: []string{"Every version of every data sharing agreement held in " + v.state.Namespace +
			"; each version is its own object, and its signed terms cannot change.",
			"Signed window is what the terms say; In force is when the version actually allowed sharing: " +
				"a later version cuts it short when it takes effect; a version that is not approved by every controller, is suspended, or is not for direct care allows nothing."},
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
			versionName(a), list(v.parties(a, controllerParty)), purpose(&terms),
			terms.LawfulBasis.Article6, terms.LawfulBasis.Article9, list(terms.DataCategories),
			list(v.parties(a, v.consumerParty)), retention(terms.RetentionDays), terms.DPIAReference,
		})
	}
	return Section{
		Title: "Record of processing",
		Notes: []string{
			"One row per agreement version. Every category is health or care data, special category under UK GDPR Article 9.",
			"Recipients are the parties whose staff may view records (members with the Consumer role).",
			"Retention is how long the agreement lets a recipient keep what it was shown: a term the recipients agreed to, " +
				"which the platform records but cannot enforce in their systems. \"Not stated\" means the terms set no period.",
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

// inForce writes when a version actually allowed sharing: its window as
// the policy compiler computes it, and why it ended.
func (v *view) inForce(a *shcrv1alpha1.DataSharingAgreement) string {
	w := v.windows[policy.AgreementKey{ID: a.Spec.AgreementID, Version: a.Spec.Version}]
	switch {
	case w.Empty() && a.Status.ActiveSince != nil:
		return fmt.Sprintf("from %s; not now (%s)", cli.FormatTime(a.Status.ActiveSince.Time), cli.OrNone(string(a.Status.Phase)))
	case w.Empty():
		return "never"
	case w.SupersededBy != 0 && !v.now.Before(w.Until):
		return fmt.Sprintf("%s, stopped when v%d took effect", cli.FormatWindow(w.From, w.Until), w.SupersededBy)
	case w.SupersededBy != 0:
		return fmt.Sprintf("%s, until v%d takes effect", cli.FormatWindow(w.From, w.Until), w.SupersededBy)
	case !v.now.Before(w.Until):
		return cli.FormatWindow(w.From, w.Until) + ", ended"
	case v.now.Before(w.From):
		return "from " + cli.FormatTime(w.From) + " (not yet)"
	default:
		return cli.FormatWindow(w.From, w.Until)
	}
}

// partyList writes parties as "ODS (Role)", ", "-joined, so that a cell
// can wrap between and within them.
func partyList(parties []agreements.Party) string {
	out := make([]string, len(parties))
	for i, p := range parties {
		out[i] = p.ODSCode + " (" + p.Role + ")"
	}
	return list(out)
}

// retention writes an agreement's retention term; 0 is a period the terms
// do not state, not "keep nothing".
func retention(days int32) string {
	if days == 0 {
		return "not stated"
	}
	return fmt.Sprintf("%d days", days)
}

// list joins values with ", " so that a table cell can wrap between them;
// None when there are none.
func list[S any](values []S) string {
	if len(values) == 0 {
		return cli.None
	}
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
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
