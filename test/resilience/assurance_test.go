/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package resilience

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// assureAll has the test assurance panel's chair, who records themself (no
// webhook runs to do it), assure every requirement of a region from an hour
// ago for a year.
func assureAll(t *testing.T, op *testenv.Operator, region string) {
	t.Helper()
	ctx := context.Background()
	if err := fixtures.CreateAssurancePanelRBAC(ctx, op.Client); err != nil {
		t.Fatal(err)
	}
	chair, err := op.As(fixtures.AssurancePanelChair, fixtures.AssurancePanelGroup)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.AssureRegion(ctx, chair, region, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)); err != nil {
		t.Fatalf("assuring %s: %v", region, err)
	}
}

// With the webhooks down, only a member of the assurance panel can record
// an assurance, only in their own name (the shcr-assurance-identity
// admission policy), and the region controller refuses an assurance that
// contradicts a computed checkpoint: the region then shares nothing.
func TestWithoutWebhooksOnlyThePanelAssuresInItsOwnName(t *testing.T) {
	op, err := testenv.StartOperator(filepath.Join("..", ".."), testenv.WithoutWebhooks())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = op.Stop() }()
	ctx := context.Background()
	k8s := op.Client
	if err := fixtures.CreateAssurancePanelRBAC(ctx, k8s); err != nil {
		t.Fatal(err)
	}
	const name = "nohooks-assurance"
	if err := k8s.Create(ctx, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: shcrv1alpha1.ShCRRegionSpec{
		DisplayName: "No webhooks, assurance", Assurance: shcrv1alpha1.RegionAssurance{Panel: fixtures.AssurancePanel()},
	}}); err != nil {
		t.Fatal(err)
	}
	chair, err := op.As(fixtures.AssurancePanelChair, fixtures.AssurancePanelGroup)
	if err != nil {
		t.Fatal(err)
	}
	from, review := time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)
	record := func(c client.Client, edit func(*shcrv1alpha1.ShCRRegion)) error {
		return fixtures.EditRegion(ctx, k8s, c, name, edit)
	}
	refused := func(what string, err error, want string) {
		t.Helper()
		fixtures.Refused(t, what, err, want)
	}
	// The cluster admin, who may update the region, is not on the panel.
	adminAssures := func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Assurance.Requirements = fixtures.Assurances(from, review, "admin")
	}
	// The API server loads an admission policy a moment after it is
	// created: until a dry run (which changes nothing) is refused, a
	// write would pass for want of the policy, not despite it.
	testenv.WaitFor(t, "the assurance admission policy in force", 30*time.Second, func() (bool, string) {
		err := fixtures.EditRegion(ctx, k8s, client.NewDryRunClient(k8s), name, adminAssures)
		return err != nil && strings.Contains(err.Error(), "only a member of the region's assurance panel"), fmt.Sprint(err)
	})
	refused("the cluster admin assuring", record(k8s, adminAssures), "only a member of the region's assurance panel")
	// A panel member cannot record in another's name, nor with groups
	// they are not in.
	refused("a panel member's name claimed by another", record(chair, func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Assurance.Requirements = fixtures.Assurances(from, review, "someone-else@panel.example", fixtures.AssurancePanelGroup)
	}), "must be recorded by the user making it")
	refused("a group the chair is not in", record(chair, func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Assurance.Requirements = fixtures.Assurances(from, review, fixtures.AssurancePanelChair, fixtures.AssurancePanelGroup, "system:masters")
	}), "must be recorded by the user making it")
	// The chair in their own name.
	if err := record(chair, func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Assurance.Requirements = fixtures.Assurances(from, review, fixtures.AssurancePanelChair, fixtures.AssurancePanelGroup, "system:authenticated")
	}); err != nil {
		t.Fatalf("the chair's assurance: %v", err)
	}
	waitAssured := func(reason string, message string) {
		t.Helper()
		testenv.WaitFor(t, "Assured reason "+reason, 30*time.Second, func() (bool, string) {
			r := &shcrv1alpha1.ShCRRegion{}
			_ = k8s.Get(ctx, client.ObjectKey{Name: name}, r)
			c := meta.FindStatusCondition(r.Status.Conditions, shcrv1alpha1.ConditionAssured)
			return c != nil && c.Reason == reason && strings.Contains(c.Message, message), fmt.Sprint(c)
		})
	}
	waitAssured(shcrv1alpha1.ReasonAssured, "every IG Framework requirement is assured")
	// Nor can anyone off the panel take an assurance away.
	refused("the cluster admin removing an assurance", record(k8s, func(r *shcrv1alpha1.ShCRRegion) {
		r.Spec.Assurance.Requirements = r.Spec.Assurance.Requirements[1:]
	}), "only a member of the region's assurance panel")

	// A suspended member: the panel's new assurance of access controls
	// contradicts the computed checkpoint, so the controller refuses it.
	ns := shcrv1alpha1.NamespaceFor(name)
	m := fixtures.Member(ns, "suspended", "Z99101", "GPPractice")
	m.Spec.Suspended = true
	for _, obj := range []client.Object{fixtures.Credentials(ns, m.Spec.Connector.CredentialsSecretRef.Name), m} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, "the member's suspension seen", 30*time.Second, func() (bool, string) {
		c, why := fixtures.Checkpoint(ctx, k8s, name, "NoMemberSuspended")
		return c != nil && !c.Met, why
	})
	if err := record(chair, func(r *shcrv1alpha1.ShCRRegion) {
		for i := range r.Spec.Assurance.Requirements {
			if r.Spec.Assurance.Requirements[i].Requirement == shcrv1alpha1.RequirementAccessControlsAndRecords {
				r.Spec.Assurance.Requirements[i].EvidenceReference = "RE-ASSURED-WHILE-SUSPENDED"
			}
		}
	}); err != nil {
		t.Fatalf("the chair's re-assurance (admitted: no webhook to refuse it): %v", err)
	}
	waitAssured(shcrv1alpha1.ReasonNotAssured, "refused: it contradicts computed checkpoint NoMemberSuspended")
	testenv.WaitFor(t, "the bundle not assured", 30*time.Second, func() (bool, string) {
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: specs.PolicyBundleName}, cm); err != nil {
			return false, err.Error()
		}
		b, err := policy.Decode([]byte(cm.Data[specs.PolicyBundleKey]))
		if err != nil {
			return false, err.Error()
		}
		return !b.Assurance.Assured && len(b.Grants) == 0 && strings.Contains(b.Assurance.Reason, "AccessControlsAndRecords not assured"), b.Assurance.Reason
	})
}
