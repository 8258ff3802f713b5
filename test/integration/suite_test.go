/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

// Package integration runs the whole operator — every controller, the
// webhooks and the region-namespace admission policy — against a real
// kube-apiserver and etcd (envtest), and asserts on what an organisation's
// staff may see by deciding requests against the policy bundle read back
// from the cluster.
package integration

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/policy"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/testenv"
)

// faultRate is the share of the operator's writes that fail when the suite
// runs with SHCR_TEST_FAULTS=1.
const faultRate = 0.2

// maxReconcilesPerController bounds the reconciles one controller may run
// over the fault-injected scenarios: retrying with backoff converges, a hot
// loop would not stay under it.
const maxReconcilesPerController = 1500

// checkReconcilesBounded reports the reconciles each controller ran, from
// controller-runtime's own metric, and fails when one hot-looped.
func checkReconcilesBounded() int {
	totals := controllerMetric("controller_runtime_reconcile_total", "controller")
	if totals == nil {
		return 1 // the registry could not be read
	}
	code := 0
	for controller, n := range totals {
		fmt.Printf("reconciles with %.0f%% of writes failing: %s %.0f\n", faultRate*100, controller, n)
		if n > maxReconcilesPerController {
			fmt.Fprintf(os.Stderr, "controller %s ran %.0f reconciles, more than %d: a hot loop\n", controller, n, maxReconcilesPerController)
			code = 1
		}
	}
	return code
}

// controllerMetric sums a controller-runtime metric (a counter or a gauge)
// from the manager's registry by the value of label (the controller's name);
// nil when the registry cannot be read.
func controllerMetric(name, label string) map[string]float64 {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return nil
	}
	sums := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					sums[l.GetValue()] += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return sums
}

// The fixtures the scenarios are made of.
var (
	member       = fixtures.Member
	credentials  = fixtures.Credentials
	agreement    = fixtures.Agreement
	accessPolicy = fixtures.AccessPolicy
)

// signatories is the group of the people who sign agreements in the tests.
const signatories = testenv.Signatories

var (
	op  *testenv.Operator
	k8s client.Client
	ctx = context.Background()
)

// The ServiceAccount the operator runs as with SHCR_TEST_LEAST_PRIVILEGE=1.
const operatorNamespace, operatorServiceAccount = "shcr-operator-system", "shcr-operator-controller-manager"

// operatorIdentity is a client acting as the operator's own identity: the
// suite's admin client, or the operator's ServiceAccount when the operator
// runs as one.
func operatorIdentity(t *testing.T) client.Client {
	t.Helper()
	if os.Getenv("SHCR_TEST_LEAST_PRIVILEGE") != "1" {
		return k8s
	}
	c, err := op.As("system:serviceaccount:"+operatorNamespace+":"+operatorServiceAccount,
		"system:serviceaccounts", "system:serviceaccounts:"+operatorNamespace)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMain starts the operator as cluster admin, or, with
// SHCR_TEST_LEAST_PRIVILEGE=1 (make test runs the suite both ways), as a
// ServiceAccount holding exactly the RBAC the markers generate, proving the
// operator needs nothing more.
func TestMain(m *testing.M) {
	connectors := httptest.NewServer(connectorStatusHandler())
	defer connectors.Close()
	opts := []testenv.Option{testenv.WithConnectorStatusURL(func(m *shcrv1alpha1.MemberOrganisation) string {
		return connectors.URL + "/" + m.Namespace + "/" + m.Name + "/status"
	}), testenv.WithBreakGlassCountURL(breakGlassCountURL, 200*time.Millisecond), testenv.WithPurgeBound(purgeBound)}
	faults := os.Getenv("SHCR_TEST_FAULTS") == "1"
	if faults {
		opts = append(opts, testenv.WithFaults(faultRate))
	}
	if os.Getenv("SHCR_TEST_LEAST_PRIVILEGE") == "1" {
		opts = append(opts, testenv.AsServiceAccount(operatorNamespace, operatorServiceAccount))
	}
	var err error
	op, err = testenv.StartOperator(filepath.Join("..", ".."), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8s = op.Client
	if err := fixtures.CreateAssurancePanelRBAC(ctx, k8s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if faults && code == 0 {
		code = checkReconcilesBounded()
	}
	if err := op.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.WaitFor(t, what, 30*time.Second, cond)
}

// scenario is a region with three organisations — a GP practice, an acute
// trust and a council's social care — one direct-care agreement between them
// and two policies: clinicians (R8000) see every agreed category, council
// care staff (R8003) see four.
type scenario struct {
	region                  string
	ns                      string
	gp, trust, council      string // ODS codes
	agreementID             string
	clinicians, careWorkers string // AccessPolicy names
}

// allButPreferences are the categories the scenario's agreement shares.
var allButPreferences = testenv.AllButPreferences

// newScenario onboards a scenario in region name; code is a letter that
// makes its ODS codes unique in the cluster.
func newScenario(t *testing.T, name string, code string) *scenario {
	t.Helper()
	shared := testenv.NewScenario(name, code)
	return newScenarioWithCodes(t, name, shared.GP, shared.Trust, shared.Council)
}

// newScenarioWithCodes is newScenario with the organisations' ODS codes given.
func newScenarioWithCodes(t *testing.T, name, gp, trust, council string) *scenario {
	t.Helper()
	shared := testenv.NewScenario(name, "")
	shared.GP, shared.Trust, shared.Council = gp, trust, council
	op.Onboard(t, shared, "Integration "+name, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
	return &scenario{
		region: shared.Region, ns: shared.Namespace,
		gp: shared.GP, trust: shared.Trust, council: shared.Council,
		agreementID: shared.AgreementID, clinicians: shared.Clinicians, careWorkers: shared.CareWorkers,
	}
}

// createRegion creates a region whose independent assurance panel (the
// test panel group) has assured every IG Framework requirement from an
// hour ago for a year, as the region must be before it shares.
func createRegion(t *testing.T, name string) {
	t.Helper()
	op.CreateRegion(t, name, "Integration "+name, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
}

// assure records, as the assurance panel's chair, every requirement of a
// region Assured from from until review.
func assure(t *testing.T, region string, from, review time.Time) {
	t.Helper()
	chair := panelChair(t)
	if err := fixtures.AssureRegion(ctx, chair, region, from, review); err != nil {
		t.Fatalf("assuring region %s: %v", region, err)
	}
}

// panelChair is a client acting as the chair of the assurance panel.
func panelChair(t *testing.T) client.Client {
	t.Helper()
	chair, err := op.As(fixtures.AssurancePanelChair, fixtures.AssurancePanelGroup)
	if err != nil {
		t.Fatal(err)
	}
	return chair
}

// approve records each controller party's approval, each as its own
// Caldicott Guardian's Kubernetes identity, each sending a forged recordedBy
// that the webhook must replace.
func approve(t *testing.T, s *scenario, name string) {
	t.Helper()
	op.Approve(t, &testenv.Scenario{Namespace: s.ns, GP: s.gp, Trust: s.trust, Council: s.council}, name)
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	op.Create(t, obj)
}

func waitCondition(t *testing.T, obj client.Object, ns, name, conditionType string, status metav1.ConditionStatus) {
	t.Helper()
	op.WaitCondition(t, obj, ns, name, conditionType, status)
}

// update changes the object ns/name as a user's edit would: read, change,
// write, and again from a fresh read when the operator wrote the object in
// between (a finalizer, an annotation).
func update[T client.Object](t *testing.T, obj T, ns, name string, change func(T)) {
	t.Helper()
	if err := updateAs(k8s, obj, ns, name, change); err != nil {
		t.Fatalf("updating %T %s/%s: %v", obj, ns, name, err)
	}
}

// updateAs is update as the identity of c, giving the API server's answer
// (a refusal the test expects) instead of failing the test. Only a conflict
// with the operator's own write in between is tried again.
func updateAs[T client.Object](c client.Client, obj T, ns, name string, change func(T)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			return err
		}
		change(obj)
		return c.Update(ctx, obj)
	})
}

// updateStatus is update for an object's status subresource, as the
// kubelet or a workload controller writes it (envtest runs neither).
func updateStatus[T client.Object](t *testing.T, obj T, change func(T)) {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(ctx, key, obj); err != nil {
			return err
		}
		change(obj)
		return k8s.Status().Update(ctx, obj)
	})
	if err != nil {
		t.Fatalf("updating the status of %T %s: %v", obj, key, err)
	}
}

func getAgreement(t *testing.T, ns, name string) *shcrv1alpha1.DataSharingAgreement {
	t.Helper()
	a := &shcrv1alpha1.DataSharingAgreement{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, a); err != nil {
		t.Fatal(err)
	}
	return a
}

func waitPhase(t *testing.T, ns, name string, phase shcrv1alpha1.AgreementPhase) {
	t.Helper()
	op.WaitPhase(t, ns, name, phase)
}

// bundle reads the region's compiled policy bundle back from the cluster.
func bundle(t *testing.T, region string) policy.Bundle {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: shcrv1alpha1.NamespaceFor(region), Name: specs.PolicyBundleName}, cm); err != nil {
		t.Fatal(err)
	}
	b, err := policy.Decode([]byte(cm.Data[specs.PolicyBundleKey]))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// access is a request by a member of staff for a category of records that
// came from an organisation.
type access struct {
	caller, role, category, source string
}

func (a access) request() policy.Request {
	return policy.Request{
		CallerODS: a.caller, Role: a.role, PurposeOfUse: "TREAT", LegitimateRelationship: true,
		Action: "read", Category: a.category, SourceODS: a.source,
	}
}

// eventuallyDecides waits until the region's bundle, read from the cluster,
// decides the access as want at the given time (now when zero).
func eventuallyDecides(t *testing.T, region string, a access, want bool, at time.Time) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%+v allowed=%v", a, want), func() (bool, string) {
		now := at
		if now.IsZero() {
			now = time.Now()
		}
		d := policy.Decide(bundle(t, region), a.request(), now)
		return d.Allow == want, strings.Join(d.Reasons(), "; ")
	})
}

func decides(t *testing.T, region string, a access, now time.Time) policy.Decision {
	t.Helper()
	return policy.Decide(bundle(t, region), a.request(), now)
}
