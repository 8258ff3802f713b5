/*
Copyright The shcr-operator Authors.
SPDX-License-Identifier: Apache-2.0
*/

package apply

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
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

// The Applier remembers, per object, the resourceVersion at which it wrote
// or checked it and the configuration it held there: objects of several
// kinds that share a namespace and name (a connector's) are told apart,
// and forgetting one keeps the others.
func TestAppliersMemoryOfVerifiedObjects(t *testing.T) {
	a := &Applier{}
	key := func(kind, ns, name string) objectKey {
		return objectKey{kind: schema.GroupKind{Group: "apps", Kind: kind}, namespace: ns, name: name}
	}
	h1, h2 := "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"
	deploy, cm, other := key("Deployment", "ns", "c"), key("ConfigMap", "ns", "c"), key("Deployment", "ns2", "c")
	a.remember(deploy, "1", h1, byApply)
	a.remember(cm, "2", h2, byApply)
	a.remember(other, "3", h1, byApply)
	a.remember(deploy, "4", h2, byApply)
	for _, tc := range []struct {
		key   objectKey
		rv    string
		known bool
		hash  string
	}{
		{deploy, "4", true, h2}, {deploy, "1", false, ""}, {cm, "2", true, h2}, {cm, "4", false, ""}, {other, "3", true, h1},
		{key("Service", "ns", "c"), "4", false, ""}, {deploy, "", false, ""},
	} {
		held, known := a.heldAt(tc.key, tc.rv)
		if known != tc.known || (known && held != hashKey(tc.hash)) {
			t.Errorf("%v at %q: known %v (%x), want %v (%s)", tc.key, tc.rv, known, held, tc.known, tc.hash)
		}
	}
	if hashKey(h1) == hashKey(h2) || hashKey(h1) == ([16]byte{}) {
		t.Errorf("hash keys do not tell hashes apart")
	}
	a.forget(deploy)
	if _, known := a.heldAt(deploy, "4"); known {
		t.Errorf("the forgotten Deployment is still known")
	}
	if _, known := a.heldAt(cm, "2"); !known {
		t.Errorf("forgetting the Deployment forgot the ConfigMap of the same name")
	}
	a.forget(cm)
	if _, ok := a.verified[nameOf(cm)]; ok {
		t.Errorf("an entry without kinds was kept")
	}
	a.remember(key("Deployment", "", "cluster-scoped"), "5", h1, byApply)
	if _, known := a.heldAt(key("Deployment", "", "cluster-scoped"), "5"); !known {
		t.Errorf("a cluster-scoped object was not remembered")
	}
}

// A resourceVersion is opaque: the Applier keeps those that spell a number
// as one, and any other as it came, and a version is known only at the
// very spelling it was remembered at, whichever way it was kept.
func TestAppliersMemoryKeepsResourceVersionsExactly(t *testing.T) {
	key := objectKey{kind: schema.GroupKind{Kind: "ConfigMap"}, namespace: "ns", name: "c"}
	h := "00112233445566778899aabbccddeeff"
	versions := []string{"1", "7", "07", "70", "0", "00", "-7", "+7", "7 ", "x7", "abc", "18446744073709551615",
		"18446744073709551616", "99999999999999999999", "123456789012345678901", "", "٣"}
	for _, remembered := range versions {
		a := &Applier{}
		a.remember(key, remembered, h, byApply)
		for _, asked := range versions {
			_, known := a.heldAt(key, asked)
			if want := asked == remembered && asked != ""; known != want {
				t.Errorf("remembered at %q, asked at %q: known %v, want %v", remembered, asked, known, want)
			}
		}
		a.remember(key, "42", h, byApply) // a number after any other spelling
		if _, known := a.heldAt(key, remembered); known && remembered != "42" {
			t.Errorf("remembered at %q then 42: still known at %q", remembered, remembered)
		}
		if _, known := a.heldAt(key, "42"); !known {
			t.Errorf("remembered at %q then 42: not known at 42", remembered)
		}
		if len(a.opaque) != 0 {
			t.Errorf("remembered at %q then 42: %d opaque versions kept", remembered, len(a.opaque))
		}
		a.forget(key)
		if len(a.verified) != 0 || len(a.opaque) != 0 {
			t.Errorf("forgotten, but %d entries and %d opaque versions kept", len(a.verified), len(a.opaque))
		}
	}
	n, ok := numericVersion("18446744073709551615")
	if !ok || n != 1<<64-1 {
		t.Errorf("the largest uint64 = %d, %v", n, ok)
	}
}

// Objects of more kinds than the Applier numbers are not remembered, and
// the others still are.
func TestAppliersMemoryBeyondItsKinds(t *testing.T) {
	a := &Applier{}
	h := "00112233445566778899aabbccddeeff"
	for i := range maxKinds + 3 {
		key := objectKey{kind: schema.GroupKind{Kind: fmt.Sprintf("Kind%d", i)}, namespace: "ns", name: "c"}
		a.remember(key, "5", h, byApply)
		_, known := a.heldAt(key, "5")
		if want := i < maxKinds; known != want {
			t.Fatalf("kind %d: known %v, want %v", i, known, want)
		}
	}
}

// Whether the operator's fields are all its Apply entry's follows the
// Applier's last write of the object, at any resourceVersion: a create
// leaves them with an Update entry until an apply, and a check that
// writes nothing changes neither.
func TestAppliersMemoryOfHowItLastWrote(t *testing.T) {
	a := &Applier{}
	key := objectKey{kind: schema.GroupKind{Kind: "ConfigMap"}, namespace: "ns", name: "c"}
	other := objectKey{kind: schema.GroupKind{Kind: "Service"}, namespace: "ns", name: "c"}
	h := "00112233445566778899aabbccddeeff"
	for i, step := range []struct {
		owner   ownership
		applied bool
	}{
		{keepOwnership, false}, // checked, never written: not known
		{byCreate, false},
		{keepOwnership, false},
		{byApply, true},
		{keepOwnership, true},
		{byCreate, false}, // deleted and created again
		{byApply, true},
	} {
		a.remember(key, fmt.Sprint(i+1), h, step.owner)
		if got := a.fieldsApplied(key); got != step.applied {
			t.Errorf("step %d (%v): fields applied %v, want %v", i, step.owner, got, step.applied)
		}
		if a.fieldsApplied(other) {
			t.Errorf("step %d: an object of another kind of the same name counts as applied", i)
		}
	}
	a.forget(key)
	if a.fieldsApplied(key) {
		t.Errorf("a forgotten object counts as applied")
	}
}
