/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package governance holds the information-governance rules that more than
// one controller applies: the admission gate for organisations, the counting
// of approvals, the canonical terms hash, and the conversion of the API
// objects into the policy compiler's input. It is pure: the clock is a
// parameter.
package governance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// DSPTValidity is how long a DSPT assessment admits an organisation.
const DSPTValidity = 12 // months

// Admission is the outcome of the governance gate for one organisation.
type Admission struct {
	// Admitted is true when the organisation may share.
	Admitted bool
	// Reason is a condition reason constant; Message explains it.
	Reason, Message string
	// ExpiresAt is when the DSPT assessment stops admitting the
	// organisation; zero when it does not admit it now.
	ExpiresAt time.Time
}

// Admit applies the governance gate (credentials aside): DSPT Standards Met
// or Exceeded, assessed within the last 12 months, and not suspended.
func Admit(member *shcrv1alpha1.MemberOrganisation, now time.Time) Admission {
	dspt := member.Spec.Governance.DSPT
	if member.Spec.Suspended {
		return Admission{Reason: shcrv1alpha1.ReasonSuspended, Message: "spec.suspended is set: the organisation shares nothing"}
	}
	if dspt.Status != shcrv1alpha1.DSPTStandardsMet && dspt.Status != shcrv1alpha1.DSPTStandardsExceeded {
		return Admission{Reason: shcrv1alpha1.ReasonDSPTNotMet, Message: fmt.Sprintf(
			"spec.governance.dspt.status is %s: only StandardsMet or StandardsExceeded admits an organisation", dspt.Status)}
	}
	assessed, err := time.Parse(time.DateOnly, dspt.AssessedOn)
	if err != nil {
		return Admission{Reason: shcrv1alpha1.ReasonInvalidSpec, Message: fmt.Sprintf(
			"spec.governance.dspt.assessedOn %q is not a date (YYYY-MM-DD)", dspt.AssessedOn)}
	}
	expires := assessed.AddDate(0, DSPTValidity, 0)
	if !now.Before(expires) {
		return Admission{Reason: shcrv1alpha1.ReasonDSPTExpired, Message: fmt.Sprintf(
			"the DSPT assessment of %s is more than %d months old (expired %s)", dspt.AssessedOn, DSPTValidity, expires.Format(time.DateOnly))}
	}
	if assessed.After(now) {
		return Admission{Reason: shcrv1alpha1.ReasonInvalidSpec, Message: fmt.Sprintf(
			"spec.governance.dspt.assessedOn %s is in the future", dspt.AssessedOn)}
	}
	return Admission{Admitted: true, Reason: shcrv1alpha1.ReasonAdmitted, ExpiresAt: expires,
		Message: fmt.Sprintf("DSPT %s, assessed %s, admits the organisation until %s", dspt.Status, dspt.AssessedOn, expires.Format(time.DateOnly))}
}

// ProcessorsWithoutDueDiligence lists the Processor parties of terms that
// have no satisfactory due diligence recorded (a DSPT of Standards Met or
// Exceeded, a contract reference, a date), with why, sorted by ODS code.
func ProcessorsWithoutDueDiligence(t *shcrv1alpha1.AgreementTerms) []string {
	var out []string
	for _, p := range t.Parties {
		if p.Role != shcrv1alpha1.PartyProcessor {
			continue
		}
		dd := p.DueDiligence
		switch {
		case dd == nil:
			out = append(out, p.ODSCode+" (no due diligence recorded)")
		case dd.DSPTStatus != shcrv1alpha1.DSPTStandardsMet && dd.DSPTStatus != shcrv1alpha1.DSPTStandardsExceeded:
			out = append(out, fmt.Sprintf("%s (DSPT %s at due diligence)", p.ODSCode, dd.DSPTStatus))
		case strings.TrimSpace(dd.ContractReference) == "":
			out = append(out, p.ODSCode+" (no contract reference)")
		default:
			if _, err := time.Parse(time.DateOnly, dd.AssessedOn); err != nil {
				out = append(out, p.ODSCode+" (assessedOn is not a date)")
			}
		}
	}
	slices.Sort(out)
	return out
}

// IsController reports whether a party role signs the agreement.
func IsController(role shcrv1alpha1.PartyRole) bool {
	return role == shcrv1alpha1.PartyController || role == shcrv1alpha1.PartyJointController
}

// MissingApprovals lists, sorted, the controller parties with no approval
// carrying the identity the admission webhook recorded. It does not check
// signatories: CountApprovals does.
func MissingApprovals(spec *shcrv1alpha1.DataSharingAgreementSpec) []string {
	missing, _ := CountApprovals(spec, nil, false)
	return missing
}

// CountApprovals lists, sorted, the controller parties with no counted
// approval (missing), and the organisations with an approval that does not
// count because whoever recorded it is not their signatory (unsigned). An
// approval counts only when it comes from a controller party, carries the
// recorded identity, and, with checkSignatories, that identity is a
// signatory of every MemberOrganisation holders gives for its ODS code (and
// there is at least one): an approval for a code no member holds, or
// recorded before its recorder became a signatory, grants nothing.
func CountApprovals(spec *shcrv1alpha1.DataSharingAgreementSpec, holders map[string][]shcrv1alpha1.MemberOrganisation,
	checkSignatories bool) (missing, unsigned []string) {
	approved := map[string]bool{}
	refused := map[string]bool{}
	for _, a := range spec.Approvals {
		switch {
		case a.RecordedBy == "":
		case !checkSignatories || SignedBySignatory(a, holders[a.Organisation]):
			approved[a.Organisation] = true
		default:
			refused[a.Organisation] = true
		}
	}
	for _, p := range spec.Terms.Parties {
		if IsController(p.Role) && !approved[p.ODSCode] {
			missing = append(missing, p.ODSCode)
			if refused[p.ODSCode] {
				unsigned = append(unsigned, p.ODSCode)
			}
		}
	}
	slices.Sort(missing)
	slices.Sort(unsigned)
	return missing, unsigned
}

// SignedBySignatory reports whether the identity that recorded an approval
// is a signatory of every member in holders (the MemberOrganisations that
// hold the approval's ODS code); false when there is none, so a code held
// twice (a duplicate the webhook would refuse) needs both holders' consent.
func SignedBySignatory(a shcrv1alpha1.Approval, holders []shcrv1alpha1.MemberOrganisation) bool {
	if a.RecordedBy == "" || len(holders) == 0 {
		return false
	}
	for i := range holders {
		if !IsSignatory(holders[i].Spec.Signatories, a.RecordedBy, a.RecordedGroups) {
			return false
		}
	}
	return true
}

// IsSignatory reports whether the identity user, a member of groups, is one
// of signatories: a User signatory of its name or a Group signatory of one
// of its groups.
func IsSignatory(signatories []shcrv1alpha1.Signatory, user string, groups []string) bool {
	for _, s := range signatories {
		switch s.Kind {
		case shcrv1alpha1.SignatoryUser:
			if user != "" && s.Name == user {
				return true
			}
		case shcrv1alpha1.SignatoryGroup:
			if slices.Contains(groups, s.Name) {
				return true
			}
		}
	}
	return false
}

// canonicalTerms is the documented canonical form of agreement terms that
// TermsHash digests: fixed field order, parties sorted by ODS code,
// categories sorted, times in RFC 3339 UTC to the second, empty optional
// fields as empty strings or zero. The regions the agreement binds replace
// the peer region, so that the two copies of a cross-region agreement (each
// naming the other as its peer) have the same hash.
type canonicalTerms struct {
	Parties        []canonicalParty `json:"parties"`
	Purpose        string           `json:"purpose"`
	Article6       string           `json:"article6"`
	Article9       string           `json:"article9"`
	OtherPurpose   string           `json:"otherPurpose"`
	DataCategories []string         `json:"dataCategories"`
	SensitiveData  string           `json:"sensitiveData"`
	RetentionDays  int32            `json:"retentionDays"`
	EffectiveFrom  string           `json:"effectiveFrom"`
	EndsOn         string           `json:"endsOn"`
	ReviewDate     string           `json:"reviewDate"`
	DPIAReference  string           `json:"dpiaReference"`
	Journey        string           `json:"journey"`
	Regions        []string         `json:"regions"`
}

type canonicalParty struct {
	ODSCode string `json:"odsCode"`
	Role    string `json:"role"`
	// DueDiligence is a processor's due diligence; left out when none is
	// recorded, so that terms without it keep the hash they always had.
	DueDiligence *canonicalDueDiligence `json:"dueDiligence,omitempty"`
}

type canonicalDueDiligence struct {
	DSPTStatus        string `json:"dsptStatus"`
	ContractReference string `json:"contractReference"`
	AssessedOn        string `json:"assessedOn"`
}

// CanonicalTerms returns the canonical JSON of the terms of an agreement
// held in region.
func CanonicalTerms(t *shcrv1alpha1.AgreementTerms, region string) []byte {
	c := canonicalTerms{
		Purpose:       string(t.Purpose),
		Article6:      t.LawfulBasis.Article6,
		Article9:      t.LawfulBasis.Article9,
		OtherPurpose:  t.LawfulBasis.OtherPurpose,
		SensitiveData: string(t.SensitiveData),
		RetentionDays: t.RetentionDays,
		EffectiveFrom: utc(t.EffectiveFrom.Time),
		EndsOn:        utc(t.EndsOn.Time),
		DPIAReference: t.DPIAReference,
		Journey:       string(t.Journey),
		Regions:       []string{region},
	}
	if t.Journey == shcrv1alpha1.JourneyCrossRegion {
		c.Regions = append(c.Regions, t.PeerRegion)
		slices.Sort(c.Regions)
	}
	if t.ReviewDate != nil {
		c.ReviewDate = utc(t.ReviewDate.Time)
	}
	for _, p := range t.Parties {
		cp := canonicalParty{ODSCode: p.ODSCode, Role: string(p.Role)}
		if dd := p.DueDiligence; dd != nil {
			cp.DueDiligence = &canonicalDueDiligence{DSPTStatus: string(dd.DSPTStatus), ContractReference: dd.ContractReference, AssessedOn: dd.AssessedOn}
		}
		c.Parties = append(c.Parties, cp)
	}
	slices.SortFunc(c.Parties, func(a, b canonicalParty) int { return compareStrings(a.ODSCode, b.ODSCode) })
	for _, cat := range t.DataCategories {
		c.DataCategories = append(c.DataCategories, string(cat))
	}
	slices.Sort(c.DataCategories)
	out, _ := json.Marshal(c) // plain strings and ints: cannot fail
	return out
}

// TermsHash is "sha256:" and the hex sha256 of CanonicalTerms.
func TermsHash(t *shcrv1alpha1.AgreementTerms, region string) string {
	sum := sha256.Sum256(CanonicalTerms(t, region))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
