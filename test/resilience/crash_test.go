/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package resilience

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
	"github.com/shcr-io/shcr-operator/internal/governance"
	"github.com/shcr-io/shcr-operator/test/testenv"
	"github.com/shcr-io/shcr-operator/test/writes"
)

// The operator crashes right after its k-th API write of an onboarding, for
// every k, and a restarted operator (a new manager, a new cache) converges
// on exactly what an uninterrupted onboarding makes: the same children, with
// the same contents, each controlled by its live owner, nothing orphaned or
// duplicated, the same conditions, and the same grants — and the bundle a
// crash leaves behind never allows what the agreement does not.
//
// Each k onboards a region of its own in one API server. The test creates
// the region first and the rest (credentials, organisations, the agreement
// and its approvals, the policy) the moment the operator has created the
// region's namespace — the admission policy admits them nowhere else —, as
// a GitOps tool retrying would: so a crash lands in the middle of the
// region's provisioning, of the organisations' admission, of the
// agreement's activation or of the policy's compilation, with the user's
// objects arriving before, during and after it. When the crash comes before
// the namespace exists, the rest is created once the restarted operator has
// made it.
func TestCrashAfterEveryWriteOfAnOnboardingConverges(t *testing.T) {
	c := startCluster(t)
	from := time.Now().Add(-time.Hour).Truncate(time.Second)
	until := from.AddDate(1, 0, 0)

	// An onboarding without a crash: how many writes it takes, and what it
	// makes.
	clean := newOnboarding(c, "clean", from, until)
	counter := &writes.Counter{}
	m := startManager(t, c, counter)
	clean.createRegion(t)
	testenv.WaitFor(t, "the clean region's namespace", 30*time.Second, func() (bool, string) { return clean.namespaceExists(t), "" })
	clean.createTheRest(t)
	clean.waitOnboarded(t)
	waitQuiet(t, counter)
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	total := counter.Count()
	want := clean.state(t)
	b, _ := clean.bundle(t)
	wantAllowed := allowed(b, time.Now())
	t.Logf("a clean onboarding takes %d writes and makes %d children and %d grants", total, len(want.Children), len(b.Grants))
	if d := diff(agreedScope(), wantAllowed); d != "" {
		t.Fatalf("the clean onboarding grants other than agreed:%s", d)
	}
	for _, child := range want.Children {
		// The agreement ledger is deliberately owned by no object: it lives
		// as long as the region namespace, never collected with the region.
		if child == "ConfigMap "+governance.LedgerName+" with no controller" {
			continue
		}
		// So is a provider record: it outlives its member (providerRecordLine).
		if strings.HasSuffix(child, " recording a live member") {
			continue
		}
		if !strings.Contains(child, " controlled by ") || strings.Contains(child, "does not exist") {
			t.Fatalf("in a clean onboarding every child has a live controller: %s", child)
		}
	}
	removeOnboarding(t, clean)

	for k := int64(1); k <= total; k++ {
		o := newOnboarding(c, fmt.Sprintf("crash-%03d", k), from, until)
		// passed counts the writes that got past the crash.
		passed := &writes.Counter{}
		first, err := c.StartManager(func(cl client.Client, stop func()) client.Client {
			return writes.CrashAfter(passed.Wrap(cl), k, stop)
		})
		if err != nil {
			t.Fatal(err)
		}
		o.createRegion(t)
		testenv.WaitFor(t, "the namespace or the crash", 30*time.Second, func() (bool, string) {
			return o.namespaceExists(t) || isClosed(first.Done()), ""
		})
		var second *testenv.Manager
		if !o.namespaceExists(t) {
			<-first.Done()
			second = startManager(t, c, &writes.Counter{})
			testenv.WaitFor(t, "the namespace after the restart", 30*time.Second, func() (bool, string) { return o.namespaceExists(t), "" })
		}
		o.createMembersAndAgreement(t)
		// Approvals need the signatories' grants, which the operator writes:
		// if the first manager crashed before it did, the second one does.
		testenv.WaitFor(t, fmt.Sprintf("k=%d: the signatories' grants or the crash", k), 30*time.Second, func() (bool, string) {
			return o.granted(t) || isClosed(first.Done()), ""
		})
		if !o.granted(t) && second == nil {
			<-first.Done()
			second = startManager(t, c, &writes.Counter{})
		}
		o.approveAndPolicy(t)
		// An onboarding's length varies by a few status writes, with the
		// order in which the controllers see each other's changes: one
		// may end before write k, and then has nothing left to crash on
		// (but it must be an onboarding, not a failure to crash).
		quiet := quietness(passed)
		testenv.WaitFor(t, fmt.Sprintf("k=%d: the crash", k), time.Minute, func() (bool, string) {
			if isClosed(first.Done()) {
				return true, ""
			}
			done, why := o.onboarded(t)
			return done && quiet(), why
		})
		if isClosed(first.Done()) {
			if passed.Count() != k {
				t.Fatalf("k=%d: %d writes reached the API server before the crash, want exactly %d", k, passed.Count(), k)
			}
		} else {
			if err := first.Stop(); err != nil {
				t.Fatal(err)
			}
			if n := passed.Count(); n >= k || n < total*4/5 {
				t.Fatalf("k=%d: the operator did not crash, and onboarded in %d writes (a clean onboarding took %d)", k, n, total)
			}
			t.Logf("k=%d: this onboarding took only %d writes: no crash", k, passed.Count())
		}
		if b, ok := o.bundle(t); ok {
			if extra := without(allowed(b, time.Now()), wantAllowed); len(extra) > 0 {
				t.Errorf("k=%d: the bundle left by the crash allows what the agreement does not: %v", k, extra)
			}
		}

		if second == nil {
			second = startManager(t, c, &writes.Counter{})
		}
		testenv.WaitFor(t, fmt.Sprintf("k=%d: the restarted operator converging", k), time.Minute, func() (bool, string) {
			d := want.diff(o.state(t))
			return d == "", d
		})
		if err := second.Stop(); err != nil {
			t.Fatal(err)
		}
		if d := want.diff(o.state(t)); d != "" {
			t.Errorf("k=%d: once the operator has stopped, the state differs from a clean onboarding's:%s", k, d)
		}
		removeOnboarding(t, o)
	}
}

// waitQuiet waits until the operator has made no write for two seconds.
func waitQuiet(t *testing.T, w *writes.Counter) {
	t.Helper()
	quiet := quietness(w)
	testenv.WaitFor(t, "the operator to stop writing", time.Minute, func() (bool, string) {
		return quiet(), fmt.Sprintf("%d writes so far", w.Count())
	})
}

// quietness returns a function that reports whether w has counted no write
// for two seconds.
func quietness(w *writes.Counter) func() bool {
	last, since := w.Count(), time.Now()
	return func() bool {
		if n := w.Count(); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) > 2*time.Second
	}
}

// agreedScope is what an onboarding's agreement and policy allow: the
// clinicians of both organisations read the granted categories from both.
func agreedScope() []string {
	var out []string
	for _, caller := range []string{gpCode, trustCode} {
		for _, category := range grantedCategories {
			for _, source := range []string{gpCode, trustCode} {
				out = append(out, fmt.Sprintf("%s R8000 reads %s from %s", caller, category, source))
			}
		}
	}
	return out
}

// removeOnboarding deletes the region and its custom resources with no
// operator running (a region's finalizer is dropped by hand), so that the
// next operator has nothing of them to reconcile and the ODS codes are free.
// envtest has no garbage collector: the children stay, ownerless.
func removeOnboarding(t *testing.T, o *onboarding) {
	t.Helper()
	ctx := context.Background()
	k8s := o.c.Client
	// An Active agreement is deleted only once suspended.
	agreements := &shcrv1alpha1.DataSharingAgreementList{}
	if err := k8s.List(ctx, agreements, client.InNamespace(o.ns)); err != nil {
		t.Fatal(err)
	}
	for i := range agreements.Items {
		a := &agreements.Items[i]
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"suspended":true,"suspensionReason":"test cleanup"}}`))
		if err := k8s.Patch(ctx, a, patch); err != nil {
			t.Fatal(err)
		}
	}
	for _, obj := range []client.Object{&shcrv1alpha1.AccessPolicy{}, &shcrv1alpha1.DataSharingAgreement{}, &shcrv1alpha1.MemberOrganisation{}} {
		if err := k8s.DeleteAllOf(ctx, obj, client.InNamespace(o.ns)); err != nil {
			t.Fatal(err)
		}
	}
	region := &shcrv1alpha1.ShCRRegion{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: o.region}, region); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Patch(ctx, region, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`))); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, &shcrv1alpha1.ShCRRegion{ObjectMeta: metav1.ObjectMeta{Name: o.region}}); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// without is what of got is not in want.
func without(got, want []string) []string {
	return slices.DeleteFunc(slices.Clone(got), func(s string) bool { return slices.Contains(want, s) })
}
