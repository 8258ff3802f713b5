/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

// assuredCondition waits for the region's Assured condition to have reason.
func waitAssured(t *testing.T, region, reason string) *shcrv1alpha1.ShCRRegion {
	t.Helper()
	r := &shcrv1alpha1.ShCRRegion{}
	waitFor(t, "Assured reason "+reason, func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKey{Name: region}, r); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionAssured)
		return c != nil && c.Reason == reason && c.ObservedGeneration == r.Generation, fmt.Sprint(c)
	})
	return r
}

// The IG Framework's gate holds to the second: a region shares from the
// latest assurance's start and stops at the earliest review date, in the
// bundle the gateway enforces, and its Assured condition follows by
// requeue. A denial says "region not assured".
func TestAssuranceStartsAndStopsSharingOnTheSecond(t *testing.T) {
	s := newScenario(t, "assurance", "Z")
	medications := access{s.trust, "R8000", "Medications", s.gp}
	eventuallyDecides(t, s.region, medications, true, time.Time{})
	r := waitAssured(t, s.region, shcrv1alpha1.ReasonAssured)
	for _, req := range r.Status.Assurance.Requirements {
		if !req.Counted || req.AssuredBy != fixtures.AssurancePanelChair {
			t.Errorf("requirement %+v", req)
		}
	}

	from := time.Now().Add(3 * time.Second).Truncate(time.Second)
	review := from.Add(3 * time.Second)
	assure(t, s.region, from, review)
	eventuallyDecides(t, s.region, medications, false, from.Add(-time.Millisecond))
	d := decides(t, s.region, medications, from.Add(-time.Millisecond))
	if reasons := strings.Join(d.Reasons(), "; "); !strings.HasPrefix(reasons, policy.NotAssuredPrefix) || !strings.Contains(reasons, "takes effect at") {
		t.Errorf("before the assurance: %q", reasons)
	}
	if d := decides(t, s.region, medications, from); !d.Allow {
		t.Errorf("at the assurance's start: %v", d.Reasons())
	}
	if d := decides(t, s.region, medications, review.Add(-time.Millisecond)); !d.Allow {
		t.Errorf("the last millisecond before the review date: %v", d.Reasons())
	}
	d = decides(t, s.region, medications, review)
	if reasons := strings.Join(d.Reasons(), "; "); d.Allow || !strings.HasPrefix(reasons, policy.NotAssuredPrefix) || !strings.Contains(reasons, "lapsed") {
		t.Errorf("at the review date: allow=%v %q", d.Allow, reasons)
	}
	waitAssured(t, s.region, shcrv1alpha1.ReasonAssurancePending)
	waitAssured(t, s.region, shcrv1alpha1.ReasonAssured)
	if late := time.Since(from); late > 2*time.Second {
		t.Errorf("the region became Assured %s after the assurance's start", late)
	}
	r = waitAssured(t, s.region, shcrv1alpha1.ReasonAssuranceLapsed)
	if late := time.Since(review); late > 2*time.Second {
		t.Errorf("the region's assurance was reported Lapsed %s after the review date", late)
	}
	if c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionAssured); c.Status != metav1.ConditionFalse {
		t.Errorf("lapsed, yet %v", c)
	}

	// The panel assures again: sharing resumes.
	assure(t, s.region, time.Now().Add(-time.Second), time.Now().AddDate(1, 0, 0))
	eventuallyDecides(t, s.region, medications, true, time.Time{})
	waitAssured(t, s.region, shcrv1alpha1.ReasonAssured)
}

// With the webhooks up: only the panel can record or remove an assurance,
// the webhook stamps the recorder over what the client sends, the panel
// must be independent of the region's admins, and an assurance that
// contradicts a computed checkpoint is refused at once.
func TestOnlyThePanelAssuresAndComputedCheckpointsRefuseContradictions(t *testing.T) {
	const name = "assure-panel"
	createRegion(t, name)
	waitAssured(t, name, shcrv1alpha1.ReasonAssured)
	chair := panelChair(t)
	record := func(c client.Client, edit func(*shcrv1alpha1.ShCRRegion)) error {
		return fixtures.EditRegion(ctx, k8s, c, name, edit)
	}
	refused := func(what string, err error, want string) {
		t.Helper()
		fixtures.Refused(t, what, err, want)
	}
	evidence := func(req shcrv1alpha1.IGRequirement, ref string) func(*shcrv1alpha1.ShCRRegion) {
		return func(r *shcrv1alpha1.ShCRRegion) {
			for i := range r.Spec.Assurance.Requirements {
				if r.Spec.Assurance.Requirements[i].Requirement == req {
					r.Spec.Assurance.Requirements[i].EvidenceReference = ref
				}
			}
		}
	}
	// Off the panel: the cluster admin, and a region admin given the right
	// to update the region.
	refused("the cluster admin", record(k8s, evidence(shcrv1alpha1.RequirementObjections, "ADMIN-1")), "assurance panel")
	refused("the cluster admin removing", record(k8s, func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Assurance.Requirements = r.Spec.Assurance.Requirements[:7]
	}), "assurance panel")
	// The chair sends someone else's name: the webhook stamps the chair.
	if err := record(chair, func(r *shcrv1alpha1.ShCRRegion) {
		evidence(shcrv1alpha1.RequirementObjections, "OBJ-2")(r)
		for i := range r.Spec.Assurance.Requirements {
			r.Spec.Assurance.Requirements[i].AssuredBy = "someone-else@panel.example"
		}
	}); err != nil {
		t.Fatalf("the chair's record: %v", err)
	}
	region := &shcrv1alpha1.ShCRRegion{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, region); err != nil {
		t.Fatal(err)
	}
	for _, rec := range region.Spec.Assurance.Requirements {
		if rec.AssuredBy != fixtures.AssurancePanelChair {
			t.Errorf("%s recorded by %q: the webhook must stamp the requester", rec.Requirement, rec.AssuredBy)
		}
	}
	// The panel cannot include the region's admins.
	refused("a panel with the region's admins", record(k8s, func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Assurance.Panel = append(r.Spec.Assurance.Panel, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: signatories})
	}), "cannot include an admin of the region")

	// A suspended member: the checkpoint NoMemberSuspended is unmet, and an
	// assurance of access controls is refused while it is.
	ns := shcrv1alpha1.NamespaceFor(name)
	m := member(ns, "suspended", "Z99001", "GPPractice")
	m.Spec.Suspended = true
	create(t, credentials(ns, m.Spec.Connector.CredentialsSecretRef.Name))
	create(t, m)
	waitFor(t, "the checkpoint unmet", func() (bool, string) {
		c, why := fixtures.Checkpoint(ctx, k8s, name, "NoMemberSuspended")
		return c != nil && !c.Met && strings.Contains(c.Message, "Z99001"), why
	})
	refused("an assurance contradicting a checkpoint", record(chair, evidence(shcrv1alpha1.RequirementAccessControlsAndRecords, "AC-2")),
		"contradicts the computed checkpoint NoMemberSuspended")
	// Recorded before the suspension, the assurance stands; the condition
	// asks the panel to review.
	r := waitAssured(t, name, shcrv1alpha1.ReasonAssured)
	if c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionAssured); !strings.Contains(c.Message, "the panel should review") {
		t.Errorf("condition %q", c.Message)
	}
	// NotAssured is never refused: the panel may always withdraw.
	if err := record(chair, func(r *shcrv1alpha1.ShCRRegion) {
		for i := range r.Spec.Assurance.Requirements {
			if r.Spec.Assurance.Requirements[i].Requirement == shcrv1alpha1.RequirementAccessControlsAndRecords {
				r.Spec.Assurance.Requirements[i].Status = shcrv1alpha1.AssuranceNotAssured
			}
		}
	}); err != nil {
		t.Fatalf("withdrawing an assurance: %v", err)
	}
	waitAssured(t, name, shcrv1alpha1.ReasonNotAssured)
}
