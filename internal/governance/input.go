/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package governance

import (
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

// PolicyMember is a MemberOrganisation as the policy compiler sees it. Its
// admission is read from status (Admitted=True for the current generation),
// so an organisation the operator has not yet checked is not admitted.
func PolicyMember(m *shcrv1alpha1.MemberOrganisation, region string) policy.Member {
	admitted := meta.FindStatusCondition(m.Status.Conditions, shcrv1alpha1.ConditionAdmitted)
	return policy.Member{
		ODSCode:  m.Spec.ODSCode,
		Region:   region,
		Admitted: admitted != nil && admitted.Status == "True" && admitted.ObservedGeneration == m.Generation,
		Provider: hasRole(m, shcrv1alpha1.RoleProvider),
		Consumer: hasRole(m, shcrv1alpha1.RoleConsumer),
	}
}

func hasRole(m *shcrv1alpha1.MemberOrganisation, role shcrv1alpha1.OrganisationRole) bool {
	for _, r := range m.Spec.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// PolicyAgreement is one DataSharingAgreement version as the policy compiler
// sees it. It is approved only when every controller party has a recorded
// approval in the spec AND the agreement controller has found, for the
// current generation, those approvals made by signatories (Approved) and the
// version's terms hash in the region's agreement ledger (Recorded): a version
// the controller has not checked yet, or whose terms differ from the ledger's,
// grants nothing. A cross-region peer's confirmation is read from the
// PeerConfirmed condition the agreement controller maintains.
func PolicyAgreement(a *shcrv1alpha1.DataSharingAgreement) policy.Agreement {
	t := a.Spec.Terms
	out := policy.Agreement{
		ID:      a.Spec.AgreementID,
		Version: a.Spec.Version,
		Approved: len(MissingApprovals(&a.Spec)) == 0 && currentlyTrue(a, shcrv1alpha1.ConditionApproved) &&
			currentlyTrue(a, shcrv1alpha1.ConditionRecorded),
		Suspended:     a.Spec.Suspended,
		EffectiveFrom: t.EffectiveFrom.UTC(),
		EndsOn:        t.EndsOn.UTC(),
		Purpose:       string(purposeOrDefault(t.Purpose)),
		Sensitive:     string(t.SensitiveData),
		CrossRegion:   t.Journey == shcrv1alpha1.JourneyCrossRegion,
		PeerRegion:    t.PeerRegion,
	}
	if undiligent := ProcessorsWithoutDueDiligence(&t); len(undiligent) > 0 {
		out.Blocked = "processor parties without due diligence: " + strings.Join(undiligent, ", ")
	}
	if out.CrossRegion {
		out.PeerConfirmed = currentlyTrue(a, shcrv1alpha1.ConditionPeerConfirmed)
	}
	for _, p := range t.Parties {
		out.Parties = append(out.Parties, policy.Party{ODSCode: p.ODSCode, Role: string(p.Role)})
	}
	for _, c := range t.DataCategories {
		out.Categories = append(out.Categories, string(c))
	}
	return out
}

// currentlyTrue reports whether the agreement controller set a condition
// True for the agreement's current generation.
func currentlyTrue(a *shcrv1alpha1.DataSharingAgreement, conditionType string) bool {
	c := meta.FindStatusCondition(a.Status.Conditions, conditionType)
	return c != nil && c.Status == "True" && c.ObservedGeneration == a.Generation
}

func purposeOrDefault(p shcrv1alpha1.Purpose) shcrv1alpha1.Purpose {
	if p == "" {
		return shcrv1alpha1.PurposeDirectCare
	}
	return p
}

// PolicyPolicy is an AccessPolicy as the policy compiler sees it. It shares
// no slice with p, so p may be the cache's own copy.
func PolicyPolicy(p *shcrv1alpha1.AccessPolicy) policy.Policy {
	out := policy.Policy{
		Name:                          p.Namespace + "/" + p.Name,
		AgreementID:                   p.Spec.AgreementID,
		Organisations:                 slices.Clone(p.Spec.Subjects.Organisations),
		Roles:                         slices.Clone(p.Spec.Subjects.Roles),
		RequireLegitimateRelationship: ptr.Deref(p.Spec.RequireLegitimateRelationship, true),
		Sensitive:                     string(p.Spec.SensitiveData),
	}
	for _, g := range p.Spec.Grants {
		grant := policy.PolicyGrant{}
		for _, c := range g.Categories {
			grant.Categories = append(grant.Categories, string(c))
		}
		for _, a := range g.Actions {
			grant.Actions = append(grant.Actions, string(a))
		}
		out.Grants = append(out.Grants, grant)
	}
	for _, pu := range p.Spec.PurposesOfUse {
		out.PurposesOfUse = append(out.PurposesOfUse, string(pu))
	}
	if len(out.PurposesOfUse) == 0 {
		out.PurposesOfUse = []string{string(shcrv1alpha1.PurposeTreat)}
	}
	// A duration that does not parse allows no break-glass (fail closed).
	if bg := p.Spec.BreakGlass; bg != nil {
		if d, err := time.ParseDuration(bg.MaxDuration); err == nil && d > 0 {
			out.BreakGlass = &policy.BreakGlass{AllowedRoles: slices.Clone(bg.AllowedRoles), MaxDuration: d}
		}
	}
	return out
}

// PolicyMembers converts a region's MemberOrganisations, one entry per ODS
// code. A code held twice (a duplicate the webhook would have refused) is
// represented by its admitted holder, so a refused copy can neither take over
// nor block the real organisation's sharing.
func PolicyMembers(members []shcrv1alpha1.MemberOrganisation, region string) []policy.Member {
	byCode := map[string]int{}
	var out []policy.Member
	for i := range members {
		if !members[i].DeletionTimestamp.IsZero() {
			continue
		}
		m := PolicyMember(&members[i], region)
		if j, seen := byCode[m.ODSCode]; seen {
			if m.Admitted && !out[j].Admitted {
				out[j] = m
			}
			continue
		}
		byCode[m.ODSCode] = len(out)
		out = append(out, m)
	}
	return out
}

// Distinct splits a region's DataSharingAgreements into the one object that
// holds each agreementId and version and the duplicates of it. The holder is
// the oldest object (then the first by name), so a copy created later,
// approved or not, can never displace the version it copies; once the
// holder is deleted (a GitOps rename), the copy holds the version. kept
// keeps the input order; duplicates maps a duplicate's name to its holder's.
func Distinct(agreements []shcrv1alpha1.DataSharingAgreement) (kept []*shcrv1alpha1.DataSharingAgreement, duplicates map[string]string) {
	holder := map[policy.AgreementKey]*shcrv1alpha1.DataSharingAgreement{}
	for i := range agreements {
		a := &agreements[i]
		key := policy.AgreementKey{ID: a.Spec.AgreementID, Version: a.Spec.Version}
		if h, ok := holder[key]; !ok || holds(a, h) {
			holder[key] = a
		}
	}
	duplicates = map[string]string{}
	for i := range agreements {
		a := &agreements[i]
		h := holder[policy.AgreementKey{ID: a.Spec.AgreementID, Version: a.Spec.Version}]
		if h == a {
			kept = append(kept, a)
		} else {
			duplicates[a.Name] = h.Name
		}
	}
	return kept, duplicates
}

// holds says whether a, rather than b, holds their agreement version: the
// older object, or on equal creation times the first by name.
func holds(a, b *shcrv1alpha1.DataSharingAgreement) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}
