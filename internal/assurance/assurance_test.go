/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package assurance

import (
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
)

var (
	t0     = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	review = t0.AddDate(1, 0, 0)
)

const panelGroup = "tvs-assurance-panel"

func panel() []rbacv1.Subject {
	return []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: panelGroup}}
}

func record(req shcrv1alpha1.IGRequirement) shcrv1alpha1.RequirementAssurance {
	return shcrv1alpha1.RequirementAssurance{
		Requirement: req, Status: shcrv1alpha1.AssuranceAssured,
		AssuredAt: metav1.NewTime(t0), ReviewDate: metav1.NewTime(review),
		EvidenceReference: "TVS-IG-EVID-" + string(req),
		Rationale:         shcrv1alpha1.DecisionRationale{Summary: "evidence reviewed", Reference: "Panel 2026-03-30 minute 4"},
		AssuredBy:         "chair@panel.example", AssuredGroups: []string{panelGroup},
	}
}

func allAssured() shcrv1alpha1.RegionAssurance {
	a := shcrv1alpha1.RegionAssurance{Panel: panel()}
	for _, req := range shcrv1alpha1.IGRequirements {
		a.Requirements = append(a.Requirements, record(req))
	}
	return a
}

func allMet() []shcrv1alpha1.ComputedCheckpoint {
	return Checkpoints(nil, nil, t0)
}

func TestEvaluateCountsEveryRequirement(t *testing.T) {
	at := t0.Add(time.Hour)
	for _, tc := range []struct {
		name   string
		edit   func(*shcrv1alpha1.RegionAssurance)
		now    time.Time
		reason string
		assure bool
		msg    string
	}{
		{"every requirement assured", func(*shcrv1alpha1.RegionAssurance) {}, at, shcrv1alpha1.ReasonAssured, true, "shares until 2027-04-01T09:00:00Z"},
		{"nothing recorded", func(a *shcrv1alpha1.RegionAssurance) { a.Requirements = nil }, at, shcrv1alpha1.ReasonNotAssured, false, "no assurance recorded"},
		{"no panel", func(a *shcrv1alpha1.RegionAssurance) { a.Panel = nil }, at, shcrv1alpha1.ReasonNotAssured, false, "not on the assurance panel"},
		{"one requirement missing", func(a *shcrv1alpha1.RegionAssurance) { a.Requirements = a.Requirements[1:] }, at,
			shcrv1alpha1.ReasonNotAssured, false, "ConsistentIGPolicies: no assurance recorded"},
		{"one NotAssured", func(a *shcrv1alpha1.RegionAssurance) { a.Requirements[5].Status = shcrv1alpha1.AssuranceNotAssured }, at,
			shcrv1alpha1.ReasonNotAssured, false, "CyberSecurity: the panel recorded NotAssured"},
		{"an unknown status", func(a *shcrv1alpha1.RegionAssurance) { a.Requirements[5].Status = "Lapsed" }, at,
			shcrv1alpha1.ReasonNotAssured, false, "CyberSecurity"},
		{"unstamped", func(a *shcrv1alpha1.RegionAssurance) { a.Requirements[2].AssuredBy = "" }, at,
			shcrv1alpha1.ReasonNotAssured, false, "no assuredBy"},
		{"recorder left the panel", func(a *shcrv1alpha1.RegionAssurance) { a.Requirements[2].AssuredGroups = []string{"someone-else"} }, at,
			shcrv1alpha1.ReasonNotAssured, false, "not on the assurance panel"},
		{"recorder on the panel by name", func(a *shcrv1alpha1.RegionAssurance) {
			a.Panel = append(a.Panel, rbacv1.Subject{Kind: rbacv1.UserKind, Name: "solo@panel.example"})
			a.Requirements[2].AssuredBy, a.Requirements[2].AssuredGroups = "solo@panel.example", nil
		}, at, shcrv1alpha1.ReasonAssured, true, ""},
		{"a User subject does not match a group name", func(a *shcrv1alpha1.RegionAssurance) {
			a.Panel = []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: panelGroup}}
		}, at, shcrv1alpha1.ReasonNotAssured, false, "not on the assurance panel"},
		{"a ServiceAccount subject never counts", func(a *shcrv1alpha1.RegionAssurance) {
			a.Panel = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "chair@panel.example"}}
		}, at, shcrv1alpha1.ReasonNotAssured, false, "not on the assurance panel"},
		{"before it takes effect", func(*shcrv1alpha1.RegionAssurance) {}, t0.Add(-time.Second), shcrv1alpha1.ReasonAssurancePending, false, "with effect from 2026-04-01T09:00:00Z"},
		{"at the review date", func(*shcrv1alpha1.RegionAssurance) {}, review, shcrv1alpha1.ReasonAssuranceLapsed, false, "has lapsed"},
		{"one lapsed earlier", func(a *shcrv1alpha1.RegionAssurance) { a.Requirements[4].ReviewDate = metav1.NewTime(at) }, at,
			shcrv1alpha1.ReasonAssuranceLapsed, false, "Objections (review date 2026-04-01T10:00:00Z)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := allAssured()
			tc.edit(&spec)
			out := Evaluate(shcrv1alpha1.ShCRRegionSpec{Assurance: spec}, nil, allMet(), tc.now)
			if out.Reason != tc.reason || out.Status.Assured != tc.assure || !strings.Contains(out.Message, tc.msg) {
				t.Fatalf("got %s assured=%v %q", out.Reason, out.Status.Assured, out.Message)
			}
			if got := out.Gate.Covers(tc.now); got != tc.assure {
				t.Fatalf("gate covers %v at %s, want %v (%+v)", got, tc.now, tc.assure, out.Gate)
			}
			if !out.Gate.Assured && !strings.HasPrefix(out.Gate.Reason, policy.NotAssuredPrefix) {
				t.Fatalf("gate reason %q", out.Gate.Reason)
			}
			if strings.Contains(out.Gate.Reason, "@") {
				t.Fatalf("the gateway's reason names a person: %q", out.Gate.Reason)
			}
			if len(out.Status.Requirements) != len(shcrv1alpha1.IGRequirements) {
				t.Fatalf("%d requirement states", len(out.Status.Requirements))
			}
		})
	}
}

// A panel that includes a region admin is not independent: nothing counts.
func TestPanelMustBeIndependentOfTheAdmins(t *testing.T) {
	for _, admins := range [][]rbacv1.Subject{
		{{Kind: rbacv1.GroupKind, Name: panelGroup}},
		{{Kind: rbacv1.UserKind, Name: "x"}, {Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: panelGroup}},
	} {
		out := Evaluate(shcrv1alpha1.ShCRRegionSpec{Admins: admins, Assurance: allAssured()}, nil, allMet(), t0.Add(time.Hour))
		if out.Gate.Assured || !strings.Contains(out.Message, "must be independent") {
			t.Fatalf("admins %v: %s %q", admins, out.Reason, out.Message)
		}
	}
	// Same name, other kind: independent.
	admins := []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: panelGroup}}
	if out := Evaluate(shcrv1alpha1.ShCRRegionSpec{Admins: admins, Assurance: allAssured()}, nil, allMet(), t0.Add(time.Hour)); !out.Gate.Assured {
		t.Fatalf("%q", out.Message)
	}
}

// The window runs from the latest assuredAt to the earliest review date.
func TestEvaluateWindow(t *testing.T) {
	spec := allAssured()
	late, early := t0.Add(90*time.Minute), review.Add(-48*time.Hour)
	spec.Requirements[3].AssuredAt = metav1.NewTime(late)
	spec.Requirements[6].ReviewDate = metav1.NewTime(early)
	out := Evaluate(shcrv1alpha1.ShCRRegionSpec{Assurance: spec}, nil, allMet(), t0.Add(time.Hour))
	if !out.Gate.Assured || !out.Gate.From.Equal(late) || !out.Gate.Until.Equal(early) || !out.Next.Equal(late) {
		t.Fatalf("got %+v next %s", out.Gate, out.Next)
	}
	if out := Evaluate(shcrv1alpha1.ShCRRegionSpec{Assurance: spec}, nil, allMet(), late); !out.Next.Equal(early) || !out.Status.Assured {
		t.Fatalf("at the start: %+v", out)
	}
}

// A record that contradicts a computed checkpoint when first seen is
// refused for good; one accepted before a fact changes keeps counting and
// the condition asks for a review.
func TestContradictingAssuranceIsRefused(t *testing.T) {
	unmet := allMet()
	for i := range unmet {
		if unmet[i].Name == CheckpointMembersDSPTCurrent {
			unmet[i].Met, unmet[i].Message = false, "members whose DSPT is not current and met: RTH"
		}
	}
	spec := allAssured()
	now := t0.Add(time.Hour)
	first := Evaluate(shcrv1alpha1.ShCRRegionSpec{Assurance: spec}, nil, unmet, now)
	if first.Gate.Assured || first.Reason != shcrv1alpha1.ReasonNotAssured || !strings.Contains(first.Message, "refused: it contradicts computed checkpoint MembersDSPTCurrent") {
		t.Fatalf("first: %s %q", first.Reason, first.Message)
	}
	// The first refusal is named fresh, for the caller to confirm.
	if !slices.Equal(first.FreshRefusals, []shcrv1alpha1.IGRequirement{shcrv1alpha1.RequirementCyberSecurity}) {
		t.Errorf("fresh refusals of the first judgement: %v, want [CyberSecurity]", first.FreshRefusals)
	}
	// Refused stays refused, no longer fresh, also once the fact is met again.
	for _, checkpoints := range [][]shcrv1alpha1.ComputedCheckpoint{unmet, allMet()} {
		kept := Evaluate(shcrv1alpha1.ShCRRegionSpec{Assurance: spec}, &first.Status, checkpoints, now)
		if kept.Gate.Assured || len(kept.FreshRefusals) != 0 {
			t.Errorf("a record refused before: assured %v, fresh refusals %v; want refused, none fresh", kept.Gate.Assured, kept.FreshRefusals)
		}
	}
	again := Evaluate(shcrv1alpha1.ShCRRegionSpec{Assurance: spec}, &first.Status, allMet(), now)
	if again.Gate.Assured {
		t.Fatalf("a refused record counted once the checkpoint was met: %q", again.Message)
	}
	// A new record (changed content) is judged afresh.
	spec.Requirements[5].EvidenceReference = "TVS-IG-EVID-CYBER-2"
	if fresh := Evaluate(shcrv1alpha1.ShCRRegionSpec{Assurance: spec}, &again.Status, allMet(), now); !fresh.Gate.Assured {
		t.Fatalf("a new record was not judged afresh: %q", fresh.Message)
	}
	// Accepted before the fact changed: still counts, and says so.
	accepted := Evaluate(shcrv1alpha1.ShCRRegionSpec{Assurance: allAssured()}, nil, allMet(), now)
	later := Evaluate(shcrv1alpha1.ShCRRegionSpec{Assurance: allAssured()}, &accepted.Status, unmet, now)
	if !later.Gate.Assured || !strings.Contains(later.Message, "the panel should review: computed checkpoints now unmet: MembersDSPTCurrent") {
		t.Fatalf("later: %s %q", later.Reason, later.Message)
	}
	if len(later.FreshRefusals) != 0 || len(accepted.FreshRefusals) != 0 {
		t.Errorf("records counted named as fresh refusals: %v, %v", accepted.FreshRefusals, later.FreshRefusals)
	}
}

func TestCheckpoints(t *testing.T) {
	now := t0
	member := func(ods string, edit func(*shcrv1alpha1.MemberOrganisation)) shcrv1alpha1.MemberOrganisation {
		m := shcrv1alpha1.MemberOrganisation{}
		m.Spec.ODSCode = ods
		m.Spec.Governance.DSPT = shcrv1alpha1.DSPTAssessment{Status: shcrv1alpha1.DSPTStandardsMet, AssessedOn: now.AddDate(0, -2, 0).Format(time.DateOnly)}
		if edit != nil {
			edit(&m)
		}
		return m
	}
	agreement := func(id string, parties ...shcrv1alpha1.Party) shcrv1alpha1.DataSharingAgreement {
		a := shcrv1alpha1.DataSharingAgreement{}
		a.Spec.AgreementID = id
		a.Spec.Terms.DPIAReference = "DPIA-1"
		a.Spec.Terms.LawfulBasis = shcrv1alpha1.LawfulBasis{Article6: "6(1)(e)", Article9: "9(2)(h)"}
		a.Spec.Terms.Parties = parties
		return a
	}
	members := []shcrv1alpha1.MemberOrganisation{
		member("RTH", nil),
		member("K84001", func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Governance.DSPT.AssessedOn = now.AddDate(-1, 0, -1).Format(time.DateOnly)
		}),
		member("B86001", func(m *shcrv1alpha1.MemberOrganisation) { m.Spec.Suspended = true }),
		member("Y1", func(m *shcrv1alpha1.MemberOrganisation) {
			m.Spec.Governance.DSPT.Status = shcrv1alpha1.DSPTApproachingStandards
		}),
	}
	noDPIA := agreement("A-2", shcrv1alpha1.Party{ODSCode: "RTH", Role: shcrv1alpha1.PartyController})
	noDPIA.Spec.Terms.DPIAReference = " "
	expired := agreement("A-OLD", shcrv1alpha1.Party{ODSCode: "X26", Role: shcrv1alpha1.PartyProcessor})
	expired.Status.Phase = shcrv1alpha1.PhaseExpired
	agreements := []shcrv1alpha1.DataSharingAgreement{
		agreement("A-1", shcrv1alpha1.Party{ODSCode: "RTH", Role: shcrv1alpha1.PartyController}, shcrv1alpha1.Party{ODSCode: "X26", Role: shcrv1alpha1.PartyProcessor},
			shcrv1alpha1.Party{ODSCode: "X27", Role: shcrv1alpha1.PartyProcessor, DueDiligence: &shcrv1alpha1.ProcessorDueDiligence{
				DSPTStatus: shcrv1alpha1.DSPTStandardsExceeded, ContractReference: "C-27", AssessedOn: "2026-01-10"}}),
		noDPIA, expired,
	}
	got := map[string]shcrv1alpha1.ComputedCheckpoint{}
	for _, c := range Checkpoints(members, agreements, now) {
		got[c.Name] = c
	}
	for name, want := range map[string]string{
		CheckpointAgreementsDPIAAndLawfulBasis: "A-2",
		CheckpointMembersDSPTCurrent:           "K84001, Y1",
		CheckpointNoMemberSuspended:            "B86001",
		CheckpointProcessorsDueDiligence:       "A-1/X26",
	} {
		c := got[name]
		if c.Met || !strings.HasSuffix(c.Message, want) {
			t.Errorf("%s: met=%v %q, want unmet naming %s", name, c.Met, c.Message, want)
		}
	}
	for _, c := range Checkpoints(members[:1], agreements[2:], now) {
		if !c.Met {
			t.Errorf("%s unmet for a sound region: %s", c.Name, c.Message)
		}
	}
}
