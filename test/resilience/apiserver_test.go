/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package resilience

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/specs"
	"github.com/shcr-io/shcr-operator/test/fixtures"
	"github.com/shcr-io/shcr-operator/test/testenv"
	"github.com/shcr-io/shcr-operator/test/writes"
)

// The API server goes away in the middle of an onboarding, for long enough
// that every watch breaks and every write fails, and comes back on the same
// address with the same data. The same operator process, never restarted,
// finishes the onboarding and then follows what changes after: a new
// organisation and a new version of the agreement that takes it in and
// narrows what is shared.
func TestAPIServerOutageInTheMiddleOfAnOnboarding(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	counter := &writes.Counter{}
	// Slow writes make the onboarding last long enough for the outage to
	// come in the middle of it.
	m, err := c.StartManager(func(cl client.Client, _ func()) client.Client {
		return counter.Wrap(writes.Slow(cl, 100*time.Millisecond))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Stop() }()

	from := time.Now().Add(-time.Hour).Truncate(time.Second)
	o := newOnboarding(c, "outage", from, from.AddDate(1, 0, 0))
	o.createRegion(t)
	testenv.WaitFor(t, "the region's namespace", 30*time.Second, func() (bool, string) { return o.namespaceExists(t), "" })
	o.createTheRest(t)

	atStop := counter.Count()
	if done, _ := o.onboarded(t); done {
		t.Fatal("the onboarding was done before the outage")
	}
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	// Kept: the length of the outage the test needs (the operator must ride
	// out some seconds without an API server); it waits for nothing.
	time.Sleep(5 * time.Second)
	atRestart := counter.Count()
	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if isClosed(m.Done()) {
		t.Fatal("the operator exited during the outage")
	}
	o.waitOnboarded(t)
	waitAllowed(t, o, agreedScope())
	if counter.Count() == atRestart {
		t.Error("the operator made no write after the outage, though the onboarding was not done")
	}
	t.Logf("write attempts: %d before the outage, %d during it, %d after it", atStop, atRestart-atStop, counter.Count()-atRestart)

	// A third organisation joins, under a second version of the agreement
	// that shares Medications only.
	council := fixtures.Member(o.ns, "council", councilCode, "LocalAuthority")
	o.create(t, fixtures.Credentials(o.ns, council.Spec.Connector.CredentialsSecretRef.Name))
	o.create(t, council)
	v2 := fixtures.Agreement(o.ns, "dsa-v2", o.agreementID, 2, agreedCategories[:1], from, from.AddDate(1, 0, 0), gpCode, trustCode, councilCode)
	o.create(t, v2)
	for _, code := range []string{gpCode, trustCode, councilCode} {
		o.approve(t, v2.Name, code)
	}
	var medications []string
	for _, caller := range []string{gpCode, trustCode, councilCode} {
		for _, source := range []string{gpCode, trustCode, councilCode} {
			medications = append(medications, fmt.Sprintf("%s R8000 reads Medications from %s", caller, source))
		}
	}
	waitAllowed(t, o, medications)
	testenv.WaitFor(t, "v1 superseded", 30*time.Second, func() (bool, string) {
		v1 := &shcrv1alpha1.DataSharingAgreement{}
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: o.ns, Name: o.agreement}, v1); err != nil {
			return false, err.Error()
		}
		return v1.Status.Phase == shcrv1alpha1.PhaseSuperseded, string(v1.Status.Phase)
	})
	// The council provides once v2 is Active: its connector follows.
	connector := &appsv1.Deployment{}
	testenv.WaitFor(t, "the council's connector", 30*time.Second, func() (bool, string) {
		err := c.Client.Get(ctx, client.ObjectKey{Namespace: o.ns, Name: specs.ConnectorName(council)}, connector)
		return err == nil, fmt.Sprint(err)
	})
	if owner := metav1.GetControllerOf(connector); owner == nil || owner.Name != council.Name {
		t.Errorf("the council's connector is controlled by %v", owner)
	}
}

// waitAllowed waits until the region's bundle allows exactly want.
func waitAllowed(t *testing.T, o *onboarding, want []string) {
	t.Helper()
	testenv.WaitFor(t, "the bundle allowing "+fmt.Sprint(want), time.Minute, func() (bool, string) {
		b, _ := o.bundle(t)
		got := allowed(b, time.Now())
		return len(diff(want, got)) == 0, diff(want, got)
	})
}
