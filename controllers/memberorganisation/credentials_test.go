/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package memberorganisation

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shcrv1alpha1 "github.com/shcr-io/shcr-operator/api/v1alpha1"
)

// A good credentials check stands for less than credentialsOKFor, for the
// same object and spec only; forgetting it, a new spec, another object
// under the name, or a clock gone back all make the Secret read again.
func TestGoodCredentialsCheckStandsBriefly(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	m := &shcrv1alpha1.MemberOrganisation{ObjectMeta: metav1.ObjectMeta{Namespace: "shcr-r", Name: "gp", UID: "u1", Generation: 3}}
	var c credentialChecks
	if _, ok := c.recent(m, t0); ok {
		t.Fatal("a check never made stands")
	}
	c.found(m, "Secret gp holds client-id and client-secret", t0)
	if msg, ok := c.recent(m, t0.Add(credentialsOKFor-time.Second)); !ok || msg != "Secret gp holds client-id and client-secret" {
		t.Errorf("within the window: %q %v", msg, ok)
	}
	for name, check := range map[string]func() bool{
		"at the window's end":       func() bool { _, ok := c.recent(m, t0.Add(credentialsOKFor)); return ok },
		"before the check":          func() bool { _, ok := c.recent(m, t0.Add(-time.Second)); return ok },
		"a new spec":                func() bool { n := m.DeepCopy(); n.Generation++; _, ok := c.recent(n, t0); return ok },
		"another object, same name": func() bool { n := m.DeepCopy(); n.UID = "u2"; _, ok := c.recent(n, t0); return ok },
	} {
		if check() {
			t.Errorf("%s: the check still stands", name)
		}
	}
	c.forget(client.ObjectKeyFromObject(m))
	if _, ok := c.recent(m, t0); ok {
		t.Error("a forgotten check still stands")
	}
}
