/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package plugintest

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// AllButPreferences are the categories the scenario's agreement shares.
var AllButPreferences = testenv.AllButPreferences

// CareCategories are the categories the council's care workers are granted.
var CareCategories = testenv.CareCategories

// Scenario is the suites' shared onboarding (testenv.Scenario): a region
// with a GP practice, an acute trust and a council, agreement dsa-v1 and
// the clinicians' and care workers' policies.
type Scenario struct{ testenv.Scenario }

var ctx = context.Background()

// NewScenario onboards the scenario in a region and waits until its bundle
// is compiled; code is a letter that makes its ODS codes unique.
func NewScenario(t *testing.T, region, code string) *Scenario {
	t.Helper()
	s := &Scenario{*testenv.NewScenario(region, code)}
	op.Onboard(t, &s.Scenario, "Plugin test "+region, time.Now().AddDate(0, -1, 0), time.Now().AddDate(3, 0, 0))
	s.WaitBundleGrants(t, 2)
	return s
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
	op.Approve(t, &s.Scenario, name)
}

// Signer is the Kubernetes user of an organisation's Caldicott Guardian.
func Signer(ods string) string { return testenv.Signer(ods) }

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
	op.Create(t, obj)
}

// WaitCondition waits until a condition of an object is True for its
// current generation.
func WaitCondition(t *testing.T, obj client.Object, ns, name, conditionType string) {
	t.Helper()
	op.WaitCondition(t, obj, ns, name, conditionType, metav1.ConditionTrue)
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
