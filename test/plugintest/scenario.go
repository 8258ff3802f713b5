/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package plugintest

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
	"github.com/shcr-io/shcr-operator/test/fixtures"
)

// signatories is the group of the people who sign agreements; the region
// makes them its admins.
const signatories = "shcr-signatories"

// AllButPreferences are the categories the scenario's agreement shares.
var AllButPreferences = []shcrv1alpha1.DataCategory{
	shcrv1alpha1.CategoryDemographics, shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryAllergies,
	shcrv1alpha1.CategoryTestResults, shcrv1alpha1.CategoryCarePlans, shcrv1alpha1.CategoryAppointments,
	shcrv1alpha1.CategoryInpatientStays, shcrv1alpha1.CategoryDischargeLetters, shcrv1alpha1.CategoryClinicalContacts,
}

// CareCategories are the categories the council's care workers are granted.
var CareCategories = []shcrv1alpha1.DataCategory{
	shcrv1alpha1.CategoryDemographics, shcrv1alpha1.CategoryMedications, shcrv1alpha1.CategoryAllergies, shcrv1alpha1.CategoryCarePlans,
}

// Scenario is a region with three organisations — a GP practice, an acute
// trust and a council's social care — one direct-care agreement (dsa-v1)
// between them, signed by each one's Caldicott Guardian, and two policies:
// clinicians (R8000) see every agreed category, the council's care workers
// (R8003) see CareCategories.
type Scenario struct {
	Region, Namespace  string
	GP, Trust, Council string // ODS codes
	AgreementID        string
	// Clinicians and CareWorkers are the AccessPolicy names.
	Clinicians, CareWorkers string
}

var ctx = context.Background()

// NewScenario onboards the scenario in a region and waits until its bundle
// is compiled; code is a letter that makes its ODS codes unique.
func NewScenario(t *testing.T, region, code string) *Scenario {
	t.Helper()
	s := &Scenario{
		Region: region, Namespace: shcrv1alpha1.NamespaceFor(region),
		GP: code + "86001", Trust: "R" + code + "8", Council: code + "15",
		AgreementID: strings.ToUpper(region) + "-DSA-001", Clinicians: "clinicians", CareWorkers: "care-workers",
	}
	createRegion(t, region)
	for _, m := range []*shcrv1alpha1.MemberOrganisation{
		s.Member("gp", s.GP, "GPPractice"), s.Member("trust", s.Trust, "NHSTrust"), s.Member("council", s.Council, "LocalAuthority"),
	} {
		Create(t, fixtures.Credentials(s.Namespace, m.Spec.Connector.CredentialsSecretRef.Name))
		Create(t, m)
	}
	for _, name := range []string{"gp", "trust", "council"} {
		WaitCondition(t, &shcrv1alpha1.MemberOrganisation{}, s.Namespace, name, shcrv1alpha1.ConditionAdmitted)
	}
	Create(t, s.Agreement("dsa-v1", 1, AllButPreferences, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0)))
	s.Approve(t, "dsa-v1")
	WaitPhase(t, s.Namespace, "dsa-v1", shcrv1alpha1.PhaseActive)
	Create(t, s.Policy(s.Clinicians, []string{"R8000"}, nil, AllButPreferences...))
	Create(t, s.Policy(s.CareWorkers, []string{"R8003"}, []string{s.Council}, CareCategories...))
	WaitCondition(t, &shcrv1alpha1.AccessPolicy{}, s.Namespace, s.Clinicians, shcrv1alpha1.ConditionInForce)
	WaitCondition(t, &shcrv1alpha1.AccessPolicy{}, s.Namespace, s.CareWorkers, shcrv1alpha1.ConditionInForce)
	s.WaitBundleGrants(t, 2)
	return s
}

func createRegion(t *testing.T, name string) {
	t.Helper()
	Create(t, &shcrv1alpha1.ShCRRegion{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: shcrv1alpha1.ShCRRegionSpec{
			DisplayName: "Plugin test " + name,
			Admins:      []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: signatories}},
			Assurance:   shcrv1alpha1.RegionAssurance{Panel: fixtures.AssurancePanel()},
		},
	})
	// The webhooks admit objects only into a namespace the region has
	// recorded as its own.
	WaitFor(t, "the region namespace recorded", func() (bool, string) {
		r := &shcrv1alpha1.ShCRRegion{}
		err := op.Client.Get(ctx, client.ObjectKey{Name: name}, r)
		return err == nil && r.Status.Namespace == shcrv1alpha1.NamespaceFor(name), fmt.Sprint(err, r.Status.Namespace)
	})
	// The region's assurance panel assures every IG Framework requirement,
	// as it must before the region shares.
	chair, err := op.As(fixtures.AssurancePanelChair, fixtures.AssurancePanelGroup)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.AssureRegion(ctx, chair, name, time.Now().AddDate(0, -1, 0), time.Now().AddDate(3, 0, 0)); err != nil {
		t.Fatalf("assuring region %s: %v", name, err)
	}
}

// Member is a member organisation of the scenario's region providing and
// consuming records, DSPT Standards Met two months ago.
func (s *Scenario) Member(name, ods string, kind shcrv1alpha1.OrganisationType) *shcrv1alpha1.MemberOrganisation {
	return fixtures.Member(s.Namespace, name, ods, kind)
}

// Agreement is a version of the scenario's agreement, with the three
// organisations as controllers and no approvals yet.
func (s *Scenario) Agreement(name string, version int32, categories []shcrv1alpha1.DataCategory, from, until time.Time) *shcrv1alpha1.DataSharingAgreement {
	return fixtures.Agreement(s.Namespace, name, s.AgreementID, version, categories, from, until, s.GP, s.Trust, s.Council)
}

// Approve records each controller's approval of an agreement, each by its
// Caldicott Guardian's own Kubernetes identity in the region's admin group.
func (s *Scenario) Approve(t *testing.T, name string) {
	t.Helper()
	for _, ods := range []string{s.GP, s.Trust, s.Council} {
		signer, err := op.As(Signer(ods), signatories)
		if err != nil {
			t.Fatal(err)
		}
		WaitFor(t, "approval by "+ods, func() (bool, string) {
			a := &shcrv1alpha1.DataSharingAgreement{}
			if err := op.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: name}, a); err != nil {
				return false, err.Error()
			}
			a.Spec.Approvals = append(a.Spec.Approvals, shcrv1alpha1.Approval{
				Organisation: ods, Signatory: "Caldicott Guardian of " + ods, Role: "CaldicottGuardian",
				Date: metav1.NewTime(time.Now().Truncate(time.Second)),
			})
			err := signer.Update(ctx, a)
			return err == nil, fmt.Sprint(err)
		})
	}
}

// Signer is the Kubernetes user of an organisation's Caldicott Guardian.
func Signer(ods string) string { return "caldicott@" + strings.ToLower(ods) }

// Policy is an AccessPolicy of the scenario's agreement.
func (s *Scenario) Policy(name string, roles, orgs []string, categories ...shcrv1alpha1.DataCategory) *shcrv1alpha1.AccessPolicy {
	return fixtures.AccessPolicy(s.Namespace, name, s.AgreementID, roles, orgs, categories...)
}

// WaitBundleGrants waits until the region's stored bundle holds n grants.
func (s *Scenario) WaitBundleGrants(t *testing.T, n int32) {
	t.Helper()
	WaitFor(t, fmt.Sprintf("a bundle of %d grants", n), func() (bool, string) {
		region := &shcrv1alpha1.ShCRRegion{}
		if err := op.Client.Get(ctx, client.ObjectKey{Name: s.Region}, region); err != nil {
			return false, err.Error()
		}
		return region.Status.PolicyBundle.Grants == n, fmt.Sprintf("%+v", region.Status.PolicyBundle)
	})
}

// Create creates an object as cluster admin.
func Create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := op.Client.Create(ctx, obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// WaitCondition waits until a condition of an object is True for its
// current generation.
func WaitCondition(t *testing.T, obj client.Object, ns, name, conditionType string) {
	t.Helper()
	WaitFor(t, fmt.Sprintf("%T %s/%s %s=True", obj, ns, name, conditionType), func() (bool, string) {
		if err := op.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(conditionsOf(obj), conditionType)
		if c == nil {
			return false, "not set"
		}
		return c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.GetGeneration(), c.Reason + ": " + c.Message
	})
}

func conditionsOf(obj client.Object) []metav1.Condition {
	switch o := obj.(type) {
	case *shcrv1alpha1.MemberOrganisation:
		return o.Status.Conditions
	case *shcrv1alpha1.AccessPolicy:
		return o.Status.Conditions
	}
	return nil
}

// WaitPhase waits until an agreement is in a phase.
func WaitPhase(t *testing.T, ns, name string, phase shcrv1alpha1.AgreementPhase) {
	t.Helper()
	WaitFor(t, fmt.Sprintf("agreement %s phase %s", name, phase), func() (bool, string) {
		a := &shcrv1alpha1.DataSharingAgreement{}
		if err := op.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, a); err != nil {
			return false, err.Error()
		}
		return a.Status.Phase == phase && a.Status.TermsHash != "", fmt.Sprintf("phase %s, terms hash %q", a.Status.Phase, a.Status.TermsHash)
	})
}
