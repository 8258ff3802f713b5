/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/assurance"
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

// Signatories is the group of the people who sign agreements in the suites;
// a scenario's region makes them its admins.
const Signatories = "shcr-signatories"

// scenarioTimeout bounds each wait of an onboarding.
const scenarioTimeout = 30 * time.Second

// AllButPreferences are the categories a scenario's agreement shares: every
// category but Preferences and Problems (the suites that need Problems
// widen the agreement to it).
var AllButPreferences = []shcrv1alpha1.DataCategory{
	shcrv1alpha1.CategoryDemographics, shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryAllergies,
	shcrv1alpha1.CategoryTestResults, shcrv1alpha1.CategoryCarePlans, shcrv1alpha1.CategoryAppointments,
	shcrv1alpha1.CategoryInpatientStays, shcrv1alpha1.CategoryDischargeLetters, shcrv1alpha1.CategoryClinicalContacts,
}

// CareCategories are the categories a scenario's council care workers are
// granted.
var CareCategories = []shcrv1alpha1.DataCategory{
	shcrv1alpha1.CategoryDemographics, shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryAllergies, shcrv1alpha1.CategoryCarePlans,
}

// Scenario is the onboarding the suites share: a region with three
// organisations — a GP practice, an acute trust and a council's social care
// — one direct-care agreement (dsa-v1) between them, signed by each one's
// Caldicott Guardian, and two policies: clinicians (R8000) see every agreed
// category, the council's care workers (R8003) see CareCategories.
type Scenario struct {
	Region, Namespace  string
	GP, Trust, Council string // ODS codes
	AgreementID        string
	// Clinicians and CareWorkers are the AccessPolicy names.
	Clinicians, CareWorkers string
}

// NewScenario names a scenario in region; code is the suite's letter for
// it, unique per scenario, which makes its ODS codes unique in the cluster.
func NewScenario(region, code string) *Scenario {
	return &Scenario{
		Region: region, Namespace: shcrv1alpha1.NamespaceFor(region),
		GP: code + "86001", Trust: "R" + code + "8", Council: code + "15",
		AgreementID: strings.ToUpper(region) + "-DSA-001", Clinicians: "clinicians", CareWorkers: "care-workers",
	}
}

// Onboard creates the scenario's region (displayName, assured from from
// until review), its organisations, agreement and policies, and waits until
// the policies are in force.
func (op *Operator) Onboard(t *testing.T, s *Scenario, displayName string, from, review time.Time) {
	t.Helper()
	op.CreateRegion(t, s.Region, displayName, from, review)
	for _, m := range []*shcrv1alpha1.MemberOrganisation{
		fixtures.Member(s.Namespace, "gp", s.GP, "GPPractice"),
		fixtures.Member(s.Namespace, "trust", s.Trust, "NHSTrust"),
		fixtures.Member(s.Namespace, "council", s.Council, "LocalAuthority"),
	} {
		op.Create(t, fixtures.Credentials(s.Namespace, m.Spec.Connector.CredentialsSecretRef.Name))
		op.Create(t, m)
	}
	for _, name := range []string{"gp", "trust", "council"} {
		op.WaitCondition(t, &shcrv1alpha1.MemberOrganisation{}, s.Namespace, name, shcrv1alpha1.ConditionAdmitted, metav1.ConditionTrue)
	}
	op.Create(t, fixtures.Agreement(s.Namespace, "dsa-v1", s.AgreementID, 1, AllButPreferences,
		time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), s.GP, s.Trust, s.Council))
	op.Approve(t, s, "dsa-v1")
	op.WaitPhase(t, s.Namespace, "dsa-v1", shcrv1alpha1.PhaseActive)
	op.Create(t, fixtures.AccessPolicy(s.Namespace, s.Clinicians, s.AgreementID, []string{"R8000"}, nil, AllButPreferences...))
	op.Create(t, fixtures.AccessPolicy(s.Namespace, s.CareWorkers, s.AgreementID, []string{"R8003"}, []string{s.Council}, CareCategories...))
	op.WaitCondition(t, &shcrv1alpha1.AccessPolicy{}, s.Namespace, s.Clinicians, shcrv1alpha1.ConditionInForce, metav1.ConditionTrue)
	op.WaitCondition(t, &shcrv1alpha1.AccessPolicy{}, s.Namespace, s.CareWorkers, shcrv1alpha1.ConditionInForce, metav1.ConditionTrue)
}

// CreateRegion creates a region administered by Signatories whose assurance
// panel has assured every IG Framework requirement from from until review,
// as a region must be before it shares, with a complete gateway identity
// (fixtures.GatewayIdentity), and waits until the region has recorded its
// namespace (the webhooks admit objects only there), where it creates the
// identity provider's keys.
func (op *Operator) CreateRegion(t *testing.T, name, displayName string, from, review time.Time) {
	t.Helper()
	op.Create(t, &shcrv1alpha1.ShCRRegion{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: shcrv1alpha1.ShCRRegionSpec{
			DisplayName: displayName,
			Admins:      []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: Signatories}},
			Assurance:   shcrv1alpha1.RegionAssurance{Panel: fixtures.AssurancePanel()},
			Gateway:     shcrv1alpha1.GatewaySpec{Identity: fixtures.GatewayIdentity(name)},
		},
	})
	WaitFor(t, "the region namespace recorded", scenarioTimeout, func() (bool, string) {
		r := &shcrv1alpha1.ShCRRegion{}
		err := op.Client.Get(context.Background(), client.ObjectKey{Name: name}, r)
		return err == nil && r.Status.Namespace == shcrv1alpha1.NamespaceFor(name), fmt.Sprint(err, r.Status.Namespace)
	})
	op.Create(t, fixtures.GatewayKeys(shcrv1alpha1.NamespaceFor(name)))
	chair, err := op.As(fixtures.AssurancePanelChair, fixtures.AssurancePanelGroup)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.AssureRegion(context.Background(), chair, name, from, review); err != nil {
		t.Fatalf("assuring region %s: %v", name, err)
	}
	op.WaitJudged(t, name)
}

// WaitJudged waits until the operator has judged every assurance record of
// region name (status.assurance names each record's digest). A record is
// judged once, against the computed checkpoints of the reconcile that first
// sees it: a test that then lapses a member's DSPT must not race that first
// look, or the record is refused for good, as it should be in a cluster
// where the record and the lapse arrive together.
func (op *Operator) WaitJudged(t *testing.T, name string) {
	t.Helper()
	WaitFor(t, "the region's assurance records judged", scenarioTimeout, func() (bool, string) {
		r := &shcrv1alpha1.ShCRRegion{}
		if err := op.Client.Get(context.Background(), client.ObjectKey{Name: name}, r); err != nil {
			return false, err.Error()
		}
		judged := map[string]bool{}
		if r.Status.Assurance != nil {
			for _, s := range r.Status.Assurance.Requirements {
				judged[s.RecordDigest] = true
			}
		}
		for _, record := range r.Spec.Assurance.Requirements {
			if !judged[assurance.Digest(record)] {
				return false, string(record.Requirement) + " not judged yet"
			}
		}
		return true, ""
	})
}

// Signer is the Kubernetes user of an organisation's Caldicott Guardian.
func Signer(ods string) string { return "caldicott@" + strings.ToLower(ods) }

// Approve records each party's approval of the scenario's agreement name,
// each as its own Caldicott Guardian's Kubernetes identity in Signatories,
// each sending a forged recordedBy that the webhook must replace.
func (op *Operator) Approve(t *testing.T, s *Scenario, name string) {
	t.Helper()
	op.approve(t, s.Namespace, name, "someone-else", s.GP, s.Trust, s.Council)
}

// Share gives organisations something to provide: an agreement named name
// (agreement id id) between the members with these ODS codes (at least
// two, each with its default Caldicott Guardian signatory) for the
// categories AllButPreferences, approved by each, and waits until it is
// Active. An organisation runs a connector only while an Active agreement
// lets it provide a category.
func (op *Operator) Share(t *testing.T, ns, name, id string, codes ...string) {
	t.Helper()
	op.Create(t, fixtures.Agreement(ns, name, id, 1, AllButPreferences, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), codes...))
	op.approve(t, ns, name, "", codes...)
	op.WaitPhase(t, ns, name, shcrv1alpha1.PhaseActive)
}

// approve records the approval of the agreement ns/name by each of the
// organisations with these ODS codes, as its Caldicott Guardian, retrying
// until admitted: a signatory may approve once the operator has granted it,
// a second or so after its organisation is created. Each sends recordedBy
// (empty: its own name, which holds with the webhooks down too).
func (op *Operator) approve(t *testing.T, ns, name, recordedBy string, codes ...string) {
	t.Helper()
	for _, ods := range codes {
		signer, err := op.As(Signer(ods), Signatories)
		if err != nil {
			t.Fatal(err)
		}
		WaitFor(t, "approval by "+ods, scenarioTimeout, func() (bool, string) {
			a := &shcrv1alpha1.DataSharingAgreement{}
			if err := op.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, a); err != nil {
				return false, err.Error()
			}
			by := recordedBy
			if by == "" {
				by = Signer(ods)
			}
			a.Spec.Approvals = append(a.Spec.Approvals, shcrv1alpha1.Approval{
				Organisation: ods, Signatory: "Caldicott Guardian of " + ods, Role: "CaldicottGuardian",
				Date: metav1.NewTime(time.Now().Truncate(time.Second)), RecordedBy: by,
			})
			err := signer.Update(context.Background(), a)
			return err == nil, fmt.Sprint(err)
		})
	}
}

// Create creates an object as cluster admin.
func (op *Operator) Create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := op.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// WaitCondition waits until a condition of the object ns/name has status
// for the object's current generation.
func (op *Operator) WaitCondition(t *testing.T, obj client.Object, ns, name, conditionType string, status metav1.ConditionStatus) {
	t.Helper()
	WaitFor(t, fmt.Sprintf("%T %s/%s %s=%s", obj, ns, name, conditionType, status), scenarioTimeout, func() (bool, string) {
		if err := op.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(ConditionsOf(obj), conditionType)
		if c == nil {
			return false, "not set"
		}
		return c.Status == status && c.ObservedGeneration == obj.GetGeneration(), fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
	})
}

// ConditionsOf returns the status conditions of any of the four kinds.
func ConditionsOf(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *shcrv1alpha1.MemberOrganisation:
		return o.Status.Conditions
	case *shcrv1alpha1.DataSharingAgreement:
		return o.Status.Conditions
	case *shcrv1alpha1.AccessPolicy:
		return o.Status.Conditions
	case *shcrv1alpha1.ShCRRegion:
		return o.Status.Conditions
	}
	return nil
}

// WaitPhase waits until the agreement ns/name is in phase.
func (op *Operator) WaitPhase(t *testing.T, ns, name string, phase shcrv1alpha1.AgreementPhase) {
	t.Helper()
	WaitFor(t, fmt.Sprintf("agreement %s phase %s", name, phase), scenarioTimeout, func() (bool, string) {
		a := &shcrv1alpha1.DataSharingAgreement{}
		if err := op.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, a); err != nil {
			return false, err.Error()
		}
		return a.Status.Phase == phase, fmt.Sprintf("phase %s (%v)", a.Status.Phase, a.Status.Conditions)
	})
}
