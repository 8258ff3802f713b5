/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package webhook

import (
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/assurance"
)

func assuranceRecord(req shcrv1alpha1.IGRequirement, by string, groups ...string) shcrv1alpha1.RequirementAssurance {
	t0 := time.Date(2026, 8, 21, 9, 0, 0, 0, time.UTC)
	return shcrv1alpha1.RequirementAssurance{
		Requirement: req, Status: shcrv1alpha1.AssuranceAssured, AssuredAt: metav1.NewTime(t0), ReviewDate: metav1.NewTime(t0.AddDate(1, 0, 0)),
		EvidenceReference: "EV-" + string(req), Rationale: shcrv1alpha1.DecisionRationale{Summary: "ok", Reference: "minute 1"},
		AssuredBy: by, AssuredGroups: groups,
	}
}

// The stamp is the requester's on every new or changed record, whatever
// the client sent; an unchanged record keeps its recorder.
func TestStampAssurancesTrustsOnlyTheRequester(t *testing.T) {
	old := []shcrv1alpha1.RequirementAssurance{assuranceRecord(shcrv1alpha1.RequirementObjections, "chair@panel", "panel")}
	for name, edit := range map[string]func(*shcrv1alpha1.RequirementAssurance){
		"forged recorder on a new record":           func(r *shcrv1alpha1.RequirementAssurance) { r.Requirement = shcrv1alpha1.RequirementCyberSecurity },
		"changed evidence keeping the old recorder": func(r *shcrv1alpha1.RequirementAssurance) { r.EvidenceReference = "EV-2" },
		"changed review date": func(r *shcrv1alpha1.RequirementAssurance) {
			r.ReviewDate = metav1.NewTime(r.ReviewDate.AddDate(1, 0, 0))
		},
		"changed status":    func(r *shcrv1alpha1.RequirementAssurance) { r.Status = shcrv1alpha1.AssuranceNotAssured },
		"changed rationale": func(r *shcrv1alpha1.RequirementAssurance) { r.Rationale.Reference = "minute 2" },
	} {
		records := []shcrv1alpha1.RequirementAssurance{old[0]}
		edit(&records[0])
		StampAssurances(records, old, "member@panel", []string{"panel", "system:authenticated"})
		if records[0].AssuredBy != "member@panel" || strings.Join(records[0].AssuredGroups, ",") != "panel,system:authenticated" {
			t.Errorf("%s: stamped %q %v", name, records[0].AssuredBy, records[0].AssuredGroups)
		}
	}
	unchanged := []shcrv1alpha1.RequirementAssurance{old[0]}
	unchanged[0].AssuredBy, unchanged[0].AssuredGroups = "someone-else", nil // what a client may send back
	StampAssurances(unchanged, old, "member@panel", []string{"panel"})
	if unchanged[0].AssuredBy != "chair@panel" {
		t.Errorf("an unchanged record lost its recorder: %q", unchanged[0].AssuredBy)
	}
}

// Only the panel may add, change or remove a record, and an Assured record
// contradicting an unmet checkpoint of its requirement is refused.
func TestAssurancesByPanel(t *testing.T) {
	panel := []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: "panel"}, {Kind: rbacv1.UserKind, Name: "solo@panel"}}
	old := []shcrv1alpha1.RequirementAssurance{assuranceRecord(shcrv1alpha1.RequirementObjections, "chair@panel", "panel")}
	added := append([]shcrv1alpha1.RequirementAssurance{}, old[0], assuranceRecord(shcrv1alpha1.RequirementAccessControlsAndRecords, ""))
	met := assurance.Checkpoints(nil, nil, time.Now())
	unmet := assurance.Checkpoints([]shcrv1alpha1.MemberOrganisation{{Spec: shcrv1alpha1.MemberOrganisationSpec{ODSCode: "X1", Suspended: true}}}, nil, time.Now())
	for _, tc := range []struct {
		name        string
		records     []shcrv1alpha1.RequirementAssurance
		checkpoints []shcrv1alpha1.ComputedCheckpoint
		user        string
		groups      []string
		want        string
	}{
		{"a panel group member adds", added, met, "member@x", []string{"panel"}, ""},
		{"a panel user adds", added, met, "solo@panel", nil, ""},
		{"someone off the panel adds", added, met, "admin", []string{"system:masters"}, "only a member of the region's assurance panel"},
		{"a group name as a user name", added, met, "panel", nil, "only a member"},
		{"a user name as a group", added, met, "x", []string{"solo@panel"}, "only a member"},
		{"case differs", added, met, "Solo@panel", []string{"Panel"}, "only a member"},
		{"someone off the panel removes", nil, met, "admin", nil, "may not remove the assurance of Objections"},
		{"the panel removes", nil, met, "solo@panel", nil, ""},
		{"contradicting a checkpoint", added, unmet, "solo@panel", nil, "contradicts the computed checkpoint NoMemberSuspended"},
		{"NotAssured never contradicts", []shcrv1alpha1.RequirementAssurance{old[0], func() shcrv1alpha1.RequirementAssurance {
			r := assuranceRecord(shcrv1alpha1.RequirementAccessControlsAndRecords, "")
			r.Status = shcrv1alpha1.AssuranceNotAssured
			return r
		}()}, unmet, "solo@panel", nil, ""},
		{"an unchanged record is not judged again", old, unmet, "admin", nil, ""},
	} {
		errs := AssurancesByPanel(ChangedAssurances(tc.records, old), panel, tc.checkpoints, tc.user, tc.groups)
		got := errs.ToAggregate()
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%s: refused: %v", tc.name, got)
		case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
			t.Errorf("%s: got %v, want a refusal containing %q", tc.name, got, tc.want)
		}
	}
}
