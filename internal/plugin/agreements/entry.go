/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package agreements

import (
	"fmt"
	"strings"
	"time"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/internal/plugin/cli"
)

// Entry is one agreement version in the register.
type Entry struct {
	Namespace     string     `json:"namespace"`
	Name          string     `json:"name"`
	AgreementID   string     `json:"agreementId"`
	Version       int32      `json:"version"`
	Title         string     `json:"title"`
	Parties       []Party    `json:"parties"`
	Categories    []string   `json:"categories"`
	Phase         string     `json:"phase"`
	EffectiveFrom time.Time  `json:"effectiveFrom"`
	EndsOn        time.Time  `json:"endsOn"`
	ReviewDate    *time.Time `json:"reviewDate,omitempty"`
	Approvals     []Approval `json:"approvals"`
	// TermsHash is the hash the operator recorded in status.termsHash.
	TermsHash string `json:"termsHash"`
	// Rationale is why this version was agreed and where it is minuted
	// ("summary (reference)"); empty when none is recorded.
	Rationale string `json:"rationale,omitempty"`
}

// Party is one party to an agreement and its role under UK GDPR.
type Party struct {
	ODSCode string `json:"odsCode"`
	Role    string `json:"role"`
}

// String writes the party as ODS:role.
func (p Party) String() string { return p.ODSCode + ":" + p.Role }

// Approval is one controller party's signature.
type Approval struct {
	Organisation string    `json:"organisation"`
	Signatory    string    `json:"signatory"`
	Role         string    `json:"role"`
	Date         time.Time `json:"date"`
	// RecordedBy is the Kubernetes identity the admission webhook recorded;
	// an approval without it does not count.
	RecordedBy string `json:"recordedBy"`
	// Rationale is why the signatory approved ("summary (reference)").
	Rationale string `json:"rationale,omitempty"`
}

// RationaleText writes a decision's rationale as "summary (reference)", or
// "" when none is recorded.
func RationaleText(r *shcrv1alpha1.DecisionRationale) string {
	if r == nil {
		return ""
	}
	return r.Summary + " (" + r.Reference + ")"
}

// String writes the approval as "ORG by signatory on date, recorded by user".
func (a Approval) String() string {
	return fmt.Sprintf("%s by %s on %s, recorded by %s", a.Organisation, a.Signatory, cli.FormatDate(a.Date), cli.OrNone(a.RecordedBy))
}

// NewEntry builds the register entry of one agreement version.
func NewEntry(a *shcrv1alpha1.DataSharingAgreement) Entry {
	t := a.Spec.Terms
	e := Entry{
		Namespace:     a.Namespace,
		Name:          a.Name,
		AgreementID:   a.Spec.AgreementID,
		Version:       a.Spec.Version,
		Title:         a.Spec.Title,
		Phase:         string(a.Status.Phase),
		EffectiveFrom: t.EffectiveFrom.UTC(),
		EndsOn:        t.EndsOn.UTC(),
		TermsHash:     a.Status.TermsHash,
		Rationale:     RationaleText(a.Spec.Rationale),
		Parties:       []Party{},
		Categories:    []string{},
		Approvals:     []Approval{},
	}
	if t.ReviewDate != nil {
		review := t.ReviewDate.UTC()
		e.ReviewDate = &review
	}
	for _, p := range t.Parties {
		e.Parties = append(e.Parties, Party{ODSCode: p.ODSCode, Role: string(p.Role)})
	}
	for _, c := range t.DataCategories {
		e.Categories = append(e.Categories, string(c))
	}
	for _, ap := range a.Spec.Approvals {
		e.Approvals = append(e.Approvals, Approval{
			Organisation: ap.Organisation, Signatory: ap.Signatory, Role: string(ap.Role),
			Date: ap.Date.UTC(), RecordedBy: ap.RecordedBy, Rationale: RationaleText(ap.Rationale),
		})
	}
	return e
}

// Window writes the entry's validity as "effectiveFrom → endsOn".
func (e Entry) Window() string { return cli.FormatWindow(e.EffectiveFrom, e.EndsOn) }

// Review writes the review date, or None.
func (e Entry) Review() string {
	if e.ReviewDate == nil {
		return cli.None
	}
	return cli.FormatDate(*e.ReviewDate)
}

// PartyList writes the parties as ODS:role, comma-separated.
func (e Entry) PartyList() string { return join(e.Parties, ",") }

// ApprovalList writes the approvals, semicolon-separated.
func (e Entry) ApprovalList() string { return join(e.Approvals, "; ") }

// ApprovalCount writes how many controller parties have a recorded
// approval, of how many controller parties, as "2/3". An approval without
// a recorder does not count.
func (e Entry) ApprovalCount() string {
	controllers := map[string]bool{}
	for _, p := range e.Parties {
		if governance.IsController(shcrv1alpha1.PartyRole(p.Role)) {
			controllers[p.ODSCode] = false
		}
	}
	approved := 0
	for _, a := range e.Approvals {
		if done, ok := controllers[a.Organisation]; ok && !done && a.RecordedBy != "" {
			controllers[a.Organisation] = true
			approved++
		}
	}
	return fmt.Sprintf("%d/%d", approved, len(controllers))
}

// ExpiresWithin reports whether the agreement ends, or is due for review,
// between now and now+d.
func (e Entry) ExpiresWithin(now time.Time, d time.Duration) bool {
	within := func(t time.Time) bool { return !t.Before(now) && !t.After(now.Add(d)) }
	return within(e.EndsOn) || (e.ReviewDate != nil && within(*e.ReviewDate))
}

// join writes values separated by sep; None when there are none.
func join[T fmt.Stringer](values []T, sep string) string {
	if len(values) == 0 {
		return cli.None
	}
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = v.String()
	}
	return strings.Join(parts, sep)
}
