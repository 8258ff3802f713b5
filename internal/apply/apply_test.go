/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package apply

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

func TestDifference(t *testing.T) {
	m := func(kv ...any) map[string]any {
		out := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	cases := []struct {
		name       string
		live, want any
		diff       string
	}{
		{"equal scalars", int64(2), int64(2), ""},
		{"changed scalar", int64(3), int64(2), " (3, want 2)"},
		{"server-defaulted field ignored", m("a", "x", "defaulted", true), m("a", "x"), ""},
		{"missing field", m("b", "y"), m("a", "x"), ".a"},
		{"empty wanted map may be absent", m(), m("labels", m()), ""},
		{"nested change", m("spec", m("replicas", int64(7))), m("spec", m("replicas", int64(2))), ".spec.replicas (7, want 2)"},
		{"element defaults ignored", []any{m("port", int64(80), "protocol", "TCP")}, []any{m("port", int64(80))}, ""},
		{"extra element is a difference", []any{"a", "b"}, []any{"a"}, "[len 1]"},
		{"removed element is a difference", []any{"a"}, []any{"a", "b"}, "[len 2]"},
		{"element changed", []any{m("name", "a"), m("name", "c")}, []any{m("name", "a"), m("name", "b")}, "[1].name (c, want b)"},
		{"empty lists", nil, []any{}, ""},
		{"type change", "1", int64(1), " (1, want 1)"},
	}
	for _, tc := range cases {
		if got := Difference(tc.live, tc.want); got != tc.diff {
			t.Errorf("%s: Difference = %q, want %q", tc.name, got, tc.diff)
		}
	}
}

// The Applier remembers a resourceVersion per object: objects of several
// kinds that share a namespace and name (a connector's) are told apart,
// and forgetting one keeps the others.
func TestAppliersMemoryOfVerifiedObjects(t *testing.T) {
	a := &Applier{}
	key := func(kind, ns, name string) objectKey {
		return objectKey{kind: schema.GroupKind{Group: "apps", Kind: kind}, namespace: ns, name: name}
	}
	deploy, cm, other := key("Deployment", "ns", "c"), key("ConfigMap", "ns", "c"), key("Deployment", "ns2", "c")
	a.remember(deploy, "1")
	a.remember(cm, "2")
	a.remember(other, "3")
	a.remember(deploy, "4")
	for _, tc := range []struct {
		key  objectKey
		rv   string
		want bool
	}{
		{deploy, "4", true}, {deploy, "1", false}, {cm, "2", true}, {cm, "4", false}, {other, "3", true},
		{key("Service", "ns", "c"), "4", false}, {deploy, "", false},
	} {
		if got := a.isVerified(tc.key, tc.rv); got != tc.want {
			t.Errorf("%v at %q: verified %v, want %v", tc.key, tc.rv, got, tc.want)
		}
	}
	a.forget(deploy)
	if a.isVerified(deploy, "4") || !a.isVerified(cm, "2") {
		t.Errorf("forgetting the Deployment: Deployment verified %v, ConfigMap %v", a.isVerified(deploy, "4"), a.isVerified(cm, "2"))
	}
	a.forget(cm)
	if _, ok := a.verified[types.NamespacedName{Namespace: "ns", Name: "c"}]; ok {
		t.Errorf("an entry without kinds was kept")
	}
	a.remember(key("Deployment", "", "cluster-scoped"), "5")
	if !a.isVerified(key("Deployment", "", "cluster-scoped"), "5") {
		t.Errorf("a cluster-scoped object was not remembered")
	}
}
