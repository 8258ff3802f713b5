/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package assurance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
)

// The checkpoints the operator computes from the cluster.
const (
	// CheckpointAgreementsDPIAAndLawfulBasis: every agreement in force or
	// to come names its DPIA and its Article 6 and Article 9 conditions.
	CheckpointAgreementsDPIAAndLawfulBasis = "AgreementsHaveDPIAAndLawfulBasis"
	// CheckpointMembersDSPTCurrent: every member not suspended has a DSPT
	// of Standards Met or Exceeded, assessed within 12 months.
	CheckpointMembersDSPTCurrent = "MembersDSPTCurrent"
	// CheckpointNoMemberSuspended: no member is suspended.
	CheckpointNoMemberSuspended = "NoMemberSuspended"
	// CheckpointProcessorsDueDiligence: every Processor party of an
	// agreement in force or to come has due diligence recorded.
	CheckpointProcessorsDueDiligence = "ProcessorsHaveDueDiligence"
)

// maxNamed is how many organisations or agreements a checkpoint's message
// names before it only counts them.
const maxNamed = 5

// Checkpoints computes the checkpoints of a region from its members and
// agreements at now, in a fixed order. Agreements that are Expired or
// Superseded no longer count.
func Checkpoints(members []shcrv1alpha1.MemberOrganisation, agreements []shcrv1alpha1.DataSharingAgreement, now time.Time) []shcrv1alpha1.ComputedCheckpoint {
	var noDPIA, noDD, dsptLapsed, suspended []string
	current := 0
	for i := range agreements {
		a := &agreements[i]
		if a.Status.Phase == shcrv1alpha1.PhaseExpired || a.Status.Phase == shcrv1alpha1.PhaseSuperseded {
			continue
		}
		current++
		t := a.Spec.Terms
		if strings.TrimSpace(t.DPIAReference) == "" || t.LawfulBasis.Article6 == "" || t.LawfulBasis.Article9 == "" {
			noDPIA = append(noDPIA, a.Spec.AgreementID)
		}
		for _, p := range governance.ProcessorsWithoutDueDiligence(&a.Spec.Terms) {
			noDD = append(noDD, a.Spec.AgreementID+"/"+strings.SplitN(p, " ", 2)[0])
		}
	}
	for i := range members {
		m := &members[i]
		if m.Spec.Suspended {
			suspended = append(suspended, m.Spec.ODSCode)
			continue
		}
		switch governance.Admit(m, now).Reason {
		case shcrv1alpha1.ReasonDSPTNotMet, shcrv1alpha1.ReasonDSPTExpired, shcrv1alpha1.ReasonInvalidSpec:
			dsptLapsed = append(dsptLapsed, m.Spec.ODSCode)
		}
	}
	return []shcrv1alpha1.ComputedCheckpoint{
		checkpoint(CheckpointAgreementsDPIAAndLawfulBasis, shcrv1alpha1.RequirementLawfulBasisAndTransparency, noDPIA,
			fmt.Sprintf("all %d current agreements name a DPIA and an Article 6 and Article 9 condition", current),
			"agreements without a DPIA reference or lawful basis: %s"),
		checkpoint(CheckpointMembersDSPTCurrent, shcrv1alpha1.RequirementCyberSecurity, dsptLapsed,
			fmt.Sprintf("every member not suspended has a current DSPT of Standards Met or Exceeded (%d members)", len(members)),
			"members whose DSPT is not current and met: %s"),
		checkpoint(CheckpointNoMemberSuspended, shcrv1alpha1.RequirementAccessControlsAndRecords, suspended,
			"no member is suspended", "suspended members: %s"),
		checkpoint(CheckpointProcessorsDueDiligence, shcrv1alpha1.RequirementProcessorDueDiligence, noDD,
			"every processor party of a current agreement has due diligence recorded",
			"processor parties without due diligence (agreement/ODS code): %s"),
	}
}

func checkpoint(name string, req shcrv1alpha1.IGRequirement, failing []string, met, unmet string) shcrv1alpha1.ComputedCheckpoint {
	c := shcrv1alpha1.ComputedCheckpoint{Name: name, Requirement: req, Met: len(failing) == 0, Message: met}
	if !c.Met {
		slices.Sort(failing)
		failing = slices.Compact(failing)
		named := strings.Join(failing[:min(len(failing), maxNamed)], ", ")
		if len(failing) > maxNamed {
			named += fmt.Sprintf(" and %d more", len(failing)-maxNamed)
		}
		c.Message = fmt.Sprintf(unmet, named)
	}
	return c
}
